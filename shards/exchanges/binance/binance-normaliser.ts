// Turns one Binance stream payload (numbers as strings) into a typed market event, parsing each field once.
import type { AggTradeEvent, KlineEvent, MarketEventMap, TickerEvent, TradeEvent } from '../../market/market-events.js';
import type { DepthDiff } from '../../market/order-book.js';

/** A partial-depth payload (`<sym>@depth<N>`): the exchange's own top N levels; tickgate's books come from the diff stream. */
export interface DepthEvent {
  symbol: string;
  /** Receipt time: partial-depth payloads carry no event time. */
  eventTime: number;
  lastUpdateId: number;
  levels: number;
  bids: Array<[number, number]>;
  asks: Array<[number, number]>;
}

type StreamEvents = Omit<MarketEventMap, 'book'> & { depth: DepthEvent };

export type Normalised =
  | {
      [K in keyof StreamEvents]: { kind: K; symbol: string; arg: string | undefined; event: StreamEvents[K] };
    }[keyof StreamEvents]
  /** A diff-depth event: not a market event itself, it feeds the shard's local order book. */
  | { kind: 'depthDiff'; symbol: string; eventTime: number; diff: DepthDiff };

export class PayloadError extends Error {
  constructor(stream: string, what: string) {
    super(`malformed ${stream} payload: ${what}`);
    this.name = 'PayloadError';
  }
}

type Raw = Record<string, unknown>;

function num(stream: string, raw: Raw, field: string): number {
  const v = raw[field];
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!Number.isFinite(n)) throw new PayloadError(stream, `field ${field} is ${JSON.stringify(v)}`);
  return n;
}

/** A field the exchange documents but an older payload may lack: its value, or `fallback`. */
function optNum(stream: string, raw: Raw, field: string, fallback: number): number {
  return raw[field] === undefined ? fallback : num(stream, raw, field);
}

function levels(stream: string, raw: unknown, side: string): Array<[number, number]> {
  if (!Array.isArray(raw)) throw new PayloadError(stream, `${side} is not an array`);
  const out: Array<[number, number]> = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const level = raw[i] as unknown;
    if (!Array.isArray(level) || level.length < 2) throw new PayloadError(stream, `${side}[${i}] is not a [price, qty] pair`);
    const p = Number(level[0]);
    const q = Number(level[1]);
    if (!Number.isFinite(p) || !Number.isFinite(q)) throw new PayloadError(stream, `${side}[${i}] is not numeric`);
    out[i] = [p, q];
  }
  return out;
}

/** The symbol part of a stream name, uppercase: btcusdt@trade → BTCUSDT. */
export function streamSymbol(stream: string): string {
  const at = stream.indexOf('@');
  return (at < 0 ? stream : stream.slice(0, at)).toUpperCase();
}

function ticker(stream: string, d: Raw): TickerEvent {
  return {
    symbol: String(d.s),
    eventTime: num(stream, d, 'E'),
    lastPrice: num(stream, d, 'c'),
    lastQty: num(stream, d, 'Q'),
    priceChange: num(stream, d, 'p'),
    priceChangePercent: num(stream, d, 'P'),
    weightedAvgPrice: num(stream, d, 'w'),
    prevClosePrice: num(stream, d, 'x'),
    openPrice: num(stream, d, 'o'),
    highPrice: num(stream, d, 'h'),
    lowPrice: num(stream, d, 'l'),
    volume: num(stream, d, 'v'),
    quoteVolume: num(stream, d, 'q'),
    bidPrice: num(stream, d, 'b'),
    bidQty: num(stream, d, 'B'),
    askPrice: num(stream, d, 'a'),
    askQty: num(stream, d, 'A'),
    tradeCount: num(stream, d, 'n'),
    openTime: optNum(stream, d, 'O', num(stream, d, 'E') - 86_400_000),
    closeTime: optNum(stream, d, 'C', num(stream, d, 'E')),
    firstTradeId: optNum(stream, d, 'F', -1),
    lastTradeId: optNum(stream, d, 'L', -1),
  };
}

function buyerIsMaker(stream: string, d: Raw): boolean {
  if (typeof d.m !== 'boolean') throw new PayloadError(stream, 'field m (buyer is maker) is not a boolean');
  return d.m;
}

function trade(stream: string, d: Raw): TradeEvent {
  return {
    symbol: String(d.s),
    eventTime: num(stream, d, 'E'),
    tradeId: num(stream, d, 't'),
    price: num(stream, d, 'p'),
    quantity: num(stream, d, 'q'),
    tradeTime: num(stream, d, 'T'),
    buyerIsMaker: buyerIsMaker(stream, d),
  };
}

