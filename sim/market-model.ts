// Synthetic markets for the simulated exchange: prices with regimes (trend, reversion, quiet), trades, 24h stats, candles, a sequenced order book.

export interface SymbolSpec {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  price: number;
  tickSize: number;
  stepSize: number;
  status: 'TRADING' | 'BREAK';
}

const spec = (symbol: string, price: number, tickSize: number, stepSize: number, status: SymbolSpec['status'] = 'TRADING'): SymbolSpec => ({
  symbol,
  baseAsset: symbol.replace(/USDT$/, ''),
  quoteAsset: 'USDT',
  price,
  tickSize,
  stepSize,
  status,
});

/** The protocol guide's 8 symbols first, then more for benchmarks, then one that is listed but not trading. */
export const DEFAULT_SYMBOLS: SymbolSpec[] = [
  spec('BTCUSDT', 97_500, 0.01, 0.00001),
  spec('ETHUSDT', 3_650, 0.01, 0.0001),
  spec('BNBUSDT', 690, 0.01, 0.001),
  spec('SOLUSDT', 235, 0.01, 0.001),
  spec('XRPUSDT', 2.35, 0.0001, 0.1),
  spec('DOGEUSDT', 0.41, 0.00001, 1),
  spec('ADAUSDT', 1.08, 0.0001, 0.1),
  spec('AVAXUSDT', 51.2, 0.01, 0.01),
  spec('LTCUSDT', 118, 0.01, 0.001),
  spec('DOTUSDT', 9.4, 0.001, 0.01),
  spec('LINKUSDT', 24.6, 0.01, 0.01),
  spec('TRXUSDT', 0.31, 0.0001, 0.1),
  spec('ATOMUSDT', 9.8, 0.001, 0.01),
  spec('UNIUSDT', 17.2, 0.001, 0.01),
  spec('ETCUSDT', 34.5, 0.01, 0.01),
  spec('XLMUSDT', 0.45, 0.0001, 0.1),
  spec('NEARUSDT', 7.1, 0.001, 0.1),
  spec('APTUSDT', 12.9, 0.001, 0.01),
  spec('FILUSDT', 7.3, 0.001, 0.01),
  spec('ARBUSDT', 1.12, 0.0001, 0.1),
  spec('OPUSDT', 2.6, 0.001, 0.01),
  spec('INJUSDT', 38.2, 0.01, 0.01),
  spec('SUIUSDT', 4.3, 0.0001, 0.1),
  spec('PEPEUSDT', 0.00002, 0.00000001, 1),
  spec('LUNAUSDT', 0.5, 0.0001, 0.01, 'BREAK'),
];

export const KLINE_INTERVALS = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w', '1M'] as const;
export type KlineInterval = (typeof KLINE_INTERVALS)[number];

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;
const FIXED_MS: Record<string, number> = {
  '1s': S, '1m': MIN, '3m': 3 * MIN, '5m': 5 * MIN, '15m': 15 * MIN, '30m': 30 * MIN,
  '1h': H, '2h': 2 * H, '4h': 4 * H, '6h': 6 * H, '8h': 8 * H, '12h': 12 * H, '1d': D, '3d': 3 * D,
};
/** 1970-01-01 was a Thursday; Binance weeks open on Monday 00:00 UTC. */
const WEEK_OFFSET = 4 * D;

export function isKlineInterval(i: string): i is KlineInterval {
  return (KLINE_INTERVALS as readonly string[]).includes(i);
}

/** Open and close time (inclusive, ms) of the candle containing `t`. */
export function candleBounds(interval: KlineInterval, t: number): [number, number] {
  if (interval === '1M') {
    const d = new Date(t);
    const open = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    return [open, next - 1];
  }
  if (interval === '1w') {
    const open = Math.floor((t - WEEK_OFFSET) / (7 * D)) * 7 * D + WEEK_OFFSET;
    return [open, open + 7 * D - 1];
  }
  const ms = FIXED_MS[interval]!;
  const open = Math.floor(t / ms) * ms;
  return [open, open + ms - 1];
}

export interface Candle {
  openTime: number;
  closeTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quoteVolume: number;
  trades: number;
  takerBuyBase: number;
  takerBuyQuote: number;
  firstTradeId: number;
  lastTradeId: number;
}

export interface Trade {
  id: number;
  price: number;
  qty: number;
  time: number;
  buyerIsMaker: boolean;
}

