// Built-in market plugin, shard half: maps the shard's normalised events to price, ticker, klines, trades and depth frames.
import type { BookEvent, ShardApi } from '../../shards/shard-api.js';
import { aggTradeData, depthData, depthDeltaData, klineData, priceData, tickerData, tradeData } from './frames.js';
import { levelChanges } from './depth-delta.js';
import { answerMarketQueries } from './market-state.js';
import { throttleLatest } from '../../shards/throttle-latest.js';

const DEPTH_LEVELS = 10;
const DEPTH_INTERVAL_MS = 100;
/**
 * The book changes once per exchange diff, every 100 ms (Binance's @depth@100ms). At a burst of 1 the throttle runs
 * at exactly the feed's rate and holds updates for 0–100 ms, drifting (see throttleLatest); 2 lets the diff that
 * follows a late one through at once, at the same average of ten frames a second.
 */
const DEPTH_BURST = 2;

export default function market(api: ShardApi): void {
  answerMarketQueries(api);
  // price: and ticker: need the same ticker: the shard opens it once.
  api.produce('price', {
    needs: ['ticker'],
    open: (ch, out) => api.market.on('ticker', ch.symbol, (t) => out.emit('price', priceData(t))),
  });
  api.produce('ticker', {
    needs: ['ticker'],
    open: (ch, out) => api.market.on('ticker', ch.symbol, (t) => out.emit('ticker', tickerData(t))),
  });
  api.produce('klines', {
    needs: (ch) => [`kline:${ch.arg}`],
    open: (ch, out) => {
      const interval = ch.arg!;
      let live = false;
      /** Open time of the first candle this channel showed: nothing older follows it. */
      let since = 0;
      const off = api.market.on('kline', ch.symbol, (k) => {
        if (k.openTime < since) return;
        live = true;
        out.emit('kline', klineData(k));
      }, interval);
      // The exchange sends kline updates every 1–2 s: the open candle from REST gives a new channel its value at once.
      if (!api.market.latest('kline', ch.symbol, interval)) {
        api.exchange.klines(ch.symbol, interval, 1).then(
          (rows) => {
            const current = rows.at(-1);
            if (current && !live && !current.isFinal) {
              since = current.openTime;
              out.emit('kline', klineData(current));
            }
          },
          (err: unknown) => api.log.warn({ err: err instanceof Error ? err.message : String(err), channel: ch.name }, 'current candle not fetched: the channel waits for the stream'),
        );
      }
      return off;
    },
  });
  api.produce('trades', {
    needs: ['trade'],
    open: (ch, out) => api.market.on('trade', ch.symbol, (t) => out.emit('trade', tradeData(t))),
  });
  api.produce('aggTrades', {
    needs: ['aggTrade'],
    open: (ch, out) => api.market.on('aggTrade', ch.symbol, (t) => out.emit('aggTrade', aggTradeData(t))),
  });
  // depth:SYM[:N] comes from the shard's local order book, kept by the exchange adapter.
  api.produce('depth', {
    needs: ['book'],
    open: (ch, out) => {
      const levels = ch.arg ? Number(ch.arg) : DEPTH_LEVELS;
      let last: { bids: Array<[number, number]>; asks: Array<[number, number]> } | undefined;
      // At most ten frames a second, and only when the top N levels changed.
      const frames = throttleLatest(DEPTH_INTERVAL_MS, (book: BookEvent) => {
        const data = depthData(book, levels);
        if (last && sameLevels(last.bids, data.bids) && sameLevels(last.asks, data.asks)) return false;
        last = data;
        out.emit('depth', data);
      }, DEPTH_BURST);
      const off = api.market.on('book', ch.symbol, (book) => frames.push(book));
      return () => {
        off();
        frames.close();
      };
    },
  });
  // depthDelta:SYM[:N]: the same book and pace as depth, but after the first (whole) frame only the levels that changed,
  // with the whole book beside each change as the snapshot for clients that join later.
  api.produce('depthDelta', {
    needs: ['book'],
    open: (ch, out) => {
      const levels = ch.arg ? Number(ch.arg) : DEPTH_LEVELS;
      let last: ReturnType<typeof depthData> | undefined;
      const frames = throttleLatest(DEPTH_INTERVAL_MS, (book: BookEvent) => {
        const data = depthData(book, levels);
        if (!last) {
          last = data;
          // With its state too: after a shard restart the acceptor already keeps this channel's states, and must
          // replace the one from before the restart with this one.
          out.emit('depth', data, { type: 'depth', data });
          return;
        }
        const bids = levelChanges(last.bids, data.bids);
        const asks = levelChanges(last.asks, data.asks);
        if (bids.length === 0 && asks.length === 0) return false;
        last = data;
        out.emit('depthDelta', depthDeltaData(book, bids, asks), { type: 'depth', data });
      }, DEPTH_BURST);
      const off = api.market.on('book', ch.symbol, (book) => frames.push(book));
      return () => {
        off();
        frames.close();
      };
    },
  });
}

function sameLevels(a: Array<[number, number]>, b: Array<[number, number]>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]![0] !== b[i]![0] || a[i]![1] !== b[i]![1]) return false;
  return true;
}