function aggTrade(stream: string, d: Raw): AggTradeEvent {
  return {
    symbol: String(d.s),
    eventTime: num(stream, d, 'E'),
    aggId: num(stream, d, 'a'),
    price: num(stream, d, 'p'),
    quantity: num(stream, d, 'q'),
    firstTradeId: num(stream, d, 'f'),
    lastTradeId: num(stream, d, 'l'),
    tradeTime: num(stream, d, 'T'),
    buyerIsMaker: buyerIsMaker(stream, d),
  };
}

function kline(stream: string, d: Raw): KlineEvent {
  const k = d.k as Raw | undefined;
  if (!k || typeof k !== 'object') throw new PayloadError(stream, 'field k is missing');
  if (typeof k.x !== 'boolean') throw new PayloadError(stream, 'field k.x (is closed) is not a boolean');
  return {
    symbol: String(d.s),
    eventTime: num(stream, d, 'E'),
    interval: String(k.i),
    openTime: num(stream, k, 't'),
    closeTime: num(stream, k, 'T'),
    open: num(stream, k, 'o'),
    high: num(stream, k, 'h'),
    low: num(stream, k, 'l'),
    close: num(stream, k, 'c'),
    volume: num(stream, k, 'v'),
    quoteVolume: num(stream, k, 'q'),
    trades: num(stream, k, 'n'),
    isFinal: k.x,
    firstTradeId: optNum(stream, k, 'f', -1),
    lastTradeId: optNum(stream, k, 'L', -1),
    takerBuyVolume: optNum(stream, k, 'V', 0),
    takerBuyQuoteVolume: optNum(stream, k, 'Q', 0),
  };
}

const PARTIAL_DEPTH_RE = /@depth(5|10|20)(?:@100ms)?$/;

function partialDepth(stream: string, d: Raw, now: number): DepthEvent {
  const m = PARTIAL_DEPTH_RE.exec(stream);
  return {
    symbol: streamSymbol(stream),
    eventTime: now,
    lastUpdateId: num(stream, d, 'lastUpdateId'),
    levels: Number(m?.[1] ?? 0),
    bids: levels(stream, d.bids, 'bids'),
    asks: levels(stream, d.asks, 'asks'),
  };
}

/**
 * Normalises a payload of a stream tickgate subscribes to. Returns undefined for payloads of kinds it does not
 * handle; throws PayloadError when a known payload is malformed.
 */
export function normalise(stream: string, data: unknown, now: number): Normalised | undefined {
  if (data === null || typeof data !== 'object') throw new PayloadError(stream, 'not an object');
  const d = data as Raw;
  switch (d.e) {
    case '24hrTicker':
      return { kind: 'ticker', symbol: String(d.s), arg: undefined, event: ticker(stream, d) };
    case 'trade':
      return { kind: 'trade', symbol: String(d.s), arg: undefined, event: trade(stream, d) };
    case 'aggTrade':
      return { kind: 'aggTrade', symbol: String(d.s), arg: undefined, event: aggTrade(stream, d) };
    case 'kline': {
      const event = kline(stream, d);
      return { kind: 'kline', symbol: event.symbol, arg: event.interval, event };
    }
    case 'depthUpdate': {
      const side = (v: unknown, name: string): Array<[string, string]> => {
        if (!Array.isArray(v) || !v.every((l) => Array.isArray(l) && typeof l[0] === 'string' && typeof l[1] === 'string')) {
          throw new PayloadError(stream, `${name} is not a list of [price, qty] strings`);
        }
        return v as Array<[string, string]>;
      };
      return { kind: 'depthDiff', symbol: String(d.s), eventTime: num(stream, d, 'E'), diff: { U: num(stream, d, 'U'), u: num(stream, d, 'u'), bids: side(d.b, 'b'), asks: side(d.a, 'a') } };
    }
    case undefined:
      if ('lastUpdateId' in d && PARTIAL_DEPTH_RE.test(stream)) {
        const event = partialDepth(stream, d, now);
        return { kind: 'depth', symbol: event.symbol, arg: String(event.levels), event };
      }
      return undefined;
    default:
      return undefined;
  }
}

/** One REST kline row (Binance's 12-column array) as a KlineEvent; the row's candle is final if it closed before `now`. */
export function klineFromRow(symbol: string, interval: string, row: unknown[], now: number): KlineEvent {
  const at = (i: number) => {
    const n = Number(row[i]);
    if (!Number.isFinite(n)) throw new PayloadError(`${symbol} klines`, `column ${i} is ${JSON.stringify(row[i])}`);
    return n;
  };
  const closeTime = at(6);
  return {
    symbol, eventTime: now, interval, openTime: at(0), closeTime, open: at(1), high: at(2), low: at(3), close: at(4),
    volume: at(5), quoteVolume: at(7), trades: at(8), isFinal: closeTime < now,
    // REST rows carry no trade ids.
    firstTradeId: -1, lastTradeId: -1, takerBuyVolume: row.length > 10 ? at(9) : 0, takerBuyQuoteVolume: row.length > 10 ? at(10) : 0,
  };
}
