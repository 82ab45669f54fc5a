// Built-in market plugin, shard half: maps the shard's normalised events to price, ticker, klines, trades and depth frames.
import type { ShardApi } from '../../shards/shard-api.js';
import { depthData, klineData, priceData, tickerData, tradeData } from './frames.js';

const DEPTH_LEVELS = 10;

export default function market(api: ShardApi): void {
  const lower = (symbol: string) => symbol.toLowerCase();
  // price: and ticker: share the exchange's @ticker stream: the shard subscribes it once.
  api.produce('price', {
    streams: (ch) => [`${lower(ch.symbol)}@ticker`],
    open: (ch, out) => api.market.on('ticker', ch.symbol, (t) => out.emit('price', priceData(t))),
  });
  api.produce('ticker', {
    streams: (ch) => [`${lower(ch.symbol)}@ticker`],
    open: (ch, out) => api.market.on('ticker', ch.symbol, (t) => out.emit('ticker', tickerData(t))),
  });
  api.produce('klines', {
    streams: (ch) => [`${lower(ch.symbol)}@kline_${ch.arg}`],
    open: (ch, out) => {
      const interval = ch.arg!;
      let live = false;
      const off = api.market.on('kline', ch.symbol, (k) => {
        live = true;
        out.emit('kline', klineData(k));
      }, interval);
      // The exchange sends kline updates every 1–2 s: the open candle from REST gives a new channel its value at once.
      if (!api.market.latest('kline', ch.symbol, interval)) {
        api.exchange.klines(ch.symbol, interval, 1).then(
          (rows) => {
            const current = rows.at(-1);
            if (current && !live && !current.isFinal) out.emit('kline', klineData(current));
          },
          (err: unknown) => api.log.warn({ err: err instanceof Error ? err.message : String(err), channel: ch.name }, 'current candle not fetched: the channel waits for the stream'),
        );
      }
      return off;
    },
  });
  api.produce('trades', {
    streams: (ch) => [`${lower(ch.symbol)}@trade`],
    open: (ch, out) => api.market.on('trade', ch.symbol, (t) => out.emit('trade', tradeData(t))),
  });
  api.produce('depth', {
    streams: (ch) => [`${lower(ch.symbol)}@depth${DEPTH_LEVELS}@100ms`],
    open: (ch, out) => api.market.on('depth', ch.symbol, (d) => out.emit('depth', depthData(d, DEPTH_LEVELS)), String(DEPTH_LEVELS)),
  });
}