/** Diff of one book update, as Binance's depthUpdate carries it: absolute quantities, 0 removes a level. */
export interface BookDiff {
  firstUpdateId: number;
  finalUpdateId: number;
  bids: Array<[number, number]>;
  asks: Array<[number, number]>;
}

const BOOK_LEVELS = 120;
/** Closed candles kept per interval: REST serves up to 1000, and the first request of an interval backfills to this. */
const HISTORY_LIMIT = 1100;

/**
 * The price process has regimes, so that a model trained on the simulator's candles has something to learn (real
 * markets have no such guarantee): a trend (a steady drift one way, higher volume), a reversion toward the recent
 * mean, or a quiet spell (low volatility). Each lasts an exponentially distributed time (mean 4 minutes). Every
 * rate is per unit of time, not per trade, so candles of any interval and any trade rate have the same dynamics.
 */
export type Regime = 'trend' | 'revert' | 'quiet';
const REGIME_MEAN_MS = 240_000;
/** Noise: a uniform step of ±0.04 % of the price per 200 ms (about 0.4 % per minute), scaled per regime. */
const NOISE_PER_200MS = 0.0008;
const REGIME_VOL: Record<Regime, number> = { trend: 1.2, revert: 1, quiet: 0.5 };
/** Trend drift: 0.15 % of the price per minute. */
const TREND_PER_MS = 0.0015 / 60_000;
/** Reversion pulls toward a 2-minute moving mean with a 2-minute time constant. */
const REVERT_TAU_MS = 120_000;
const ANCHOR_TAU_MS = 120_000;
/** Every regime is pulled back to the symbol's base price (time constant about 7 minutes): prices stay plausible. */
const BASE_TAU_MS = 400_000;
const TRADES_LIMIT = 1000;

