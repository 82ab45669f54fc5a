// Channel names: kind:KEY[:ARG][@RATE]; parsing is syntax only, meaning comes from the channel kind's spec.

export interface ChannelName {
  /** The full name, e.g. klines:BTCUSDT:1m. */
  name: string;
  kind: string;
  /** The routing key: a symbol for market channels, a user id for private ones. */
  key: string;
  /** Optional third part, e.g. the kline interval. */
  arg: string | undefined;
  /**
   * The `@RATE` suffix as written (e.g. `1s` in price:BTCUSDT@1s): the client asks for at most one frame per that
   * interval, the latest value (conflation). Undefined without a suffix.
   */
  rate: string | undefined;
  /** The rate in milliseconds (0 without a suffix). */
  rateMs: number;
}

/**
 * The rates a conflated channel may ask for. A fixed list, written one way each: every distinct name is a channel of
 * its own at the shard (its own timer and numbering), so `@1000ms` and `@1s` must not be two of them.
 */
export const CONFLATION_RATES: Readonly<Record<string, number>> = {
  '100ms': 100, '250ms': 250, '500ms': 500, '1s': 1000, '2s': 2000, '5s': 5000, '10s': 10_000, '30s': 30_000, '60s': 60_000,
};
const RATE_RE = /^[0-9]{1,6}(ms|s)$/;

const KIND_RE = /^[a-z][a-zA-Z0-9_-]{0,31}$/;
export const MAX_CHANNEL_NAME_LENGTH = 128;

/**
 * Returns the parts of a channel name, or undefined when it is not of the form kind:KEY[:ARG][@RATE]. A rate of the
 * right form but not in CONFLATION_RATES parses (rateMs NaN): the registry refuses it with the list.
 */
export function parseChannelName(name: string): ChannelName | undefined {
  if (name.length === 0 || name.length > MAX_CHANNEL_NAME_LENGTH) return undefined;
  const at = name.indexOf('@');
  const body = at < 0 ? name : name.slice(0, at);
  const rate = at < 0 ? undefined : name.slice(at + 1);
  if (rate !== undefined && !RATE_RE.test(rate)) return undefined;
  const parts = body.split(':');
  if (parts.length < 2 || parts.length > 3) return undefined;
  const [kind, key, arg] = parts as [string, string, string | undefined];
  if (!KIND_RE.test(kind) || key.length === 0 || arg === '') return undefined;
  return { name, kind, key, arg, rate, rateMs: rate === undefined ? 0 : CONFLATION_RATES[rate] ?? NaN };
}

export function isValidKind(kind: string): boolean {
  return KIND_RE.test(kind);
}

/** Exchange symbols: uppercase letters and digits (Binance allows 1–20 characters). */
export const SYMBOL_RE = /^[A-Z0-9]{1,20}$/;
