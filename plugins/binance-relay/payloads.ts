// Binance's stream payloads, field for field as Binance documents them, from the shard's normalised market events.
import type { AggTradeEvent, BookEvent, DepthUpdateEvent, KlineEvent, TickerEvent, TradeEvent } from '../../shards/shard-api.js';
import type { SymbolsService } from '../../core/symbol-registry.js';

/** Decimal places the exchange writes a symbol's prices and quantities with. */
export interface TextFormat {
  price: number;
  qty: number;
}

/** Quote amounts (quote volume, taker buy quote volume): Binance writes eight decimals. */
const QUOTE_DECIMALS = 8;

function decimalsOf(text: string): number {
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

/**
 * How each symbol's numbers are written: as the exchange itself writes them in its book changes (the only events that
 * keep the exchange's text), so that levels from the local book read exactly as the relayed changes do (a client
 * keying its book by price text sees one level, not two); until a change is seen, with the decimals of the symbol's
 * tick and step sizes.
 */
export class TextFormats {
  private readonly learned = new Map<string, TextFormat>();

  constructor(private readonly symbols: SymbolsService) {}

  /** Learns the symbol's format from the first level of a book change. */
  learn(d: DepthUpdateEvent): void {
    if (this.learned.has(d.symbol)) return;
    const level = d.bids[0] ?? d.asks[0];
    if (level) this.learned.set(d.symbol, { price: decimalsOf(level[0]), qty: decimalsOf(level[1]) });
  }

  /** Whether the symbol's format was learned from the exchange's text. */
  known(symbol: string): boolean {
    return this.learned.has(symbol);
  }

  of(symbol: string): TextFormat {
    const known = this.learned.get(symbol);
    if (known) return known;
    const f = this.symbols.info(symbol)?.filters;
    return { price: f?.priceDecimals ?? 8, qty: f?.quantityDecimals ?? 8 };
  }
}

const fixed = (n: number, decimals: number) => n.toFixed(decimals);

export function tradePayload(t: TradeEvent, f: TextFormat): string {
  return JSON.stringify({ e: 'trade', E: t.eventTime, s: t.symbol, t: t.tradeId, p: fixed(t.price, f.price), q: fixed(t.quantity, f.qty), T: t.tradeTime, m: t.buyerIsMaker, M: true });
}

export function aggTradePayload(t: AggTradeEvent, f: TextFormat): string {
  return JSON.stringify({
    e: 'aggTrade', E: t.eventTime, s: t.symbol, a: t.aggId, p: fixed(t.price, f.price), q: fixed(t.quantity, f.qty),
    f: t.firstTradeId, l: t.lastTradeId, T: t.tradeTime, m: t.buyerIsMaker, M: true,
  });
}

export function klinePayload(k: KlineEvent, f: TextFormat): string {
  return JSON.stringify({
    e: 'kline', E: k.eventTime, s: k.symbol,
    k: {
      t: k.openTime, T: k.closeTime, s: k.symbol, i: k.interval, f: k.firstTradeId ?? -1, L: k.lastTradeId ?? -1,
      o: fixed(k.open, f.price), c: fixed(k.close, f.price), h: fixed(k.high, f.price), l: fixed(k.low, f.price),
      v: fixed(k.volume, f.qty), n: k.trades, x: k.isFinal, q: fixed(k.quoteVolume, QUOTE_DECIMALS),
      V: fixed(k.takerBuyVolume ?? 0, f.qty), Q: fixed(k.takerBuyQuoteVolume ?? 0, QUOTE_DECIMALS), B: '0',
    },
  });
}

export function tickerPayload(t: TickerEvent, f: TextFormat): string {
  return JSON.stringify({
    e: '24hrTicker', E: t.eventTime, s: t.symbol, p: fixed(t.priceChange, f.price), P: fixed(t.priceChangePercent, 3),
    w: fixed(t.weightedAvgPrice, f.price), x: fixed(t.prevClosePrice, f.price), c: fixed(t.lastPrice, f.price),
    Q: fixed(t.lastQty, f.qty), b: fixed(t.bidPrice, f.price), B: fixed(t.bidQty, f.qty), a: fixed(t.askPrice, f.price),
    A: fixed(t.askQty, f.qty), o: fixed(t.openPrice, f.price), h: fixed(t.highPrice, f.price), l: fixed(t.lowPrice, f.price),
    v: fixed(t.volume, f.qty), q: fixed(t.quoteVolume, QUOTE_DECIMALS), O: t.openTime ?? t.eventTime - 86_400_000,
    C: t.closeTime ?? t.eventTime, F: t.firstTradeId ?? -1, L: t.lastTradeId ?? -1, n: t.tradeCount,
  });
}

export function miniTickerPayload(t: TickerEvent, f: TextFormat): string {
  return JSON.stringify({
    e: '24hrMiniTicker', E: t.eventTime, s: t.symbol, c: fixed(t.lastPrice, f.price), o: fixed(t.openPrice, f.price),
    h: fixed(t.highPrice, f.price), l: fixed(t.lowPrice, f.price), v: fixed(t.volume, f.qty), q: fixed(t.quoteVolume, QUOTE_DECIMALS),
  });
}

/** `<symbol>@bookTicker`: best bid and ask with the book's update id (no event type, no event time). */
export function bookTickerPayload(b: BookEvent, f: TextFormat): string | undefined {
  const bid = b.bids[0];
  const ask = b.asks[0];
  if (!bid || !ask) return undefined;
  return JSON.stringify({ u: b.lastUpdateId, s: b.symbol, b: fixed(bid[0], f.price), B: fixed(bid[1], f.qty), a: fixed(ask[0], f.price), A: fixed(ask[1], f.qty) });
}

function levelsText(levels: Array<[number, number]>, n: number, f: TextFormat): Array<[string, string]> {
  const out: Array<[string, string]> = new Array(Math.min(n, levels.length));
  for (let i = 0; i < out.length; i++) out[i] = [fixed(levels[i]![0], f.price), fixed(levels[i]![1], f.qty)];
  return out;
}

/** A partial book (`<symbol>@depth<N>`), and the REST snapshot (`GET /api/v3/depth`): `lastUpdateId`, `bids`, `asks`. */
export function partialDepthPayload(b: BookEvent, levels: number, f: TextFormat): string {
  return JSON.stringify({ lastUpdateId: b.lastUpdateId, bids: levelsText(b.bids, levels, f), asks: levelsText(b.asks, levels, f) });
}

/** A diff-depth event, its ids and levels as the exchange sent them. */
export function diffPayload(d: { eventTime: number; symbol: string; firstUpdateId: number; finalUpdateId: number; bids: Array<[string, string]>; asks: Array<[string, string]> }): string {
  return JSON.stringify({ e: 'depthUpdate', E: d.eventTime, s: d.symbol, U: d.firstUpdateId, u: d.finalUpdateId, b: d.bids, a: d.asks });
}
