// Binance relay, shard half: each relayed stream's payload serialised once per event, and the REST depth snapshot.
import type { BookEvent, Emitter, ShardApi } from '../../shards/shard-api.js';
import { throttleLatest } from '../../shards/throttle-latest.js';
import { TickgateError } from '../../core/errors.js';
import type { RelayConfig } from './config.js';
import { needsOf, RELAY_KIND, shapeOf, suffixOf, type StreamShape } from './stream-names.js';
import {
  aggTradePayload, bookTickerPayload, diffPayload, klinePayload, miniTickerPayload, partialDepthPayload, tickerPayload,
  tradePayload, TextFormats,
} from './payloads.js';

/** Levels the REST depth snapshot may hold (Binance's maximum limit). */
export const MAX_DEPTH_LIMIT = 5000;

export default function binanceRelay(api: ShardApi<RelayConfig>): void {
  const formats = new TextFormats(api.symbols);
  /** Every symbol's book changes teach its text format, whichever stream opened the book. */
  const learners = new Map<string, { users: number; off: () => void }>();
  const learn = (symbol: string): (() => void) => {
    let l = learners.get(symbol);
    if (!l) {
      const off = api.market.on('depthUpdate', symbol, (d) => formats.learn(d));
      learners.set(symbol, (l = { users: 0, off }));
    }
    l.users++;
    return () => {
      if (--l.users > 0) return;
      l.off();
      learners.delete(symbol);
    };
  };

  api.produce(RELAY_KIND, {
    needs: (ch) => {
      const shape = shapeOf(suffixOf(ch.arg ?? ''));
      if (!shape) throw new TickgateError('TG_ERR_INVALID_ARGUMENT', `No Binance stream ${ch.arg ?? ''} here`);
      return needsOf(shape);
    },
    open: (ch, out) => open(ch.symbol, shapeOf(suffixOf(ch.arg!))!, out),
  });

  function open(symbol: string, shape: StreamShape, out: Emitter): () => void {
    const fmt = () => formats.of(symbol);
    switch (shape.kind) {
      case 'trade':
        return api.market.on('trade', symbol, (t) => out.raw(tradePayload(t, fmt())));
      case 'aggTrade':
        return api.market.on('aggTrade', symbol, (t) => out.raw(aggTradePayload(t, fmt())));
      case 'ticker':
        return skipReplay(api.market.latest('ticker', symbol), (off) => api.market.on('ticker', symbol, (t) => off(t) || out.raw(tickerPayload(t, fmt()))));
      case 'miniTicker':
        return skipReplay(api.market.latest('ticker', symbol), (off) => api.market.on('ticker', symbol, (t) => off(t) || out.raw(miniTickerPayload(t, fmt()))));
      case 'kline':
        return skipReplay(api.market.latest('kline', symbol, shape.interval), (off) => api.market.on('kline', symbol, (k) => off(k) || out.raw(klinePayload(k, fmt())), shape.interval));
      case 'bookTicker': {
        const done = learn(symbol);
        let last = '';
        const off = api.market.on('book', symbol, (b) => {
          const payload = bookTickerPayload(b, fmt());
          if (payload === undefined) return;
          // Only when the best bid or ask changed: the update id alone moves with every change deeper in the book.
          const top = `${b.bids[0]![0]}|${b.bids[0]![1]}|${b.asks[0]![0]}|${b.asks[0]![1]}`;
          if (top === last) return;
          last = top;
          out.raw(payload);
        });
        return () => {
          off();
          done();
        };
      }
      case 'partial': {
        const done = learn(symbol);
        let lastId = -1;
        const frames = throttleLatest(shape.intervalMs, (b: BookEvent) => {
          if (b.lastUpdateId === lastId) return false;
          lastId = b.lastUpdateId;
          out.raw(partialDepthPayload(b, shape.levels, fmt()));
        });
        const off = api.market.on('book', symbol, (b) => frames.push(b));
        return () => {
          off();
          frames.close();
          done();
        };
      }
      case 'diff':
        return shape.intervalMs === 100 ? diffsAsTheyCome(symbol, out) : diffsPerSecond(symbol, out);
    }
  }

  /** `<symbol>@depth@100ms`: every change, as the exchange numbered and wrote it. */
  function diffsAsTheyCome(symbol: string, out: Emitter): () => void {
    return api.market.on('depthUpdate', symbol, (d) => {
      formats.learn(d);
      out.raw(diffPayload(d));
    });
  }

  /**
   * `<symbol>@depth`: the changes of each second merged into one event (the first change's first id, the last one's
   * final id, each level's latest quantity), as Binance's 1000 ms stream carries them. A jump in the numbering (a
   * reconnect upstream) closes the second early: a merged event never spans a gap, so a client still sees it.
   */
  function diffsPerSecond(symbol: string, out: Emitter): () => void {
    let pending: { first: number; final: number; eventTime: number; bids: Map<string, string>; asks: Map<string, string> } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      const p = pending;
      pending = undefined;
      if (p) out.raw(diffPayload({ eventTime: p.eventTime, symbol, firstUpdateId: p.first, finalUpdateId: p.final, bids: [...p.bids], asks: [...p.asks] }));
    };
    const off = api.market.on('depthUpdate', symbol, (d) => {
      formats.learn(d);
      if (pending && d.firstUpdateId !== pending.final + 1) flush();
      if (!pending) {
        pending = { first: d.firstUpdateId, final: d.finalUpdateId, eventTime: d.eventTime, bids: new Map(), asks: new Map() };
        timer = setTimeout(flush, 1000);
      }
      pending.final = d.finalUpdateId;
      pending.eventTime = d.eventTime;
      for (const [p, q] of d.bids) pending.bids.set(p, q);
      for (const [p, q] of d.asks) pending.asks.set(p, q);
    });
    return () => {
      off();
      clearTimeout(timer);
      pending = undefined;
    };
  }

  /**
   * GET /api/v3/depth: the local book's top `limit` levels with its last update id, which is the final id of a
   * change already relayed on the symbol's diff streams: Binance's "how to manage a local order book" works against
   * it as against the exchange's own snapshot. Waits up to `depthWaitMs` for a book that is being built.
   */
  api.answer('depth', async (params, { symbol }) => {
    const limit = Math.min(MAX_DEPTH_LIMIT, Math.max(1, Math.floor(Number((params as { limit: number }).limit))));
    api.market.hold(symbol, ['book'], api.config.depthIdleMs);
    // The book's text format is learned from its changes, as long as the book is held for these requests.
    setTimeout(learn(symbol), api.config.depthIdleMs).unref();
    const deadline = Date.now() + api.config.depthWaitMs;
    for (;;) {
      const book = api.market.depth(symbol, limit);
      // Serialised here, off the acceptor thread: a deep book is the largest answer the relay gives.
      if (book && formats.known(symbol)) return partialDepthPayload(book, limit, formats.of(symbol));
      if (Date.now() >= deadline) throw new TickgateError('TG_ERR_DATA_UNAVAILABLE', `The order book of ${symbol} is not in sync yet: retry in a few seconds`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
}

/**
 * A listener of state (a ticker, a candle) gets the latest value at once; Binance sends nothing before the next
 * update, and so does the relay: the value that was current when the stream opened is skipped.
 */
function skipReplay<T>(current: T | undefined, listen: (skip: (event: T) => boolean) => () => void): () => void {
  let first = current;
  return listen((event) => {
    if (first === undefined) return false;
    const replayed = event === first;
    first = undefined;
    return replayed;
  });
}
