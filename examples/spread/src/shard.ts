// Shard half: spread frames from the shard's local order book, and the answer behind the REST route.
import { throttleLatest, type BookEvent, type ShardApi } from 'tickgate/plugin';
import { errors } from './errors.js';
import type { SpreadConfig } from './index.js';

/**
 * Best bid and ask, the spread (in price units, rounded to the symbol's tick, and in basis points of the mid) and
 * the imbalance of the top levels: +1 all bids, -1 all asks.
 */
export function spreadOf(book: BookEvent, levels: number, priceDecimals: number) {
  const bid = book.bids[0];
  const ask = book.asks[0];
  if (!bid || !ask) return undefined;
  const mid = (bid[0] + ask[0]) / 2;
  const depth = (side: Array<[number, number]>) => side.slice(0, levels).reduce((sum, [, qty]) => sum + qty, 0);
  const bidQty = depth(book.bids);
  const askQty = depth(book.asks);
  return {
    symbol: book.symbol,
    bid: bid[0],
    ask: ask[0],
    spread: Number((ask[0] - bid[0]).toFixed(priceDecimals)),
    spreadBps: ((ask[0] - bid[0]) / mid) * 10_000,
    imbalance: (bidQty - askQty) / (bidQty + askQty),
    levels,
    timestamp: book.eventTime,
  };
}

export default function spread(api: ShardApi<SpreadConfig>): void {
  const { levels, intervalMs, waitMs } = api.config;

  api.produce('spread', {
    // The book of the channel's symbol: the shard keeps it in sync and says when it is stale.
    needs: ['book'],
    open(ch, out) {
      // The symbol's filters come with the exchange's symbol list: the tick size says how to round prices.
      const decimals = api.symbols.info(ch.symbol)?.filters.priceDecimals ?? 8;
      let last = '';
      // At most one frame per intervalMs, with the latest book; nothing when the spread did not change.
      const frames = throttleLatest(intervalMs, (book: BookEvent) => {
        const data = spreadOf(book, levels, decimals);
        const key = data && `${data.bid}|${data.ask}|${data.imbalance}`;
        if (!data || key === last) return false;
        last = key!;
        out.emit('spread', data);
      });
      const off = api.market.on('book', ch.symbol, (book) => frames.push(book));
      return () => {
        off();
        frames.close();
      };
    },
  });

  api.answer('spread', async (params, { symbol }) => {
    const n = (params as { levels: number }).levels;
    // Keep the book open for 30 s after the last request, so that repeated requests find it ready.
    api.market.hold(symbol, ['book'], 30_000);
    const decimals = api.symbols.info(symbol)?.filters.priceDecimals ?? 8;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const book = api.market.latest('book', symbol);
      const data = book && spreadOf(book, n, decimals);
      if (data) return data;
      if (Date.now() >= deadline) throw errors.error('SPREAD_NO_BOOK', `The order book of ${symbol} is not in sync yet: retry in a few seconds`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}
