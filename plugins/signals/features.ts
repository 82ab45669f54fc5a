// The signal features: an incremental vector over closed candles, O(1) per candle, the same code live, in history and in training.

/** A closed candle, as much of it as the features read. */
export interface FeatureCandle {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Extra live inputs at a candle's close that klines do not carry. */
export interface FeatureExtras {
  /** (bid qty − ask qty) / (bid qty + ask qty) over the book's top levels, in [−1, 1]. */
  bookImbalance?: number;
}

/** Every feature the pipeline computes, with what it is. A model names the ones it takes, in its order. */
export const FEATURES = {
  return_1: 'log return of the last candle: ln(close / previous close)',
  return_5: 'log return over the last 5 candles',
  return_15: 'log return over the last 15 candles',
  volatility_15: 'realised volatility: root mean square of the last 15 one-candle log returns',
  rsi_14: 'RSI over the last 14 changes, scaled to [−1, 1] (RSI / 50 − 1; 0 when no close changed), with each change taken relative to its previous close (scale-free across symbols)',
  volume_z_20: 'z-score of the candle\'s volume against the last 20 volumes (0 when they are all equal)',
  range_1: 'log of the candle\'s high / low',
  close_position: 'where the close sits in the candle\'s range, −1 (low) to 1 (high); 0 for a flat candle',
  book_imbalance: 'order-book imbalance of the top 20 levels at the candle close, [−1, 1] (live only: klines carry no book)',
} as const;

export type FeatureName = keyof typeof FEATURES;
export const FEATURE_NAMES = Object.keys(FEATURES) as FeatureName[];
/** Features computed from klines alone (the history endpoint and training can compute them). */
export const KLINE_FEATURES: readonly FeatureName[] = FEATURE_NAMES.filter((f) => f !== 'book_imbalance');

export function isFeatureName(name: string): name is FeatureName {
  return Object.hasOwn(FEATURES, name);
}

/** Candles a pipeline must see before its first vector (the longest window, 20 volumes, and 15 returns need 16 closes). */
export const WARMUP_CANDLES = 20;

/**
 * A fixed-size window with a running sum and sum of squares. The sums are recomputed from the window whenever the
 * candle's index is a multiple of the window size, so rounding does not drift over a long run, and two pipelines that
 * saw the same last candles hold bit-identical sums whatever their age (live and history agree exactly).
 */
class RollingWindow {
  private readonly values: Float64Array;
  private next = 0;
  count = 0;
  sum = 0;
  sumSq = 0;

  constructor(readonly size: number) {
    this.values = new Float64Array(size);
  }

  push(v: number, index: number): void {
    if (this.count === this.size) {
      const old = this.values[this.next]!;
      this.sum -= old;
      this.sumSq -= old * old;
    } else {
      this.count++;
    }
    this.values[this.next] = v;
    this.next = (this.next + 1) % this.size;
    this.sum += v;
    this.sumSq += v * v;
    if (index % this.size === 0) this.resum();
  }

  /** Sums the window oldest first, so the result depends on the values alone, not on where the ring started. */
  private resum(): void {
    let s = 0;
    let q = 0;
    const start = this.count === this.size ? this.next : 0;
    for (let i = 0; i < this.count; i++) {
      const v = this.values[(start + i) % this.size]!;
      s += v;
      q += v * v;
    }
    this.sum = s;
    this.sumSq = q;
  }

  /** The value pushed `back` pushes ago (0: the last one). */
  at(back: number): number {
    return this.values[(this.next - 1 - back + this.size * 2) % this.size]!;
  }
}

const INTERVAL_MS: Record<string, number> = {
  '1s': 1_000, '1m': 60_000, '3m': 180_000, '5m': 300_000, '15m': 900_000, '30m': 1_800_000,
  '1h': 3_600_000, '2h': 7_200_000, '4h': 14_400_000, '6h': 21_600_000, '8h': 28_800_000, '12h': 43_200_000,
  '1d': 86_400_000, '3d': 259_200_000, '1w': 604_800_000,
};

/** Length of a candle of a fixed-length interval in ms (undefined for 1M, whose months differ). */
export function intervalMs(interval: string): number | undefined {
  return INTERVAL_MS[interval];
}

/** A candle's position in its interval's sequence (consecutive candles have consecutive indexes). */
export function candleIndex(interval: string, openTime: number): number {
  if (interval === '1M') {
    const d = new Date(openTime);
    return d.getUTCFullYear() * 12 + d.getUTCMonth();
  }
  const ms = INTERVAL_MS[interval];
  if (ms === undefined) throw new Error(`unknown kline interval "${interval}"`);
  return Math.round(openTime / ms);
}

/**
 * The feature vector of a symbol's candles of one interval. `push` each closed candle in order; it returns the
 * vector for that candle (in the order of `names`) once WARMUP_CANDLES candles were seen, undefined before.
 */
export class FeaturePipeline {
  private readonly closes = new RollingWindow(16);
  private readonly returns = new RollingWindow(15);
  /** Gains and losses of the last 14 close-to-close changes. */
  private readonly gains = new RollingWindow(14);
  private readonly losses = new RollingWindow(14);
  private readonly volumes = new RollingWindow(20);
  private seen = 0;
  private lastOpenTime = -Infinity;
  private readonly compute: Array<(c: FeatureCandle, x: FeatureExtras) => number>;

