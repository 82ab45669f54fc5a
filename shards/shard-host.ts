// One shard's engine: channel producers of plugins, upstream stream ref-counts, normalised events, status and frames out.
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { FrameKind, type FromShard, type ShardStats } from '../core/bus.js';
import { encodeDataFrame, encodeError, encodeFrame } from '../core/protocol.js';
import { errorData, type ErrorCode } from '../core/errors.js';
import { parseChannelName } from '../core/channel-grammar.js';
import { FrameBatcher } from './frame-batcher.js';
import { MarketEventBus, type MarketKind } from './market/market-events.js';
import { klineFromRow, normalise, PayloadError, streamSymbol } from './market/binance-normaliser.js';
import { BinanceStreamPool } from './upstream/binance/binance-stream-pool.js';
import { BookManager } from './market/book-manager.js';
import { CandleContinuity } from './market/candle-continuity.js';
import type { DepthSnapshot } from './market/order-book.js';
import { BinanceRest } from './upstream/binance/binance-rest.js';
import { Backoff } from './upstream/backoff.js';
import type { Channel, Closer, Emitter, ProducerSpec, ShardApi } from './shard-api.js';

interface Producer {
  plugin: string;
  spec: ProducerSpec;
}

interface OpenChannel {
  ch: Channel;
  producer: Producer;
  streams: string[];
  closer: Closer | undefined;
  closed: boolean;
  state: 'live' | 'stale';
  lastErrorAt: number;
}

interface StreamRef {
  channels: Set<string>;
  grace: NodeJS.Timeout | undefined;
}

export interface ShardHostOptions {
  shardId: number;
  config: Config;
  log: Logger;
  post(msg: FromShard, transfer?: ArrayBuffer[]): void;
}

/** How often the same channel may get another error frame from a failing listener. */
const ERROR_FRAME_INTERVAL_MS = 10_000;
const STATS_EVERY_MS = 2000;
const STATS_DEBOUNCE_MS = 20;
/** Levels of the REST snapshot a local book starts from (Binance weight 50), and levels handed to listeners. */
const BOOK_SNAPSHOT_LEVELS = 1000;
const BOOK_EVENT_LEVELS = 100;
/** The pseudo-channel that holds the heartbeat stream. */
const HEARTBEAT = '#heartbeat';

