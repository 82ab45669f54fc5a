// One shard's runtime: plugins' channel producers, feed ref-counts, market events, status and frames out; no exchange in it.
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { FrameKind, type FromShard, type ShardStats } from '../core/bus.js';
import { encodeDataFrame, encodeError, encodeFrame } from '../core/protocol.js';
import { errorData, TickgateError, type ErrorData, type ErrorRegistry } from '../core/errors.js';
import { parseChannelName } from '../core/channel-grammar.js';
import { shardFor } from '../core/shard-hash.js';
import { SymbolTable, type SymbolInfo } from '../core/symbol-registry.js';
import { FrameBatcher } from './frame-batcher.js';
import { conflatedEmitter, type ConflatedEmitter } from './conflated-emitter.js';
import { BOOK_LEVELS, MarketEventBus, type MarketEventMap, type MarketEvents, type MarketKind, type MarketNeed } from './market/market-events.js';
import { feed as makeFeed, type ExchangeAdapter, type Feed } from './exchanges/exchange-adapter.js';
import { EXCHANGES } from './exchanges/adapters.js';
import { Backoff } from '../client/backoff.js';
import { LoopDelayMonitor } from '../core/loop-delay.js';
import type { AskContext, Channel, Closer, Emitter, ProducerSpec, ShardApi, Teardown } from './shard-api.js';

interface Producer {
  plugin: string;
  spec: ProducerSpec;
}

interface OpenChannel {
  ch: Channel;
  producer: Producer;
  feeds: Feed[];
  closer: Closer | undefined;
  closed: boolean;
  state: 'live' | 'stale';
  lastErrorAt: number;
  /** A conflated channel's emitter, whose waiting frame and timer go with the channel. */
  conflation: ConflatedEmitter | undefined;
  /** Its every frame is its whole state (a kind declared `conflate`): while the acceptor is behind, only the latest goes out. */
  latestValue: boolean;
  /** A value of it failed to serialise: its next change goes out as the whole state. */
  skipped: boolean;
  /** Its latest value while the acceptor is behind, sent with the next batch. */
  waiting: { type: string; data: unknown; state: { type: string; data: unknown } | undefined; merged: boolean } | undefined;
}

/** Who holds a feed open: channel names, `#hold`, and `#listener:N` for market.on listeners. */
interface FeedRef {
  feed: Feed;
  holders: Set<string>;
  grace: NodeJS.Timeout | undefined;
}

export interface ShardHostOptions {
  shardId: number;
  config: Config;
  log: Logger;
  errors: ErrorRegistry;
  post(msg: FromShard, transfer?: ArrayBuffer[]): void;
  /** Shared with the acceptor: a batch goes out only once it took in the one before (see FrameBatcher). */
  credit?: Int32Array;
  /** The channel kinds whose every frame is the whole state (declared `conflate`): conflated while the acceptor is behind. */
  latestKinds?: readonly string[];
}

/** How often the same channel may get another error frame from a failing listener. */
const ERROR_FRAME_INTERVAL_MS = 10_000;
const STATS_EVERY_MS = 2000;
const STATS_DEBOUNCE_MS = 20;
/** How long frames may wait for the acceptor before the shard logs it, and how often it logs it again. */
const BEHIND_LOG_MS = 1000;
const BEHIND_LOG_EVERY_MS = 10_000;
/** How soon values replaced while the acceptor is behind are reported (between the 2 s reports). */
const CONFLATED_REPORT_MS = 250;
const KINDS: readonly MarketKind[] = ['ticker', 'trade', 'aggTrade', 'kline', 'book', 'depthUpdate'];