/** Small, seedable PRNG (mulberry32): runs are reproducible with a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SymbolMarket {
  readonly spec: SymbolSpec;
  price: number;
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  private readonly priceScale: number;
  /** 24h window, synthetic: starts when the simulator starts. */
  readonly openPrice: number;
  high: number;
  low: number;
  volume = 0;
  quoteVolume = 0;
  tradeCount = 0;
  firstTradeId: number;
  nextTradeId: number;
  lastQty = 0;
  readonly openedAt: number;
  readonly recentTrades: Trade[] = [];
  readonly candles = new Map<KlineInterval, Candle>();
  readonly history = new Map<KlineInterval, Candle[]>();
  /** Closed candles not yet announced on the kline streams. */
  readonly closedQueue = new Map<KlineInterval, Candle[]>();
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  lastUpdateId: number;
  /** Update ids to skip before the next diff (fault control). */
  private pendingGap = 0;
  /** For tests: the top of the book after each update, by update id (the last few hundred). */
  readonly bookHistory = new Map<number, { bids: Array<[number, number]>; asks: Array<[number, number]> }>();
  recordBookTop = 0;
  regime: Regime = 'quiet';
  /** The exchange's trade rate for this symbol: backfilled candles carry the volume it would have made. */
  tradesPerSecond = 5;
  private trendDir = 1;
  private regimeEndsAt = 0;
  /** Moving mean of the price that the reversion regime pulls toward. */
  private anchor: number;
  private lastTradeAt: number;
  private readonly intervals: readonly KlineInterval[];

  /** `intervals`: the candles kept (all by default; a training run keeps one). */
  constructor(spec: SymbolSpec, private readonly rand: () => number, now: number, intervals: readonly KlineInterval[] = KLINE_INTERVALS) {
    this.spec = spec;
    this.price = spec.price;
    this.openPrice = spec.price;
    this.high = spec.price;
    this.low = spec.price;
    this.priceDecimals = decimals(spec.tickSize);
    this.qtyDecimals = decimals(spec.stepSize);
    this.priceScale = 10 ** this.priceDecimals;
    this.openedAt = now;
    // Ids that keep growing across simulator restarts, as real exchange ids do.
    this.firstTradeId = Math.floor(now / 10);
    this.nextTradeId = this.firstTradeId;
    this.lastUpdateId = Math.floor(now / 10);
    this.anchor = this.price;
    this.lastTradeAt = now;
    this.intervals = intervals;
    for (const i of intervals) this.candles.set(i, this.newCandle(i, now, this.price));
    this.fillBook(new Map(), new Map());
  }

  fmtPrice(p: number): string {
    return p.toFixed(this.priceDecimals);
  }

  fmtQty(q: number): string {
    return q.toFixed(this.qtyDecimals);
  }

  private ticks(p: number): number {
    return Math.round(p / this.spec.tickSize);
  }

  private fromTicks(t: number): number {
    return Math.round(t * this.spec.tickSize * this.priceScale) / this.priceScale;
  }

  private newCandle(interval: KlineInterval, t: number, price: number): Candle {
    const [openTime, closeTime] = candleBounds(interval, t);
    return { openTime, closeTime, open: price, high: price, low: price, close: price, volume: 0, quoteVolume: 0, trades: 0, takerBuyBase: 0, takerBuyQuote: 0, firstTradeId: -1, lastTradeId: -1 };
  }

  private randomQty(): number {
    // Orders of roughly $20 to $5000 notional (half as much again in a trend), rounded to the symbol's lot step.
    const step = this.spec.stepSize;
    const notional = 20 * Math.exp(this.rand() * Math.log(250)) * (this.regime === 'trend' ? 1.5 : 1);
    const units = Math.max(1, Math.round(notional / this.price / step));
    const scale = 10 ** this.qtyDecimals;
    return Math.round(units * step * scale) / scale;
  }

  private nextRegime(now: number): void {
    const u = this.rand();
    this.regime = u < 0.4 ? 'trend' : u < 0.75 ? 'revert' : 'quiet';
    this.trendDir = this.rand() < 0.5 ? -1 : 1;
    this.regimeEndsAt = now - Math.log(1 - this.rand()) * REGIME_MEAN_MS;
  }

  /** One trade: the price takes a step (noise and the regime's drift, rounded to ticks), stats and candles follow. */
  trade(now: number): Trade {
    this.rollCandles(now);
    if (now >= this.regimeEndsAt) this.nextRegime(now);
    const tick = this.spec.tickSize;
    const dt = Math.max(0, now - this.lastTradeAt);
    this.lastTradeAt = now;
    const p = this.price;
    this.anchor += (p - this.anchor) * (1 - Math.exp(-dt / ANCHOR_TAU_MS));
    let drift = (this.openPrice - p) * (1 - Math.exp(-dt / BASE_TAU_MS));
    if (this.regime === 'trend') drift += this.trendDir * p * TREND_PER_MS * dt;
    else if (this.regime === 'revert') drift += (this.anchor - p) * (1 - Math.exp(-dt / REVERT_TAU_MS));
    const noise = (this.rand() - 0.5) * p * NOISE_PER_200MS * Math.sqrt(dt / 200) * REGIME_VOL[this.regime];
    this.price = Math.max(tick, this.fromTicks(this.ticks(p + noise + drift)));
    const qty = this.randomQty();
    const buyerIsMaker = this.rand() < 0.5;
    const t: Trade = { id: this.nextTradeId++, price: this.price, qty, time: now, buyerIsMaker };
    this.high = Math.max(this.high, t.price);
    this.low = Math.min(this.low, t.price);
    this.volume += qty;
    this.quoteVolume += qty * t.price;
    this.tradeCount++;
    this.lastQty = qty;
    this.recentTrades.push(t);
    // Trimmed in batches: one splice per TRADES_LIMIT trades, not one per trade.
    if (this.recentTrades.length >= 2 * TRADES_LIMIT) this.recentTrades.splice(0, this.recentTrades.length - TRADES_LIMIT);
    for (const c of this.candles.values()) {
      if (c.trades === 0) {
        c.open = c.high = c.low = t.price;
        c.firstTradeId = t.id;
      }
      c.high = Math.max(c.high, t.price);
      c.low = Math.min(c.low, t.price);
      c.close = t.price;
      c.volume += qty;
      c.quoteVolume += qty * t.price;
      c.trades++;
      c.lastTradeId = t.id;
      if (!buyerIsMaker) {
        c.takerBuyBase += qty;
        c.takerBuyQuote += qty * t.price;
      }
    }
    return t;
  }

  /**
   * Closes every candle whose period ended before `now`; closed ones go to history and to the announcement queue.
   * Periods without a trade in between (a late timer, a stalled process) close as empty candles at the last price,
   * as Binance's do, so the candles stay consecutive; after a gap longer than the history, it starts at `now`.
   */
  rollCandles(now: number): void {
    for (const [interval, first] of this.candles) {
      let c = first;
      if (now <= c.closeTime) continue;
      const hist = this.history.get(interval) ?? [];
      const q = this.closedQueue.get(interval) ?? [];
      for (let n = 0; now > c.closeTime; n++) {
        hist.push(c);
        q.push(c);
        c = this.newCandle(interval, n < HISTORY_LIMIT ? c.closeTime + 1 : now, c.close);
      }
      if (hist.length > HISTORY_LIMIT) hist.splice(0, hist.length - HISTORY_LIMIT);
      this.history.set(interval, hist);
      if (q.length > 10) q.splice(0, q.length - 10);
      this.closedQueue.set(interval, q);
      this.candles.set(interval, c);
    }
  }

  takeClosed(interval: KlineInterval): Candle[] {
    const q = this.closedQueue.get(interval);
    if (!q || q.length === 0) return [];
    this.closedQueue.set(interval, []);
    return q;
  }

  /**
   * Candles for REST: closed ones, then the open one. The first request of an interval backfills its history to
   * HISTORY_LIMIT with candles simulated by the same price process (trade ids -1), scaled to end where the real ones
   * begin; the history then rolls, so two requests always see one continuous, unchanging past.
   */
  klines(interval: KlineInterval, limit: number, startTime?: number, endTime?: number): Candle[] {
    if (!this.candles.has(interval)) return [];
    const hist = this.history.get(interval) ?? [];
    if (!this.backfilled.has(interval)) {
      this.backfilled.add(interval);
      const missing = HISTORY_LIMIT - hist.length;
      const first = hist[0] ?? this.candles.get(interval)!;
      if (missing > 0) hist.unshift(...this.backfill(interval, missing, first));
      this.history.set(interval, hist);
    }
    const all = [...hist, this.candles.get(interval)!];
    return all.filter((c) => (startTime === undefined || c.openTime >= startTime) && (endTime === undefined || c.openTime <= endTime)).slice(-limit);
  }

  private readonly backfilled = new Set<KlineInterval>();

  private backfill(interval: KlineInterval, count: number, next: Candle): Candle[] {
    // Seeded by symbol and interval: a restarted simulator tells the same past.
    let seed = 7919;
    for (const ch of `${this.spec.symbol}:${interval}`) seed = Math.imul(seed ^ ch.charCodeAt(0), 16777619);
    const [firstOpen] = candleBounds(interval, next.openTime - 1);
    // Enough candles back in time that the last one ends right before `next`.
    let start = firstOpen;
    for (let i = 1; i < count; i++) start = candleBounds(interval, start - 1)[0];
    const sim = simulateCandles({ ...this.spec, status: 'TRADING' }, interval, count, seed, start, this.tradesPerSecond);
    const scale = next.open / sim.at(-1)!.close;
    const px = (p: number) => Number((p * scale).toFixed(this.priceDecimals)) || this.spec.tickSize;
    return sim.map((c) => ({ ...c, open: px(c.open), high: px(c.high), low: px(c.low), close: px(c.close), quoteVolume: c.quoteVolume * scale, takerBuyQuote: c.takerBuyQuote * scale, firstTradeId: -1, lastTradeId: -1 }));
  }

  /** Asks for a sequence gap: the next diff's first id jumps, and the skipped updates do change the book. */
  injectGap(updates: number): void {
    this.pendingGap += updates;
  }

  /** Moves the book toward the current price and jitters a few levels; returns the diff (or undefined if nothing changed). */
  bookStep(): BookDiff | undefined {
    if (this.pendingGap > 0) {
      // The skipped updates happen but nobody hears of them: a client that ignores the gap has a wrong book.
      const hidden = { bids: new Map<number, number>(), asks: new Map<number, number>() };
      this.jitter(hidden.bids, hidden.asks, 3);
      this.lastUpdateId += this.pendingGap;
      this.pendingGap = 0;
    }
    const changedBids = new Map<number, number>();
    const changedAsks = new Map<number, number>();
    this.fillBook(changedBids, changedAsks);
    this.jitter(changedBids, changedAsks, 1 + Math.floor(this.rand() * 4));
    const n = changedBids.size + changedAsks.size;
    if (n === 0) return undefined;
    const first = this.lastUpdateId + 1;
    this.lastUpdateId += n;
    if (this.recordBookTop > 0) {
      this.bookHistory.set(this.lastUpdateId, this.topOfBook(this.recordBookTop));
      if (this.bookHistory.size > 600) this.bookHistory.delete(this.bookHistory.keys().next().value!);
    }
    return {
      firstUpdateId: first,
      finalUpdateId: this.lastUpdateId,
      bids: [...changedBids].map(([t, q]) => [this.fromTicks(t), q]),
      asks: [...changedAsks].map(([t, q]) => [this.fromTicks(t), q]),
    };
  }

  private setLevel(side: Map<number, number>, changes: Map<number, number>, t: number, qty: number): void {
    if (qty === 0) {
      if (!side.delete(t)) return;
    } else {
      side.set(t, qty);
    }
    changes.set(t, qty);
  }

  /** Keeps bids below and asks above the last price, BOOK_LEVELS deep, and drops levels that fell far away. */
  private fillBook(changedBids: Map<number, number>, changedAsks: Map<number, number>): void {
    const mid = this.ticks(this.price);
    for (const t of [...this.bids.keys()]) if (t >= mid || t < mid - BOOK_LEVELS * 2) this.setLevel(this.bids, changedBids, t, 0);
    for (const t of [...this.asks.keys()]) if (t <= mid || t > mid + BOOK_LEVELS * 2) this.setLevel(this.asks, changedAsks, t, 0);
    for (let k = 1; k <= BOOK_LEVELS; k++) {
      if (!this.bids.has(mid - k) && this.rand() < 0.9) this.setLevel(this.bids, changedBids, mid - k, this.randomQty());
      if (!this.asks.has(mid + k) && this.rand() < 0.9) this.setLevel(this.asks, changedAsks, mid + k, this.randomQty());
    }
  }

  private jitter(changedBids: Map<number, number>, changedAsks: Map<number, number>, count: number): void {
    const mid = this.ticks(this.price);
    for (let i = 0; i < count; i++) {
      const bid = this.rand() < 0.5;
      const k = 1 + Math.floor(this.rand() * 20);
      const t = bid ? mid - k : mid + k;
      const qty = this.rand() < 0.15 ? 0 : this.randomQty();
      this.setLevel(bid ? this.bids : this.asks, bid ? changedBids : changedAsks, t, qty);
    }
  }

  /** Top of the book: bids descending, asks ascending, as [price, qty] numbers. */
  topOfBook(limit: number): { bids: Array<[number, number]>; asks: Array<[number, number]> } {
    const bids = [...this.bids].sort((a, b) => b[0] - a[0]).slice(0, limit).map(([t, q]) => [this.fromTicks(t), q] as [number, number]);
    const asks = [...this.asks].sort((a, b) => a[0] - b[0]).slice(0, limit).map(([t, q]) => [this.fromTicks(t), q] as [number, number]);
    return { bids, asks };
  }
}

