// Binance Spot behind the ExchangeAdapter seam: feeds to stream names, connections, normalisation, books, candles, REST.
import type { Logger } from '../../../core/logger.js';
import type { SymbolInfo } from '../../../core/symbol-registry.js';
import { feed, type AdapterEvents, type AdapterInfo, type AdapterOptions, type ExchangeAdapter, type Feed } from '../exchange-adapter.js';
import { BOOK_LEVELS, KLINE_INTERVALS, type BookEvent, type KlineEvent, type TradeEvent } from '../../market/market-events.js';
import { BookManager } from '../../market/book-manager.js';
import { CandleContinuity } from '../../market/candle-continuity.js';
import type { DepthSnapshot } from '../../market/order-book.js';
import { klineFromRow, normalise, PayloadError } from './binance-normaliser.js';
import { BinanceRest } from './binance-rest.js';
import { BinanceStreamPool } from './binance-stream-pool.js';

/** Levels of the REST snapshot a local book starts from (Binance weight 50). */
const BOOK_SNAPSHOT_LEVELS = 1000;

/** The Binance stream that carries a feed. */
export function streamOf(f: Feed): string {
  const s = f.symbol.toLowerCase();
  switch (f.kind) {
    case 'ticker':
      return `${s}@ticker`;
    case 'trade':
      return `${s}@trade`;
    case 'aggTrade':
      return `${s}@aggTrade`;
    case 'kline':
      return `${s}@kline_${f.interval}`;
    case 'book':
      return `${s}@depth@100ms`;
  }
}

export class BinanceAdapter implements ExchangeAdapter {
  readonly intervals: readonly string[] = KLINE_INTERVALS;
  private readonly log: Logger;
  private readonly events: AdapterEvents;
  private readonly rest: BinanceRest;
  private readonly pool: BinanceStreamPool;
  private readonly books: BookManager;
  private readonly candles: CandleContinuity;
  /** Open feeds by their stream. */
  private readonly feeds = new Map<string, Feed>();
  /** Streams whose connection is down or stalled. */
  private readonly staleStreams = new Set<string>();
  /** Diff-depth streams whose local book is being rebuilt (after a gap or a reconnect). */
  private readonly unsyncedStreams = new Set<string>();
  /**
   * Last trade (or aggregate trade) id per stream, and last diff-depth final update id: during a connection renewal
   * both connections deliver for a moment.
   */
  private readonly lastTradeId = new Map<string, number>();
  private payloadErrors = 0;
  private readonly heartbeat: string;

  constructor(opts: AdapterOptions) {
    const up = opts.upstream;
    this.log = opts.log;
    this.events = opts.events;
    this.heartbeat = opts.heartbeat ? up.heartbeatStream : '';
    this.rest = new BinanceRest({ baseUrl: up.restUrl, timeoutMs: up.restTimeoutMs, optionalWeightBudget: up.optionalRestWeightPerMinute, log: this.log.child({ component: 'binance-rest' }) });
    this.books = new BookManager({
      log: this.log.child({ component: 'order-book' }),
      snapshot: (symbol) => this.rest.get<DepthSnapshot>('/api/v3/depth', { symbol, limit: BOOK_SNAPSHOT_LEVELS }, { weight: 50, budget: up.snapshotRestWeightPerMinute }),
      updated: (symbol, sync, eventTime) => {
        // Built only for listeners: the top levels of every diff are the costly part of a book.
        if (!this.events.wanted('book', symbol)) return;
        const top = sync.book.top(BOOK_LEVELS);
        this.events.event('book', symbol, undefined, { symbol, eventTime, lastUpdateId: sync.book.lastUpdateId, bids: top.bids, asks: top.asks });
      },
      syncState: (symbol, live) => {
        const stream = streamOf(feed('book', symbol));
        if (live) this.unsyncedStreams.delete(stream);
        else this.unsyncedStreams.add(stream);
        this.changed([stream]);
      },
    });
    this.candles = new CandleContinuity({
      log: this.log.child({ component: 'candles' }),
      fetch: async (symbol, interval, startTime, endTime) => {
        const rows = await this.rest.klines(symbol, interval, 1000, { startTime, endTime, optional: false });
        const now = Date.now();
        return rows.map((row) => klineFromRow(symbol, interval, row, now)).filter((k) => k.isFinal);
      },
      emit: (k) => this.events.event('kline', k.symbol, k.interval, k),
    });
    this.pool = new BinanceStreamPool({
      ...up,
      log: this.log.child({ component: 'binance-stream' }),
      onMessage: (stream, data) => this.onMessage(stream, data),
      onState: (streams, state) => this.onState(streams, state),
      onRejected: (streams, reason) => this.onRejected(streams, reason),
    });
  }

  start(): void {
    if (this.heartbeat) this.pool.subscribe(this.heartbeat);
  }

  open(f: Feed): void {
    const stream = streamOf(f);
    this.feeds.set(stream, f);
    this.pool.subscribe(stream);
    // A stream placed on a connection that is waiting to reconnect is stale from the start.
    if (this.pool.isDown(stream)) this.staleStreams.add(stream);
  }

