// The grammar of Binance Spot market stream names: a stream outside it is refused before it reaches the exchange.

const INTERVAL = '(?:1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M)';
/**
 * `<symbol>@<kind>` for the public market streams Binance documents. A bad name in a combined-stream URL makes the
 * exchange refuse the whole connection, so names are checked here first.
 */
export const BINANCE_STREAM_RE = new RegExp(
  '^(?:[a-z0-9._-]{1,20}@(?:trade|aggTrade|ticker|miniTicker|bookTicker|avgPrice|ticker_(?:1h|4h|1d)' +
    `|kline_${INTERVAL}(?:@[+-]\\d\\d:\\d\\d)?|depth(?:5|10|20)?(?:@100ms)?)` +
    // All-market streams.
    '|!miniTicker@arr|!ticker@arr|!ticker_(?:1h|4h|1d)@arr|!bookTicker)$',
);

export function isBinanceStream(name: string): boolean {
  return BINANCE_STREAM_RE.test(name);
}
