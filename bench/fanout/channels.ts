// Channel names from a kind and a symbol: "price" → price:SYM; a kind with its argument, "klines:1m" → klines:SYM:1m; a rate stays last, "depth:20@1s" → depth:SYM:20@1s.
export function channelName(kind: string, symbol: string): string {
  const rateAt = kind.indexOf('@');
  const rate = rateAt < 0 ? '' : kind.slice(rateAt);
  const base = rateAt < 0 ? kind : kind.slice(0, rateAt);
  const at = base.indexOf(':');
  return at < 0 ? `${base}:${symbol}${rate}` : `${base.slice(0, at)}:${symbol}:${base.slice(at + 1)}${rate}`;
}
