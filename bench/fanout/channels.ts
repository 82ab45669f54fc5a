// Channel names from a kind and a symbol: "price" → price:SYM; a kind with its argument, "klines:1m" → klines:SYM:1m.
export function channelName(kind: string, symbol: string): string {
  const at = kind.indexOf(':');
  return at < 0 ? `${kind}:${symbol}` : `${kind.slice(0, at)}:${symbol}:${kind.slice(at + 1)}`;
}