  close(f: Feed): void {
    const stream = streamOf(f);
    if (!this.feeds.delete(stream)) return;
    // The heartbeat stream may also carry a feed: it stays subscribed when the feed closes.
    if (stream !== this.heartbeat) this.pool.unsubscribe(stream);
    this.staleStreams.delete(stream);
    this.lastTradeId.delete(stream);
    if (f.kind === 'kline') this.candles.forget(f.symbol, f.interval!);
    if (f.kind === 'book') {
      this.books.drop(f.symbol);
      this.unsyncedStreams.delete(stream);
    }
  }

  isStale(f: Feed): boolean {
    const stream = streamOf(f);
    return this.staleStreams.has(stream) || this.unsyncedStreams.has(stream);
  }

  isLive(f: Feed): boolean {
    return this.pool.isLive(streamOf(f));
  }

  book(symbol: string, levels: number): BookEvent | undefined {
    const current = this.books.current(symbol);
    if (!current) return undefined;
    const top = current.sync.book.top(levels);
    return { symbol, eventTime: current.eventTime, lastUpdateId: current.sync.book.lastUpdateId, bids: top.bids, asks: top.asks };
  }

  symbols(): Promise<SymbolInfo[]> {
    return this.rest.exchangeInfo();
  }

  async klines(symbol: string, interval: string, limit: number, range: { endTime?: number } = {}): Promise<KlineEvent[]> {
    const rows = await this.rest.klines(symbol, interval, limit, { endTime: range.endTime });
    const now = Date.now();
    return rows.map((row) => klineFromRow(symbol, interval, row, now));
  }

  async trades(symbol: string, limit: number): Promise<TradeEvent[]> {
    const rows = await this.rest.get<Array<{ id: number; price: string; qty: string; time: number; isBuyerMaker: boolean }>>('/api/v3/trades', { symbol, limit }, { weight: 25, optional: true });
    return rows.map((r) => ({ symbol, eventTime: r.time, tradeId: r.id, price: Number(r.price), quantity: Number(r.qty), tradeTime: r.time, buyerIsMaker: r.isBuyerMaker }));
  }

  info(): AdapterInfo {
    return { streams: this.pool.streams(), connections: this.pool.info(), restUsedWeight: this.rest.usedWeight, bookResyncs: this.books.resyncs };
  }

  async stop(): Promise<void> {
    this.books.close();
    this.feeds.clear();
    await this.pool.close();
    await this.rest.close();
  }

  private onMessage(stream: string, data: unknown): void {
    let n;
    try {
      n = normalise(stream, data, Date.now());
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      // Logged with a cap: a broken upstream must not flood the logs.
      if (this.payloadErrors++ < 20 || this.payloadErrors % 1000 === 0) this.log.warn({ stream, err: err.message, count: this.payloadErrors }, 'malformed upstream payload skipped');
      return;
    }
    if (!n) return;
    switch (n.kind) {
      case 'depthDiff': {
        // Every change as the exchange numbered it, once each, for those who keep a book of their own.
        const last = this.lastTradeId.get(stream);
        if (last === undefined || n.diff.u > last || last - n.diff.u >= 1_000_000) {
          this.lastTradeId.set(stream, n.diff.u);
          if (this.events.wanted('depthUpdate', n.symbol)) {
            this.events.event('depthUpdate', n.symbol, undefined, { symbol: n.symbol, eventTime: n.eventTime, firstUpdateId: n.diff.U, finalUpdateId: n.diff.u, bids: n.diff.bids, asks: n.diff.asks });
          }
        }
        this.books.onDiff(n.symbol, n.diff, n.eventTime);
        return;
      }
      case 'kline':
        this.candles.accept(n.event);
        return;
      case 'trade':
      case 'aggTrade': {
        const last = this.lastTradeId.get(stream);
        const id = n.kind === 'trade' ? n.event.tradeId : n.event.aggId;
        if (last !== undefined && id <= last && last - id < 1_000_000) return;
        this.lastTradeId.set(stream, id);
        this.events.event(n.kind, n.symbol, undefined, n.event as never);
        return;
      }
      case 'ticker':
        this.events.event('ticker', n.symbol, undefined, n.event);
        return;
      default:
        // Partial-depth payloads (the heartbeat or a stream no feed maps to) are not market events here.
        return;
    }
  }

  private onState(streams: string[], state: 'live' | 'stale'): void {
    for (const s of streams) {
      if (state === 'stale') {
        this.staleStreams.add(s);
        // A diff stream that lost continuity: its book is rebuilt before anything is published from it.
        const f = this.feeds.get(s);
        if (f?.kind === 'book') this.books.onStreamDown(f.symbol);
      } else this.staleStreams.delete(s);
    }
    // Told even when no feed is on these streams (the heartbeat's connection): /health follows connection states.
    this.changed(streams);
  }

  private changed(streams: string[]): void {
    const feeds: Feed[] = [];
    for (const s of streams) {
      const f = this.feeds.get(s);
      if (f) feeds.push(f);
    }
    this.events.changed(feeds);
  }

  private onRejected(streams: string[], reason: string): void {
    const feeds: Feed[] = [];
    for (const s of streams) {
      if (s === this.heartbeat) this.log.error({ stream: s, reason }, 'the exchange refused the heartbeat stream: set upstream.heartbeatStream to a stream it serves');
      const f = this.feeds.get(s);
      if (!f) continue;
      this.feeds.delete(s);
      this.staleStreams.delete(s);
      feeds.push(f);
    }
    if (feeds.length) this.events.rejected(feeds, reason);
  }
}
