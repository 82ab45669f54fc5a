// Binance's stream names as the relay serves them: which are valid, which are served, and the channel behind each.
import type { MarketNeed } from '../../shards/shard-api.js';

/**
 * The relay's channel kind: `binance:SYMBOL:<what follows the @>`, with `@` written `.` (in channel names `@` marks a
 * rate, price:BTCUSDT@1s), e.g. binance:BTCUSDT:depth.100ms for btcusdt@depth@100ms.
 */
export const RELAY_KIND = 'binance';

/** A stream's suffix as its channel's third part (`depth@100ms` → `depth.100ms`). */
export const channelArg = (suffix: string): string => suffix.replaceAll('@', '.');
/** The stream suffix a channel's third part stands for (`depth.100ms` → `depth@100ms`). */
export const suffixOf = (arg: string): string => arg.replaceAll('.', '@');

export const KLINE_INTERVALS = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w', '1M'] as const;

/** What follows `<symbol>@` in the streams the relay serves. */
export const SERVED_SUFFIXES: readonly string[] = [
  'trade', 'aggTrade', 'ticker', 'miniTicker', 'bookTicker', 'depth', 'depth@100ms', 'depth@1000ms',
  ...[5, 10, 20].flatMap((n) => [`depth${n}`, `depth${n}@100ms`, `depth${n}@1000ms`]),
  ...KLINE_INTERVALS.map((i) => `kline_${i}`),
];
const SERVED = new Set(SERVED_SUFFIXES);

/**
 * The grammar of Binance Spot's market stream names (lowercase symbol), served or not: a name outside it is an
 * "invalid stream" for Binance too; one inside it that the relay does not serve is refused with that said.
 */
const BINANCE_STREAM_RE = new RegExp(
  '^(?:[a-z0-9]{1,20}@(?:trade|aggTrade|ticker|miniTicker|bookTicker|avgPrice|ticker_(?:1h|4h|1d)' +
    `|kline_(?:${KLINE_INTERVALS.join('|')})(?:@[+-]\\d\\d:\\d\\d)?|depth(?:5|10|20)?(?:@100ms|@1000ms)?)` +
    '|!miniTicker@arr|!ticker@arr|!ticker_(?:1h|4h|1d)@arr|!bookTicker)$',
);

/** One stream the relay serves, and the channel that carries it. */
export interface RelayStream {
  /** Binance's name, e.g. btcusdt@depth@100ms. */
  name: string;
  symbol: string;
  /** What follows the @: the channel's third part. */
  suffix: string;
  channel: string;
}

export type StreamCheck =
  | { ok: true; stream: RelayStream }
  /** `invalid`: not a Binance stream name; `unserved`: a Binance stream the relay does not serve; `symbol`: a symbol not served here. */
  | { ok: false; why: 'invalid' | 'unserved' | 'symbol'; message: string };

/** Checks a stream name against Binance's grammar, the streams the relay serves and the symbols `serves` admits. */
export function checkStream(name: unknown, serves: (symbol: string) => boolean): StreamCheck {
  if (typeof name !== 'string' || !BINANCE_STREAM_RE.test(name)) {
    return { ok: false, why: 'invalid', message: 'Invalid request: invalid stream' };
  }
  const at = name.indexOf('@');
  const suffix = name.slice(at + 1);
  if (at <= 0 || !SERVED.has(suffix)) {
    return { ok: false, why: 'unserved', message: `Invalid request: invalid stream ${name}: this gateway relays <symbol>@${['trade', 'aggTrade', 'ticker', 'miniTicker', 'bookTicker', 'kline_<interval>', 'depth[@100ms|@1000ms]', 'depth<5|10|20>[@100ms|@1000ms]'].join(', @')}` };
  }
  const symbol = name.slice(0, at).toUpperCase();
  if (!serves(symbol)) return { ok: false, why: 'symbol', message: `Invalid request: invalid stream ${name}: symbol ${symbol} is not served here` };
  return { ok: true, stream: { name, symbol, suffix, channel: `${RELAY_KIND}:${symbol}:${channelArg(suffix)}` } };
}

/** What a stream is made from, by the channel's third part. */
export type StreamShape =
  | { kind: 'trade' | 'aggTrade' | 'ticker' | 'miniTicker' | 'bookTicker' }
  | { kind: 'kline'; interval: string }
  /** The diff stream: every change (`intervalMs` 100) or the changes of each second merged (1000). */
  | { kind: 'diff'; intervalMs: number }
  /** A partial book: the top `levels` of the local book every `intervalMs`. */
  | { kind: 'partial'; levels: number; intervalMs: number };

const PARTIAL_RE = /^depth(5|10|20)(@100ms|@1000ms)?$/;

export function shapeOf(suffix: string): StreamShape | undefined {
  if (!SERVED.has(suffix)) return undefined;
  if (suffix.startsWith('kline_')) return { kind: 'kline', interval: suffix.slice('kline_'.length) };
  if (suffix === 'depth' || suffix === 'depth@1000ms') return { kind: 'diff', intervalMs: 1000 };
  if (suffix === 'depth@100ms') return { kind: 'diff', intervalMs: 100 };
  const partial = PARTIAL_RE.exec(suffix);
  if (partial) return { kind: 'partial', levels: Number(partial[1]), intervalMs: partial[2] === '@100ms' ? 100 : 1000 };
  return { kind: suffix as 'trade' | 'aggTrade' | 'ticker' | 'miniTicker' | 'bookTicker' };
}

/** The market data a stream is made from, by meaning. */
export function needsOf(shape: StreamShape): MarketNeed[] {
  switch (shape.kind) {
    case 'trade':
    case 'aggTrade':
      return [shape.kind];
    case 'ticker':
    case 'miniTicker':
      return ['ticker'];
    case 'kline':
      return [`kline:${shape.interval}`];
    case 'bookTicker':
    case 'diff':
    case 'partial':
      return ['book'];
  }
}
