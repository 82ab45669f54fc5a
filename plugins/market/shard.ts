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
    open: (ch, out) => api.market.on('kline', ch.symbol, (k) => out.emit('kline', klineData(k)), ch.arg),
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