export class ShardHost {
  private readonly bus: MarketEventBus;
  readonly symbols: SymbolTable;
  private readonly adapter: ExchangeAdapter;
  private readonly producers = new Map<string, Producer>();
  private readonly channels = new Map<string, OpenChannel>();
  private readonly feeds = new Map<string, FeedRef>();
  private readonly batcher: FrameBatcher;
  private readonly log: Logger;
  private readonly errors: ErrorRegistry;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly loopDelay = new LoopDelayMonitor();
  private lastLoopDelay = { p50: 0, p99: 0, max: 0 };
  private statsDebounce: NodeJS.Timeout | undefined;
  private symbolsTimer: NodeJS.Timeout | undefined;
  private readonly answers = new Map<string, (params: unknown, ctx: AskContext) => unknown>();
  private readonly teardowns: Array<{ plugin: string; fn: Teardown }> = [];
  private readonly releases: Array<{ plugin: string; fn: (released: (symbol: string) => boolean) => void }> = [];
  /**
   * Last data-frame sequence number per channel name, kept across close and reopen: frames of an earlier opening
   * may still be on their way to the acceptor, and numbering must never repeat.
   */
  private readonly seqs = new Map<string, number>();
  /** Feeds kept open without a channel (market.hold), with the timer that releases them. */
  private readonly holds = new Map<string, NodeJS.Timeout>();
  private nextListener = 1;
  private readonly pluginStatus = new Map<string, Record<string, unknown>>();
  private stopped = false;
  private readonly latestKinds: ReadonlySet<string>;
  /** Values of latest-value channels replaced by a newer one while the acceptor was behind (never sent). */
  private conflated = 0;
  /** Data frames numbered (sent) since the shard started: with `conflated`, every value its channels produced. */
  private dataFrames = 0;
  private behindLoggedAt = 0;
  private conflatedLogged = 0;
  private conflatedReport: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ShardHostOptions) {
    this.log = opts.log;
    this.errors = opts.errors;
    this.symbols = new SymbolTable({ allow: opts.config.symbols.allow });
    this.latestKinds = new Set(opts.latestKinds ?? []);
    this.batcher = new FrameBatcher(opts.shardId, (batch, transfer) => opts.post(batch, transfer), opts.credit, opts.config.limits.conflateAfterMs);
    this.bus = new MarketEventBus((tag, err) => this.onListenerError(tag, err));
    this.adapter = EXCHANGES[opts.config.upstream.exchange].create({
      upstream: opts.config.upstream,
      log: this.log,
      heartbeat: opts.shardId === 0 && opts.config.upstream.heartbeatStream !== '',
      events: {
        event: (kind, symbol, arg, event) => {
          // The first cached ticker of a symbol changes the stats' priceCache.
          if (this.bus.emit(kind, symbol, arg, event) && kind === 'ticker') this.scheduleStats();
        },
        changed: (feeds) => this.refreshChannels(feeds),
        rejected: (feeds, reason) => this.onRejected(feeds, reason),
        wanted: (kind, symbol) => this.bus.hasListeners(kind, symbol),
      },
    });
  }

  /** The API handed to one plugin's shard half. */
  apiFor(plugin: string, config: Record<string, unknown>, kinds: readonly string[] | null): ShardApi {
    const log = this.log.child({ plugin });
    return {
      name: plugin,
      config,
      log,
      shardId: this.opts.shardId,
      symbols: this.symbols,
      market: this.market,
      exchange: {
        klines: (symbol, interval, limit, range) => {
          this.symbols.validate(symbol);
          this.interval(interval);
          return this.adapter.klines(symbol, interval, limit, range);
        },
        trades: (symbol, limit) => {
          this.symbols.validate(symbol);
          return this.adapter.trades(symbol, limit);
        },
      },
      report: (event, data) => {
        if (typeof event !== 'string' || event === '') throw new Error(`plugin "${plugin}": report() needs an event name`);
        this.opts.post({ t: 'report', shard: this.opts.shardId, plugin, event, data });
      },
      answer: (question, fn) => {
        const key = `${plugin}:${question}`;
        if (this.answers.has(key)) throw new Error(`plugin "${plugin}" answers "${question}" twice`);
        this.answers.set(key, fn);
      },
      produce: (kind, spec) => {
        if (kinds && !kinds.includes(kind)) {
          throw new Error(`plugin "${plugin}" produces "${kind}", which its acceptor half does not declare${kinds.length ? ` (it declares ${kinds.join(', ')})` : ''}: declare it there with api.channel('${kind}', { key: 'symbol' })`);
        }
        const existing = this.producers.get(kind);
        if (existing) throw new Error(`channel kind "${kind}" is already produced by plugin "${existing.plugin}"`);
        if ('streams' in spec) throw new Error(`plugin "${plugin}": produce("${kind}") names exchange streams; declare what the channel needs instead, e.g. needs: ['book'] or needs: (ch) => [\`kline:\${ch.arg}\`]`);
        if (typeof spec.open !== 'function') throw new Error(`plugin "${plugin}": produce("${kind}") needs an open(ch, out) function`);
        this.producers.set(kind, { plugin, spec });
      },
      setStatus: (status) => {
        this.pluginStatus.set(plugin, status);
        this.scheduleStats();
      },
      onClose: (fn) => {
        this.teardowns.push({ plugin, fn });
      },
      onRelease: (fn) => {
        this.releases.push({ plugin, fn });
      },
    };
  }

  /** Cluster mode: partitions that moved away; each plugin drops what it keeps for their symbols (errors contained). */
  release(partitions: number[], of: number): void {
    const set = new Set(partitions);
    const released = (symbol: string) => set.has(shardFor(symbol, of));
    for (const { plugin, fn } of this.releases) {
      try {
        fn(released);
      } catch (err) {
        this.log.error({ err, plugin }, 'plugin onRelease failed (contained)');
      }
    }
  }

  /** The market data plugins see: listening opens the data, `hold` keeps it open, `latest` reads it. */
  private readonly market: MarketEvents = {
    on: <K extends MarketKind>(kind: K, symbol: string, fn: (event: MarketEventMap[K]) => void, arg?: string) => {
      const f = this.feedOf(kind, symbol, arg);
      const holder = `#listener:${this.nextListener++}`;
      this.ref(f, holder);
      const current = kind === 'book' ? (this.adapter.book(symbol, BOOK_LEVELS) as MarketEventMap[K] | undefined) : undefined;
      const off = this.bus.on(kind, symbol, fn, arg, current);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        off();
        this.unref(f, holder);
      };
    },
    latest: <K extends MarketKind>(kind: K, symbol: string, arg?: string): MarketEventMap[K] | undefined => {
      if (kind === 'book') return this.feeds.has(makeFeed('book', symbol).key) ? (this.adapter.book(symbol, BOOK_LEVELS) as MarketEventMap[K] | undefined) : undefined;
      return this.bus.latest(kind, symbol, arg);
    },
    depth: (symbol, levels) => {
      if (!this.feeds.has(makeFeed('book', symbol).key)) return undefined;
      return this.adapter.book(symbol, Math.max(1, Math.floor(levels)));
    },
    hold: (symbol, needs, idleMs) => {
      let already = true;
      for (const f of needs.map((n) => this.needFeed(symbol, n))) {
        const existing = this.holds.get(f.key);
        if (existing) clearTimeout(existing);
        else {
          if (!this.feeds.get(f.key)?.holders.size) already = false;
          this.ref(f, '#hold');
        }
        const timer = setTimeout(() => {
          this.holds.delete(f.key);
          this.unref(f, '#hold');
        }, idleMs);
        timer.unref();
        this.holds.set(f.key, timer);
      }
      return already;
    },
    isCurrent: (symbol, need) => {
      const f = this.needFeed(symbol, need);
      if (!this.feeds.has(f.key) || this.adapter.isStale(f) || !this.adapter.isLive(f)) return false;
      return f.kind !== 'book' || this.adapter.book(symbol, 1) !== undefined;
    },
  };

  private interval(interval: string | undefined): string {
    if (interval === undefined || !this.adapter.intervals.includes(interval)) {
      throw new TickgateError('TG_ERR_INVALID_INTERVAL', `Invalid kline interval "${String(interval)}": use one of ${this.adapter.intervals.join(' ')}`);
    }
    return interval;
  }

  /** The feed behind a kind of event of a served symbol; throws a coded error for a symbol or interval it does not serve. */
  private feedOf(kind: MarketKind, symbol: string, arg: string | undefined): Feed {
    if (!KINDS.includes(kind)) throw new Error(`unknown market event kind "${String(kind)}": use one of ${KINDS.join(', ')}`);
    if (!this.symbols.loaded) {
      throw new TickgateError('TG_ERR_SYMBOLS_UNAVAILABLE', undefined, 'In a shard half\'s setup, open market data once the list is there: api.symbols.whenLoaded().then(() => api.market.on(…))');
    }
    this.symbols.validate(symbol);
    // A book's changes come with the book: listening to them opens it.
    if (kind === 'depthUpdate') return makeFeed('book', symbol);
    return makeFeed(kind, symbol, kind === 'kline' ? this.interval(arg) : undefined);
  }

  /** Feeds already checked, by symbol and need: `market.hold` runs on every REST query, so it should not parse again. */
  private readonly needFeeds = new Map<string, Map<string, Feed>>();

  private needFeed(symbol: string, need: MarketNeed): Feed {
    let bySymbol = this.needFeeds.get(symbol);
    const known = bySymbol?.get(need);
    if (known) return known;
    const f = this.parseNeed(symbol, need);
    if (!bySymbol) this.needFeeds.set(symbol, (bySymbol = new Map()));
    bySymbol.set(need, f);
    return f;
  }

  private parseNeed(symbol: string, need: MarketNeed): Feed {
    if (typeof need !== 'string') throw new Error(`a market need must be a string such as 'book' or 'kline:1m', not ${typeof need}`);
    const [kind, interval] = need.split(':') as [MarketKind, string | undefined];
    if (!KINDS.includes(kind) || kind === 'depthUpdate' || (kind === 'kline') !== (interval !== undefined)) {
      throw new Error(`unknown market need "${need}": use 'ticker', 'trade', 'aggTrade', 'book' or 'kline:<interval>'`);
    }
    return this.feedOf(kind, symbol, interval);
  }

  start(): void {
    this.statsTimer = setInterval(() => this.postStats(true), STATS_EVERY_MS);
    this.statsTimer.unref();
    this.loopDelay.start();
    this.adapter.start();
    if (this.opts.shardId === 0) void this.loadSymbols(new Backoff(1000, 30_000));
  }

  /** The acceptor's copy of the exchange's symbol list, so this shard validates symbols the same way. */
  setSymbols(list: SymbolInfo[]): void {
    this.symbols.replace(list);
    // A symbol no longer served must be checked (and refused) again.
    this.needFeeds.clear();
  }

  /** Shard 0 keeps the exchange's symbol list current for the acceptor (which passes it on to every shard). */
  private async loadSymbols(backoff: Backoff): Promise<void> {
    if (this.stopped) return;
    let delay: number;
    try {
      const symbols = await this.adapter.symbols();
      if (this.stopped) return;
      this.opts.post({ t: 'symbols', shard: this.opts.shardId, symbols });
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
    if (this.stopped) return;
    if (this.channels.has(name)) {
      // Another gateway of a cluster opens it with the number it saw last: numbering only ever moves on.
      if (seqBase > (this.seqs.get(name) ?? 0)) this.seqs.set(name, seqBase);
      return;
    }
    const parsed = parseChannelName(name);
    const producer = parsed && this.producers.get(parsed.kind);
    if (!parsed || !producer) {
      this.log.error({ channel: name }, 'no producer for this channel kind in the shard: is the plugin\'s shard half missing?');
      this.fail(name, errorData('TG_ERR_CHANNEL_FAILED', `No producer for "${name}" on this server: the plugin that declares it has no shard half`));
      return;
    }
    const ch: Channel = { name, kind: parsed.kind, symbol: parsed.key, arg: parsed.arg, rateMs: parsed.rateMs || 0 };
    let feeds: Feed[];
    try {
      const { needs } = producer.spec;
      const list: unknown = typeof needs === 'function' ? needs(ch) : needs ?? [];
      if (!Array.isArray(list)) throw new Error(`needs of "${parsed.kind}" must be an array such as ['book']`);
      const byKey = new Map((list as MarketNeed[]).map((n) => this.needFeed(ch.symbol, n)).map((f) => [f.key, f]));
      feeds = [...byKey.values()];
    } catch (err) {
      this.producerFailed(name, producer.plugin, err);
      return;
    }
    // The acceptor's count matters after a shard restart (this map is then empty); otherwise the shard's is ahead.
    this.seqs.set(name, Math.max(this.seqs.get(name) ?? 0, seqBase));
    const entry: OpenChannel = { ch, producer, feeds, closer: undefined, closed: false, state: wasStale ? 'stale' : 'live', lastErrorAt: 0, conflation: undefined, latestValue: this.latestKinds.has(ch.kind), waiting: undefined, skipped: false };
    this.channels.set(name, entry);
    for (const f of feeds) this.ref(f, name);
    if (feeds.some((f) => this.adapter.isStale(f))) this.setChannelState(entry, 'stale');
    else if (wasStale && feeds.every((f) => this.adapter.isLive(f))) this.setChannelState(entry, 'live');
    this.bus.currentTag = name;
    let result: ReturnType<ProducerSpec['open']>;
    const out = this.emitterFor(entry);
    if (ch.rateMs > 0) entry.conflation = conflatedEmitter(out, ch.rateMs);
    try {
      result = producer.spec.open(ch, entry.conflation ?? out);
    } catch (err) {
      this.bus.currentTag = undefined;
      this.producerFailed(name, producer.plugin, err);
      return;
    }
    this.bus.currentTag = undefined;
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
  ask(id: number, plugin: string, question: string, params: unknown, symbol: string): void {
    const fn = this.answers.get(`${plugin}:${question}`);
    const fail = (error: ErrorData) => this.opts.post({ t: 'answer', id, ok: false, error });
    if (!fn) return fail(errorData('TG_ERR_INTERNAL', `plugin "${plugin}" has no answer for "${question}" in this shard`));
    Promise.resolve()
      .then(() => fn(params, { symbol }))
      .then(
        (data) => this.opts.post({ t: 'answer', id, ok: true, data }),
        (err: unknown) => {
          const coded = this.errors.toClientError(err);
          if (coded) return fail(coded.hint === undefined ? { code: coded.code, message: coded.message } : { code: coded.code, message: coded.message, hint: coded.hint });
          this.log.error({ err, plugin, question }, 'plugin answer failed');
          fail(errorData('TG_ERR_INTERNAL'));
        },
      )
      .catch((err: unknown) => this.log.error({ err, plugin, question }, 'answer could not be sent back'));
  }

  close(name: string): void {
    const entry = this.channels.get(name);
    if (!entry) return;
    entry.closed = true;
    this.channels.delete(name);
    this.batcher.drop(name);
    entry.conflation?.close();
    runCloser(entry.closer, this.log, name);
    for (const f of entry.feeds) this.unref(f, name);
    this.scheduleStats();
  }

  /** Bound to one opening of the channel: a late emit from an earlier opening never reaches a reopened channel. */
  private emitterFor(entry: OpenChannel): Emitter {
    const channel = entry.ch.name;
    return {
      emit: (type, data, state) => {
        if (entry.closed) return;
        // The acceptor is behind (limits.conflateAfterMs): a channel whose every frame is its whole state sends only
        // its latest value when the batch goes out, numbered then (so numbering has no gap).
        if (entry.latestValue && this.batcher.conflating) this.offerLatest(entry, type, data, state);
        else {
          this.emitSafely(entry, type, data, state);
        }
      },
      raw: (payload) => {
        if (entry.closed) return;
        const seq = (this.seqs.get(channel) ?? 0) + 1;
        this.seqs.set(channel, seq);
        this.dataFrames++;
        this.batcher.push(channel, FrameKind.RAW, payload, seq);
      },
      error: (code, message) => {
        if (entry.closed) return;
        if (!this.errors.get(code)) {
          this.log.error({ channel, plugin: entry.producer.plugin, code }, 'out.error() with an unregistered code: sent as TG_ERR_CHANNEL_FAILED (declare the code with defineErrors)');
          this.batcher.push(channel, FrameKind.ERROR, encodeError(errorData('TG_ERR_CHANNEL_FAILED'), channel));
          return;
        }
        this.batcher.push(channel, FrameKind.ERROR, encodeError(this.errors.data(code, message), channel));
      },
    };
  }

  /**
   * emitData, for a value that may not serialise (a BigInt, a cycle): the channel's subscribers get an error frame and
   * the value takes no number. A change that follows one that failed goes out as the whole state it leads to: a
   * client never applies it to a state it lacks.
   */
  private emitSafely(entry: OpenChannel, type: string, data: unknown, state: { type: string; data: unknown } | undefined): void {
    try {
      if (entry.skipped && state) this.emitData(entry, state.type, state.data, state);
      else this.emitData(entry, type, data, state);
      entry.skipped = false;
    } catch (err) {
      entry.skipped = true;
      this.onListenerError(entry.ch.name, err);
    }
  }

  private emitData(entry: OpenChannel, type: string, data: unknown, state: { type: string; data: unknown } | undefined): void {
    const channel = entry.ch.name;
    const seq = (this.seqs.get(channel) ?? 0) + 1;
    // Serialised before the number is taken: a value that throws leaves no gap.
    const whole = state ? encodeDataFrame(state.type, channel, seq, state.data) : undefined;
    const text = encodeDataFrame(type, channel, seq, data);
    this.seqs.set(channel, seq);
    this.dataFrames++;
    // Before its change: a subscriber that joins between the two gets this state and then a change it already
    // holds (seq not above its own, which clients drop), never a change it lacks.
    if (whole !== undefined) this.batcher.push(channel, FrameKind.SNAPSHOT, whole, seq);
    this.batcher.push(channel, FrameKind.DATA, text, seq);
  }

  /**
   * Keeps a latest-value channel's value until the batch goes out, replacing the one kept before (counted). A delta
   * channel's changes cannot be merged: once one is replaced, the whole state goes out, as its snapshot and as a
   * whole frame, which replaces the book of a client that applies changes.
   */
  private offerLatest(entry: OpenChannel, type: string, data: unknown, state: { type: string; data: unknown } | undefined): void {
    let w = entry.waiting;
    if (w) {
      w.type = type;
      w.data = data;
      w.state = state;
      w.merged = true;
    } else entry.waiting = w = { type, data, state, merged: false };
    const replaced = this.batcher.offerLatest(entry.ch.name, () => {
      entry.waiting = undefined;
      if (entry.closed) return;
      // Serialised now, for whoever pushed or flushed: a value that cannot be is this channel's failure alone.
      if (w.merged && w.state) this.emitSafely(entry, w.state.type, w.state.data, w.state);
      else this.emitSafely(entry, w.type, w.data, w.state);
    });
    // Reported within CONFLATED_REPORT_MS, so that /health and the metrics count it while it happens.
    if (replaced) {
      this.conflated++;
      if (!this.conflatedReport) {
        this.conflatedReport = setTimeout(() => {
          this.conflatedReport = undefined;
          this.postStats();
        }, CONFLATED_REPORT_MS);
        this.conflatedReport.unref();
      }
    }
  }

  /** A producer's failure as the client sees it: its registered code, or TG_ERR_CHANNEL_FAILED. */
  private failure(err: unknown, fallback: string): ErrorData {
    const coded = this.errors.toClientError(err);
    if (!coded) return errorData('TG_ERR_CHANNEL_FAILED', fallback);
    return coded.hint === undefined ? { code: coded.code, message: coded.message } : { code: coded.code, message: coded.message, hint: coded.hint };
  }

  private producerFailed(name: string, plugin: string, err: unknown): void {
    this.log.error({ err, channel: name, plugin }, 'channel producer failed to open: channel closed');
    this.close(name);
    this.fail(name, this.failure(err, 'The producer of this channel failed: the server logged the cause; resubscribe later'));
  }

  /** Sends a final error frame; the acceptor then unsubscribes the channel's clients. */
  private fail(name: string, error: ErrorData): void {
    this.batcher.push(name, FrameKind.FAILED, encodeError(error, name));
  }

  private onListenerError(tag: unknown, err: unknown): void {
    const name = typeof tag === 'string' ? tag : undefined;
    const entry = name ? this.channels.get(name) : undefined;
    const now = Date.now();
    if (entry && now - entry.lastErrorAt < ERROR_FRAME_INTERVAL_MS) return;
    if (entry) entry.lastErrorAt = now;
    this.log.error({ err, channel: name, plugin: entry?.producer.plugin }, 'plugin listener threw: event skipped for this channel');
    if (entry) this.batcher.push(entry.ch.name, FrameKind.ERROR, encodeError(this.failure(err, 'The producer of this channel failed on an update: the server logged the cause; updates continue'), entry.ch.name));
  }

  private ref(f: Feed, holder: string): void {
    let ref = this.feeds.get(f.key);
    if (!ref) {
      ref = { feed: f, holders: new Set(), grace: undefined };
      this.feeds.set(f.key, ref);
      this.adapter.open(f);
      this.scheduleStats();
    }
    if (ref.grace) {
      clearTimeout(ref.grace);
      ref.grace = undefined;
    }
    ref.holders.add(holder);
  }

  private unref(f: Feed, holder: string): void {
    const ref = this.feeds.get(f.key);
    if (!ref) return;
    ref.holders.delete(holder);
    if (ref.holders.size > 0) return;
    const drop = () => {
      if (this.feeds.get(f.key) !== ref) return;
      this.feeds.delete(f.key);
      this.adapter.close(ref.feed);
      // Cached values fed by it are never replayed as current after it stops.
      this.bus.forget(f.kind, f.symbol, f.interval);
      this.scheduleStats();
    };
    const grace = this.opts.config.upstream.unsubscribeGraceMs;
    if (grace === 0 || this.stopped) drop();
    else ref.grace = setTimeout(drop, grace);
  }

  /** Recomputes the status of the channels fed by these feeds and tells subscribers of changes. */
  private refreshChannels(feeds: Feed[]): void {
    const touched = new Set<string>();
    for (const f of feeds) {
      const ref = this.feeds.get(f.key);
      if (ref) for (const holder of ref.holders) touched.add(holder);
    }
    for (const name of touched) {
      const entry = this.channels.get(name);
      if (entry) this.setChannelState(entry, entry.feeds.some((f) => this.adapter.isStale(f)) ? 'stale' : 'live');
    }
    this.scheduleStats();
  }

  private setChannelState(entry: OpenChannel, state: 'live' | 'stale'): void {
    if (entry.state === state) return;
    entry.state = state;
    const kind = state === 'stale' ? FrameKind.STALE : FrameKind.LIVE;
    this.batcher.push(entry.ch.name, kind, encodeFrame('status', entry.ch.name, { state }));
  }

  private onRejected(feeds: Feed[], reason: string): void {
    const failed = new Set<string>();
    for (const f of feeds) {
      const ref = this.feeds.get(f.key);
      if (!ref) continue;
      // Forget the feed now (not after the grace period): a channel reopened later must open it afresh.
      if (ref.grace) clearTimeout(ref.grace);
      this.feeds.delete(f.key);
      this.bus.forget(f.kind, f.symbol, f.interval);
      for (const holder of ref.holders) {
        if (this.channels.has(holder)) failed.add(holder);
        else this.log.warn({ feed: f.key, holder, reason }, 'the exchange refused market data a plugin listens to');
      }
    }
    for (const name of failed) {
      this.close(name);
      this.fail(name, errorData('TG_ERR_UPSTREAM_REJECTED', `The exchange rejected the stream for ${name}: ${reason}`));
    }
  }

  private scheduleStats(): void {
    if (this.statsDebounce || this.stopped) return;
    this.statsDebounce = setTimeout(() => {
      this.statsDebounce = undefined;
      this.postStats();
    }, STATS_DEBOUNCE_MS);
  }

  /**
   * `behindMs`: the longest wait for the acceptor in the report's window (FrameBatcher). `periodic`: the 2 s report,
   * which reads (and restarts) the loop-delay window; the reports between repeat its last figures.
   */
  stats(behindMs = 0, periodic = true): ShardStats {
    const info = this.adapter.info();
    const symbols = new Set<string>();
    for (const ref of this.feeds.values()) symbols.add(ref.feed.symbol);
    return {
      t: 'stats',
      shard: this.opts.shardId,
      channels: this.channels.size,
      streams: info.streams,
      symbols: [...symbols],
      priceCache: this.bus.cachedCount('ticker'),
      connections: info.connections,
      restUsedWeight: info.restUsedWeight,
      bookResyncs: info.bookResyncs,
      conflated: this.conflated,
      dataFrames: this.dataFrames,
      behindMs,
      loopDelay: periodic ? (this.lastLoopDelay = this.loopDelay.read()) : this.lastLoopDelay,
      plugins: Object.fromEntries(this.pluginStatus),
    };
  }

  /** `periodic`: the 2 s report, which closes the window of the longest wait; the others report it so far. */
  private postStats(periodic = false): void {
    if (this.stopped) return;
    const behindMs = Math.round(periodic ? this.batcher.takeMaxHeldMs() : this.batcher.peekMaxHeldMs());
    if (periodic) this.logBehind(behindMs);
    this.opts.post(this.stats(behindMs, periodic));
  }

  /** The acceptor took in the last batch: what gathered meanwhile goes out. */
  resume(): void {
    this.batcher.resume();
  }

  /** Tells the operator, at most every 10 s, that the acceptor thread does not keep up with this shard. */
  private logBehind(behindMs: number): void {
    const now = Date.now();
    const conflated = this.conflated - this.conflatedLogged;
    if ((behindMs < BEHIND_LOG_MS && conflated === 0) || now - this.behindLoggedAt < BEHIND_LOG_EVERY_MS) return;
    this.behindLoggedAt = now;
    this.conflatedLogged = this.conflated;
    this.log.warn({ behindMs, conflated, hint: 'the acceptor thread is saturated: give the gateway a core of its own, fewer clients per gateway (cluster mode), or subscribe clients to @RATE channels' },
      `the acceptor thread is behind this shard (frames waited up to ${behindMs} ms): whole-state channels (price, ticker, depth, depthDelta, kinds declared conflate) send only their latest value once frames wait limits.conflateAfterMs`);
  }

  /** Closes the channels, runs the plugins' teardowns (last loaded first), then closes the exchange connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.loopDelay.stop();
    for (const t of [this.statsTimer, this.statsDebounce, this.symbolsTimer, this.conflatedReport]) if (t) clearTimeout(t);
    for (const name of [...this.channels.keys()]) this.close(name);
    for (const { plugin, fn } of this.teardowns.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err, plugin }, 'plugin teardown failed');
      }
    }
    for (const ref of this.feeds.values()) if (ref.grace) clearTimeout(ref.grace);
    for (const timer of this.holds.values()) clearTimeout(timer);
    this.holds.clear();
    this.feeds.clear();
    this.batcher.flushAll();
    await this.adapter.stop();
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