  constructor(readonly names: readonly FeatureName[], readonly interval: string) {
    this.compute = names.map((n) => this.featureFn(n));
    candleIndex(interval, 0);
  }

  /** Candles pushed so far. */
  get count(): number {
    return this.seen;
  }

  get ready(): boolean {
    return this.seen >= WARMUP_CANDLES;
  }

  /** Open time of the last candle pushed (−Infinity before the first). */
  get lastCandleTime(): number {
    return this.lastOpenTime;
  }

  push(c: FeatureCandle, extras: FeatureExtras = {}, out?: Float32Array): Float32Array | undefined {
    if (c.openTime <= this.lastOpenTime) throw new Error(`candle ${c.openTime} is not after the last one (${this.lastOpenTime})`);
    for (const [k, v] of [['open', c.open], ['high', c.high], ['low', c.low], ['close', c.close]] as const) {
      if (!(v > 0) || !Number.isFinite(v)) throw new Error(`candle ${c.openTime}: ${k} must be a positive number, got ${v}`);
    }
    if (!(c.volume >= 0) || !Number.isFinite(c.volume)) throw new Error(`candle ${c.openTime}: volume must be a number ≥ 0, got ${c.volume}`);
    const index = candleIndex(this.interval, c.openTime);
    if (this.closes.count > 0) {
      const prev = this.closes.at(0);
      const r = Math.log(c.close / prev);
      this.returns.push(r, index);
      const change = c.close - prev;
      this.gains.push(change > 0 ? change / prev : 0, index);
      this.losses.push(change < 0 ? -change / prev : 0, index);
    }
    this.closes.push(c.close, index);
    this.volumes.push(c.volume, index);
    this.seen++;
    this.lastOpenTime = c.openTime;
    if (!this.ready) return undefined;
    const v = out ?? new Float32Array(this.compute.length);
    for (let i = 0; i < this.compute.length; i++) v[i] = this.compute[i]!(c, extras);
    return v;
  }

  private featureFn(name: FeatureName): (c: FeatureCandle, x: FeatureExtras) => number {
    switch (name) {
      case 'return_1':
        return () => this.returns.at(0);
      case 'return_5':
        return (c) => Math.log(c.close / this.closes.at(5));
      case 'return_15':
        return (c) => Math.log(c.close / this.closes.at(15));
      case 'volatility_15':
        return () => Math.sqrt(Math.max(0, this.returns.sumSq) / this.returns.count);
      case 'rsi_14':
        return () => {
          const g = Math.max(0, this.gains.sum);
          const l = Math.max(0, this.losses.sum);
          return g + l === 0 ? 0 : (g - l) / (g + l);
        };
      case 'volume_z_20':
        return (c) => {
          const n = this.volumes.count;
          const mean = this.volumes.sum / n;
          const variance = this.volumes.sumSq / n - mean * mean;
          // Below this the volumes are equal up to rounding.
          return variance <= 1e-12 * (mean * mean + 1e-300) ? 0 : (c.volume - mean) / Math.sqrt(variance);
        };
      case 'range_1':
        return (c) => Math.log(c.high / c.low);
      case 'close_position':
        return (c) => (c.high === c.low ? 0 : ((c.close - c.low) / (c.high - c.low)) * 2 - 1);
      case 'book_imbalance':
        return (_c, x) => x.bookImbalance ?? 0;
    }
  }
}

/** Book imbalance over the top `levels` of each side. */
export function bookImbalance(bids: ReadonlyArray<readonly [number, number]>, asks: ReadonlyArray<readonly [number, number]>, levels = 20): number {
  let b = 0;
  let a = 0;
  for (let i = 0; i < levels && i < bids.length; i++) b += bids[i]![1];
  for (let i = 0; i < levels && i < asks.length; i++) a += asks[i]![1];
  return a + b === 0 ? 0 : (b - a) / (a + b);
}
