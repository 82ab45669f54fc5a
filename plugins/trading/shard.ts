// Trading plugin, shard half: matches new orders against the symbol's live book, fills resting orders on trades.
import type { ShardApi } from '../../shards/shard-api.js';
import { D } from './ledger.js';
import { walkBook } from './book-walk.js';
import { RestingBook, restingFrom } from './resting-book.js';
import { TRADING_ERRORS } from './errors.js';
import type { TradingConfig } from './config.js';

/** What `match` answers: the levels a new order takes, and which book state they came from. */
export interface MatchAnswer {
  fills: Array<[string, string]>;
  lastUpdateId: number;
  bookTime: number;
}

export interface MatchParams {
  side: 'BUY' | 'SELL';
  quantity: string;
  limit?: string;
}

/** Resting orders as the acceptor hands them over: added to the symbol's book, or replacing what it knew of them. */
export interface RestParams {
  orders: Array<{ id: number; side: 'BUY' | 'SELL'; price: string; remaining: string; at: number }>;
}

/** A resting order filled by a trade, as reported to the acceptor (which commits it, or refuses it if it is gone). */
export interface FillReport {
  orderId: number;
  symbol: string;
  tradeId: number;
  quantity: string;
  tradeTime: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export default function trading(api: ShardApi<TradingConfig>): void {
  const cfg = api.config;
  const books = new Map<string, { book: RestingBook; off: () => void }>();
  let fillsReported = 0;
  let matches = 0;

  const status = () => api.setStatus({ restingOrders: [...books.values()].reduce((n, b) => n + b.book.size, 0), symbols: books.size, fillsReported, matches });

  const bookOf = (symbol: string) => {
    let entry = books.get(symbol);
    if (entry) return entry.book;
    const book = new RestingBook(cfg.limitFill === 'touch');
    const decimals = api.symbols.info(symbol)?.filters.quantityDecimals ?? 8;
    const off = api.market.on('trade', symbol, (t) => {
      // Trades of a connection that is down or stalled may have gaps: nothing fills on data that is not current.
      if (!api.market.isCurrent(symbol, 'trade')) return;
      for (const f of book.trade(t.price, new D(t.quantity.toFixed(decimals)))) {
        fillsReported++;
        api.report('fill', { orderId: f.orderId, symbol, tradeId: t.tradeId, quantity: f.quantity.toFixed(), tradeTime: t.tradeTime } satisfies FillReport);
      }
      if (book.size === 0) release(symbol);
      status();
    });
    entry = { book, off };
    books.set(symbol, entry);
    return book;
  };

  const release = (symbol: string) => {
    const entry = books.get(symbol);
    if (!entry || entry.book.size > 0) return;
    books.delete(symbol);
    entry.off();
    // Kept a while: a new resting order on the symbol soon after needs no new subscription upstream.
    api.market.hold(symbol, ['trade'], cfg.marketIdleMs);
  };

  api.answer('match', async (params, { symbol }) => {
    const p = params as MatchParams;
    api.market.hold(symbol, ['book', 'trade'], cfg.marketIdleMs);
    const deadline = Date.now() + cfg.bookWaitMs;
    while (!api.market.isCurrent(symbol, 'book')) {
      if (Date.now() >= deadline) throw TRADING_ERRORS.error('TG_ERR_BOOK_STALE');
      await sleep(20);
    }
    const book = api.market.latest('book', symbol)!;
    const f = api.symbols.info(symbol)!.filters;
    const side = p.side === 'BUY' ? book.asks : book.bids;
    const levels = side.map(([price, qty]) => [price.toFixed(f.priceDecimals), qty.toFixed(f.quantityDecimals)] as const);
    const fills = walkBook(levels, p.side, new D(p.quantity), p.limit === undefined ? undefined : new D(p.limit));
    matches++;
    return { fills: fills.map((x) => [x.price.toFixed(), x.quantity.toFixed()]), lastUpdateId: book.lastUpdateId, bookTime: book.eventTime } satisfies MatchAnswer;
  });

  api.answer('rest', (params, { symbol }) => {
    const p = params as RestParams;
    const book = bookOf(symbol);
    for (const o of p.orders) book.upsert(restingFrom(o));
    if (book.size === 0) release(symbol);
    status();
    return { resting: book.size };
  });

  // Cluster mode: the symbols' partition moved to another ingest node, which gets the orders from the database.
  api.onRelease((released) => {
    for (const [symbol, entry] of [...books]) {
      if (!released(symbol)) continue;
      books.delete(symbol);
      entry.off();
    }
    status();
  });

  api.answer('forget', (params, { symbol }) => {
    const { ids } = params as { ids: number[] };
    const entry = books.get(symbol);
    let removed = 0;
    if (entry) for (const id of ids) if (entry.book.remove(id)) removed++;
    release(symbol);
    status();
    return { removed };
  });

  api.answer('mark', async (_params, { symbol }) => {
    api.market.hold(symbol, ['ticker'], cfg.marketIdleMs);
    const deadline = Date.now() + 3000;
    for (;;) {
      const t = api.market.latest('ticker', symbol);
      if (t) return t.lastPrice.toFixed(api.symbols.info(symbol)?.filters.priceDecimals ?? 8);
      if (Date.now() >= deadline) return null;
      await sleep(25);
    }
  });

  api.onClose(() => {
    for (const { off } of books.values()) off();
    books.clear();
  });
  status();
}