/**
 * `count` consecutive candles of one interval from the simulator's price process, with the first opening at
 * `startTime` (aligned to the interval): what the simulated exchange would have served at `tradesPerSecond`.
 * Trades are spread evenly, at most 60 per candle (the process's rates are per unit of time, so fewer trades give
 * the same price dynamics); volumes and trade counts are scaled to what `tradesPerSecond` trades would have made.
 */
export function simulateCandles(spec: SymbolSpec, interval: KlineInterval, count: number, seed: number, startTime = Date.UTC(2024, 0, 1), tradesPerSecond = 5): Candle[] {
  const [open0, close0] = candleBounds(interval, startTime);
  const market = new SymbolMarket(spec, prng(seed), open0, [interval]);
  const out: Candle[] = [];
  let [openTime, closeTime] = [open0, close0];
  while (out.length < count) {
    const span = closeTime + 1 - openTime;
    const real = (span / 1000) * tradesPerSecond;
    const trades = Math.max(1, Math.min(60, Math.round(real)));
    for (let i = 0; i < trades; i++) market.trade(openTime + Math.floor(((i + 0.5) * span) / trades));
    market.rollCandles(closeTime + 1);
    const scale = real / trades;
    for (const c of market.takeClosed(interval)) {
      out.push(scale === 1 ? c : { ...c, volume: c.volume * scale, quoteVolume: c.quoteVolume * scale, takerBuyBase: c.takerBuyBase * scale, takerBuyQuote: c.takerBuyQuote * scale, trades: Math.max(1, Math.round(c.trades * scale)) });
    }
    [openTime, closeTime] = candleBounds(interval, closeTime + 1);
  }
  return out.slice(0, count);
}

function decimals(step: number): number {
  const s = step.toString();
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}
