// Channel names: kind:KEY[:ARG]; parsing is syntax only, meaning comes from the channel kind's spec.

export interface ChannelName {
  /** The full name, e.g. klines:BTCUSDT:1m. */
  name: string;
  kind: string;
  /** The routing key: a symbol for market channels, a user id for private ones. */
  key: string;
  /** Optional third part, e.g. the kline interval. */
  arg: string | undefined;
}

const KIND_RE = /^[a-z][a-zA-Z0-9_-]{0,31}$/;
export const MAX_CHANNEL_NAME_LENGTH = 128;

/** Returns the parts of a channel name, or undefined when it is not of the form kind:KEY[:ARG]. */
export function parseChannelName(name: string): ChannelName | undefined {
  if (name.length === 0 || name.length > MAX_CHANNEL_NAME_LENGTH) return undefined;
  const parts = name.split(':');
  if (parts.length < 2 || parts.length > 3) return undefined;
  const [kind, key, arg] = parts as [string, string, string | undefined];
  if (!KIND_RE.test(kind) || key.length === 0 || arg === '') return undefined;
  return { name, kind, key, arg };
}

export function isValidKind(kind: string): boolean {
  return KIND_RE.test(kind);
}

/** Exchange symbols: uppercase letters and digits (Binance allows 1–20 characters). */
export const SYMBOL_RE = /^[A-Z0-9]{1,20}$/;