export class ShardHost {
  readonly market: MarketEventBus;
  private readonly producers = new Map<string, Producer>();
  private readonly channels = new Map<string, OpenChannel>();
  private readonly streamRefs = new Map<string, StreamRef>();
  /** Streams whose connection is down or stalled. */
  private readonly staleStreams = new Set<string>();
  /** Diff-depth streams whose local book is being rebuilt (after a gap or a reconnect). */
  private readonly unsyncedStreams = new Set<string>();
  private readonly books: BookManager;
  readonly candles: CandleContinuity;
  private readonly lastTradeId = new Map<string, number>();
  private readonly batcher: FrameBatcher;
  private readonly pool: BinanceStreamPool;
  private readonly rest: BinanceRest;
  private readonly log: Logger;
  private statsTimer: NodeJS.Timeout | undefined;
  private statsDebounce: NodeJS.Timeout | undefined;
  private symbolsTimer: NodeJS.Timeout | undefined;
  private payloadErrors = 0;
  private readonly answers = new Map<string, (params: unknown) => unknown>();
  /**
   * Last data-frame sequence number per channel name, kept across close and reopen: frames of an earlier opening
   * may still be on their way to the acceptor, and numbering must never repeat.
   */
  private readonly seqs = new Map<string, number>();
  /** Streams kept open without a channel (ShardApi.hold), with the timer that releases them. */
  private readonly holds = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly opts: ShardHostOptions) {
    this.log = opts.log;
    const up = opts.config.upstream;
    this.batcher = new FrameBatcher(opts.shardId, (batch, transfer) => opts.post(batch, transfer));
    this.market = new MarketEventBus((tag, err) => this.onListenerError(tag, err));
    this.rest = new BinanceRest({ baseUrl: up.restUrl, timeoutMs: up.restTimeoutMs, optionalWeightBudget: up.optionalRestWeightPerMinute, log: this.log.child({ component: 'binance-rest' }) });
    this.books = new BookManager({
      log: this.log.child({ component: 'order-book' }),
      snapshot: (symbol) => this.rest.get<DepthSnapshot>('/api/v3/depth', { symbol, limit: BOOK_SNAPSHOT_LEVELS }, { weight: 50, budget: up.snapshotRestWeightPerMinute }),
      updated: (symbol, sync, eventTime) => {
        if (!this.market.hasListeners('book', symbol)) return;
        const top = sync.book.top(BOOK_EVENT_LEVELS);
        this.market.emit('book', symbol, undefined, { symbol, eventTime, lastUpdateId: sync.book.lastUpdateId, bids: top.bids, asks: top.asks });
      },
      syncState: (symbol, live) => {
        const stream = `${symbol.toLowerCase()}@depth@100ms`;
        if (live) this.unsyncedStreams.delete(stream);
        else {
          this.unsyncedStreams.add(stream);
          // The last book is no longer current: never replay it to a new listener or answer a query with it.
          this.market.forget('book', symbol);
        }
        this.refreshChannels([stream]);
      },
    });
    this.candles = new CandleContinuity({
      log: this.log.child({ component: 'candles' }),
      fetch: async (symbol, interval, startTime, endTime) => {
        const rows = await this.rest.klines(symbol, interval, 1000, { startTime, endTime, optional: false });
        const now = Date.now();
        return rows.map((row) => klineFromRow(symbol, interval, row, now)).filter((k) => k.isFinal);
      },
      emit: (k) => this.market.emit('kline', k.symbol, k.interval, k),
    });
    this.pool = new BinanceStreamPool({
      ...up,
      log: this.log.child({ component: 'binance-stream' }),
      onMessage: (stream, data) => this.onUpstreamMessage(stream, data),
      onState: (streams, state) => this.onStreamState(streams, state),
      onRejected: (streams, reason) => this.onRejected(streams, reason),
    });
  }

  /** The API handed to one plugin's shard half. */
  apiFor(plugin: string, config: Record<string, unknown>): ShardApi {
    return {
      config,
      log: this.log.child({ plugin }),
      shardId: this.opts.shardId,
      market: this.market,
      exchange: {
        klines: async (symbol, interval, limit) => {
          const rows = await this.rest.klines(symbol, interval, limit);
          const now = Date.now();
          return rows.map((row) => klineFromRow(symbol, interval, row, now));
        },
        trades: async (symbol, limit) => {
          const rows = await this.rest.get<Array<{ id: number; price: string; qty: string; time: number; isBuyerMaker: boolean }>>('/api/v3/trades', { symbol, limit }, { weight: 25, optional: true });
          return rows.map((r) => ({ symbol, eventTime: r.time, tradeId: r.id, price: Number(r.price), quantity: Number(r.qty), tradeTime: r.time, buyerIsMaker: r.isBuyerMaker }));
        },
      },
      answer: (question, fn) => {
        const key = `${plugin}:${question}`;
        if (this.answers.has(key)) throw new Error(`plugin "${plugin}" answers "${question}" twice`);
        this.answers.set(key, fn);
      },
      hold: (streams, idleMs) => this.hold(streams, idleMs),
      produce: (kind, spec) => {
        const existing = this.producers.get(kind);
        if (existing) throw new Error(`channel kind "${kind}" is already produced by plugin "${existing.plugin}"`);
        this.producers.set(kind, { plugin, spec });
      },
    };
  }

  start(): void {
    this.statsTimer = setInterval(() => this.postStats(), STATS_EVERY_MS);
    this.statsTimer.unref();
    if (this.opts.shardId !== 0) return;
    void this.loadSymbols(new Backoff(1000, 30_000));
    // One stream held at all times, so an idle gateway still knows (and /health says) whether the exchange delivers.
    const heartbeat = this.opts.config.upstream.heartbeatStream;
    if (heartbeat) this.ref(heartbeat, HEARTBEAT);
  }

  /** Shard 0 keeps the exchange's symbol list current for the acceptor's validation. */
  private async loadSymbols(backoff: Backoff): Promise<void> {
    if (this.stopped) return;
    let delay: number;
    try {
      const symbols = await this.rest.exchangeInfo();
      if (this.stopped) return;
      this.opts.post({ t: 'symbols', shard: this.opts.shardId, symbols: symbols.map((s) => [s.symbol, s.status]) });
      this.log.info({ symbols: symbols.length }, 'exchange symbol list loaded');
      backoff.reset();
      delay = this.opts.config.upstream.symbolsRefreshMs;
    } catch (err) {
      if (this.stopped) return;
      const retryAfter = (err as { retryAfterMs?: number }).retryAfterMs;
      delay = Math.max(backoff.next(), retryAfter ?? 0);
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ err: message, retryInMs: delay, url: this.opts.config.upstream.restUrl, hint: 'no network to the exchange? `npm run demo` runs against the simulated exchange' }, 'cannot load the exchange symbol list');
      this.opts.post({ t: 'symbolsFailed', shard: this.opts.shardId, message });
    }
    this.symbolsTimer = setTimeout(() => void this.loadSymbols(backoff), delay);
    this.symbolsTimer.unref();
  }

  open(name: string, seqBase = 0, wasStale = false): void {
    if (this.stopped || this.channels.has(name)) return;
    const parsed = parseChannelName(name);
    const producer = parsed && this.producers.get(parsed.kind);
    if (!parsed || !producer) {
      this.log.error({ channel: name }, 'no producer for this channel kind in the shard: is the plugin\'s shard half missing?');
      this.fail(name, 'TG_ERR_CHANNEL_FAILED', `No producer for "${name}" on this server: the plugin that declares it has no shard half`);
      return;
    }
    const ch: Channel = { name, kind: parsed.kind, symbol: parsed.key, arg: parsed.arg };
    let streams: string[];
    try {
      const list: unknown = producer.spec.streams ? producer.spec.streams(ch) : [];
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) throw new Error(`streams() of "${parsed.kind}" must return an array of stream names`);
      streams = [...new Set(list as string[])];
    } catch (err) {
      this.producerFailed(name, producer.plugin, err);
      return;
    }
    // The acceptor's count matters after a shard restart (this map is then empty); otherwise the shard's is ahead.
    this.seqs.set(name, Math.max(this.seqs.get(name) ?? 0, seqBase));
    const entry: OpenChannel = { ch, producer, streams, closer: undefined, closed: false, state: wasStale ? 'stale' : 'live', lastErrorAt: 0 };
    this.channels.set(name, entry);
    for (const s of streams) {
      this.ref(s, name);
      // A stream placed on a connection that is waiting to reconnect is stale from the start.
      if (this.pool.isDown(s)) this.staleStreams.add(s);
    }
    if (streams.some((s) => this.isStale(s))) this.setChannelState(entry, 'stale');
    else if (wasStale && streams.every((s) => this.pool.isLive(s))) this.setChannelState(entry, 'live');
    this.market.currentTag = name;
    let result: ReturnType<ProducerSpec['open']>;
    try {
      result = producer.spec.open(ch, this.emitterFor(entry));
    } catch (err) {
      this.market.currentTag = undefined;
      this.producerFailed(name, producer.plugin, err);
      return;
    }
    this.market.currentTag = undefined;
    if (result instanceof Promise) {
      result.then(
        (closer) => {
          if (entry.closed) runCloser(closer ?? undefined, this.log, name);
          else entry.closer = closer ?? undefined;
        },
        (err: unknown) => {
          if (!entry.closed) this.producerFailed(name, producer.plugin, err);
        },
      );
    } else {
      entry.closer = result ?? undefined;
    }
    this.scheduleStats();
  }

  /** Answers a question from a plugin's acceptor half; errors cross back as {code, message}. */
  ask(id: number, plugin: string, question: string, params: unknown): void {
    const fn = this.answers.get(`${plugin}:${question}`);
    const fail = (code: string, message: string) => this.opts.post({ t: 'answer', id, ok: false, error: { code, message } });
    if (!fn) return fail('TG_ERR_INTERNAL', `plugin "${plugin}" has no answer for "${question}" in this shard`);
    Promise.resolve()
      .then(() => fn(params))
      .then(
        (data) => this.opts.post({ t: 'answer', id, ok: true, data }),
        (err: unknown) => {
          const code = (err as { code?: unknown })?.code;
          if (typeof code === 'string' && code.startsWith('TG_ERR_')) return fail(code, String((err as Error).message));
          this.log.error({ err, plugin, question }, 'plugin answer failed');
          fail('TG_ERR_INTERNAL', 'Internal error: the server logged the cause');
        },
      )
      .catch((err: unknown) => this.log.error({ err, plugin, question }, 'answer could not be sent back'));
  }

  private hold(streams: string[], idleMs: number): boolean {
    let already = true;
    for (const stream of streams) {
      const tag = `#hold:${stream}`;
      const existing = this.holds.get(stream);
      if (existing) clearTimeout(existing);
      else {
        if (!this.streamRefs.get(stream)?.channels.size) already = false;
        this.ref(stream, tag);
      }
      const timer = setTimeout(() => {
        this.holds.delete(stream);
        this.unref(stream, tag);
      }, idleMs);
      timer.unref();
      this.holds.set(stream, timer);
    }
    return already;
  }

  close(name: string): void {
    const entry = this.channels.get(name);
    if (!entry) return;
    entry.closed = true;
    this.channels.delete(name);
    runCloser(entry.closer, this.log, name);
    for (const s of entry.streams) this.unref(s, name);
    this.scheduleStats();
  }

  /** Bound to one opening of the channel: a late emit from an earlier opening never reaches a reopened channel. */
  private emitterFor(entry: OpenChannel): Emitter {
    const channel = entry.ch.name;
    return {
      emit: (type, data) => {
        if (entry.closed) return;
        const seq = (this.seqs.get(channel) ?? 0) + 1;
        this.seqs.set(channel, seq);
        this.batcher.push(channel, FrameKind.DATA, encodeDataFrame(type, channel, seq, data), seq);
      },
      error: (code, message) => {
        if (!entry.closed) this.batcher.push(channel, FrameKind.ERROR, encodeError(errorData(code, message), channel));
      },
    };
  }

  private producerFailed(name: string, plugin: string, err: unknown): void {
    this.log.error({ err, channel: name, plugin }, 'channel producer failed to open: channel closed');
    this.close(name);
    this.fail(name, 'TG_ERR_CHANNEL_FAILED');
  }

  /** Sends a final error frame; the acceptor then unsubscribes the channel's clients. */
  private fail(name: string, code: ErrorCode, message?: string): void {
    this.batcher.push(name, FrameKind.FAILED, encodeError(errorData(code, message), name));
  }

  private onListenerError(tag: unknown, err: unknown): void {
    const name = typeof tag === 'string' ? tag : undefined;
    const entry = name ? this.channels.get(name) : undefined;
    const now = Date.now();
    if (entry && now - entry.lastErrorAt < ERROR_FRAME_INTERVAL_MS) return;
    if (entry) entry.lastErrorAt = now;
    this.log.error({ err, channel: name, plugin: entry?.producer.plugin }, 'plugin listener threw: event skipped for this channel');
    if (entry) this.batcher.push(entry.ch.name, FrameKind.ERROR, encodeError(errorData('TG_ERR_CHANNEL_FAILED', 'The producer of this channel failed on an update: the server logged the cause; updates continue'), entry.ch.name));
  }

  private ref(stream: string, channel: string): void {
    let ref = this.streamRefs.get(stream);
    if (!ref) {
      ref = { channels: new Set(), grace: undefined };
      this.streamRefs.set(stream, ref);
      this.pool.subscribe(stream);
    }
    if (ref.grace) {
      clearTimeout(ref.grace);
      ref.grace = undefined;
    }
    ref.channels.add(channel);
  }

  private unref(stream: string, channel: string): void {
    const ref = this.streamRefs.get(stream);
    if (!ref) return;
    ref.channels.delete(channel);
    if (ref.channels.size > 0) return;
    const drop = () => {
      this.streamRefs.delete(stream);
      this.staleStreams.delete(stream);
      this.pool.unsubscribe(stream);
      this.forgetStream(stream);
      this.scheduleStats();
    };
    const grace = this.opts.config.upstream.unsubscribeGraceMs;
    if (grace === 0 || this.stopped) drop();
    else ref.grace = setTimeout(drop, grace);
  }

  /** Drops cached values fed by a stream, so they are never replayed as current after it stops. */
  private forgetStream(stream: string): void {
    const symbol = streamSymbol(stream);
    const kind = stream.slice(stream.indexOf('@') + 1);
    const forget = (k: MarketKind, arg?: string) => this.market.forget(k, symbol, arg);
    if (kind === 'ticker') forget('ticker');
    else if (kind === 'trade' || kind === 'aggTrade') {
      forget(kind);
      this.lastTradeId.delete(`${kind}|${symbol}`);
    } else if (kind.startsWith('kline_')) {
      forget('kline', kind.slice('kline_'.length));
      this.candles.forget(symbol, kind.slice('kline_'.length));
    }
    else if (kind === 'depth@100ms') {
      forget('book');
      this.books.drop(symbol);
      this.unsyncedStreams.delete(stream);
    } else {
      const depth = /^depth(5|10|20)/.exec(kind);
      if (depth) forget('depth', depth[1]);
    }
  }

  private onUpstreamMessage(stream: string, data: unknown): void {
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
    if (n.kind === 'depthDiff') {
      this.books.onDiff(n.symbol, n.diff, n.eventTime);
      return;
    }
    if (n.kind === 'kline') {
      this.candles.accept(n.event);
      return;
    }
    if (n.kind === 'trade' || n.kind === 'aggTrade') {
      // During a connection renewal both connections deliver for a moment: drop trades already seen.
      const key = `${n.kind}|${n.symbol}`;
      const last = this.lastTradeId.get(key);
      const id = n.kind === 'trade' ? n.event.tradeId : n.event.aggId;
      if (last !== undefined && id <= last && last - id < 1_000_000) return;
      this.lastTradeId.set(key, id);
    }
    // The first cached ticker of a symbol changes the stats' priceCache.
    if (this.market.emit(n.kind, n.symbol, n.arg, n.event as never) && n.kind === 'ticker') this.scheduleStats();
  }

  private onStreamState(streams: string[], state: 'live' | 'stale'): void {
    for (const s of streams) {
      if (state === 'stale') {
        this.staleStreams.add(s);
        // A diff stream that lost continuity: its book is rebuilt before anything is published from it.
        if (s.endsWith('@depth@100ms')) this.books.onStreamDown(streamSymbol(s));
      } else this.staleStreams.delete(s);
    }
    this.refreshChannels(streams);
    this.scheduleStats();
  }

  private isStale(stream: string): boolean {
    return this.staleStreams.has(stream) || this.unsyncedStreams.has(stream);
  }

  /** Recomputes the status of the channels fed by these streams and tells subscribers of changes. */
  private refreshChannels(streams: string[]): void {
    const touched = new Set<string>();
    for (const s of streams) {
      const ref = this.streamRefs.get(s);
      if (ref) for (const c of ref.channels) touched.add(c);
    }
    for (const name of touched) {
      const entry = this.channels.get(name);
      if (entry) this.setChannelState(entry, entry.streams.some((s) => this.isStale(s)) ? 'stale' : 'live');
    }
  }

  private setChannelState(entry: OpenChannel, state: 'live' | 'stale'): void {
    if (entry.state === state) return;
    entry.state = state;
    const kind = state === 'stale' ? FrameKind.STALE : FrameKind.LIVE;
    this.batcher.push(entry.ch.name, kind, encodeFrame('status', entry.ch.name, { state }));
  }

  private onRejected(streams: string[], reason: string): void {
    const failed = new Set<string>();
    for (const s of streams) {
      const ref = this.streamRefs.get(s);
      if (!ref) continue;
      for (const c of ref.channels) failed.add(c);
      // Forget the stream now (not after the grace period): a channel reopened later must subscribe it afresh.
      if (ref.grace) clearTimeout(ref.grace);
      this.streamRefs.delete(s);
      this.staleStreams.delete(s);
      if (ref.channels.has(HEARTBEAT)) this.log.error({ stream: s, reason }, 'the exchange refused the heartbeat stream: set upstream.heartbeatStream to a stream it serves');
    }
    for (const name of failed) {
      this.close(name);
      this.fail(name, 'TG_ERR_UPSTREAM_REJECTED', `The exchange rejected the stream for ${name}: ${reason}`);
    }
  }

  private scheduleStats(): void {
    if (this.statsDebounce || this.stopped) return;
    this.statsDebounce = setTimeout(() => {
      this.statsDebounce = undefined;
      this.postStats();
    }, STATS_DEBOUNCE_MS);
  }

  stats(): ShardStats {
    return {
      t: 'stats',
      shard: this.opts.shardId,
      channels: this.channels.size,
      streams: this.pool.streams(),
      priceCache: this.market.cachedCount('ticker'),
      connections: this.pool.info(),
      restUsedWeight: this.rest.usedWeight,
    };
  }

  private postStats(): void {
    if (!this.stopped) this.opts.post(this.stats());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.statsTimer, this.statsDebounce, this.symbolsTimer]) if (t) clearTimeout(t);
    for (const name of [...this.channels.keys()]) this.close(name);
    for (const ref of this.streamRefs.values()) if (ref.grace) clearTimeout(ref.grace);
    for (const timer of this.holds.values()) clearTimeout(timer);
    this.holds.clear();
    this.streamRefs.clear();
    this.books.close();
    this.batcher.flush();
    await this.pool.close();
    await this.rest.close();
  }
}

function runCloser(closer: Closer | undefined, log: Logger, channel: string): void {
  if (!closer) return;
  try {
    closer();
  } catch (err) {
    log.error({ err, channel }, 'channel closer threw');
  }
}
