// Shard half: spread frames from the shard's local order book, and the answer behind the REST route.
import type { BookEvent, ShardApi } from 'tickgate/plugin';
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
      let sentAt = 0;
      let pending: BookEvent | undefined;
      let timer: NodeJS.Timeout | undefined;
      const send = (book: BookEvent) => {
        const data = spreadOf(book, levels, decimals);
        if (!data) return;
        const key = `${data.bid}|${data.ask}|${data.imbalance}`;
        if (key === last) return;
        last = key;
        sentAt = Date.now();
        out.emit('spread', data);
      };
      const off = api.market.on('book', ch.symbol, (book) => {
        const wait = sentAt + intervalMs - Date.now();
        if (wait <= 0) {
          // Sent now: an older book still waiting for the timer must not follow it.
          pending = undefined;
          clearTimeout(timer);
          timer = undefined;
          return send(book);
        }
        // Within the interval: the latest book is sent when it ends, so the last state is never lost.
        pending = book;
        timer ??= setTimeout(() => {
          timer = undefined;
          if (pending) send(pending);
          pending = undefined;
        }, wait);
      });
      return () => {
        off();
        clearTimeout(timer);
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
