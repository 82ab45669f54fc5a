// Messages between the acceptor and the shards: the one interface every transport (threads today, NATS later) carries.
import type { ErrorData } from './errors.js';
import type { SymbolInfo } from './symbol-registry.js';

/** Kind of each frame in a batch, so the acceptor routes it without parsing it. */
export const FrameKind = {
  /** A data frame: published, and kept as the channel's snapshot for new subscribers. */
  DATA: 0,
  /** status stale: published, and replayed to new subscribers until a LIVE arrives. */
  STALE: 1,
  /** status live. */
  LIVE: 2,
  /** An error frame for the channel's subscribers; the channel stays open. */
  ERROR: 3,
  /** An error frame after which the channel is closed: its subscribers are unsubscribed. */
  FAILED: 4,
  /**
   * A data frame in the channel's own format (a `raw` channel kind's, e.g. another API's payload), for the plugins
   * holding the channel with `watchRaw`: numbered like DATA, never kept as a snapshot, never sent to /ws clients.
   */
  RAW: 5,
  /**
   * The whole state of a channel whose data frames are changes (a delta channel), numbered like the DATA frame it
   * goes with and sent just before it: kept as the snapshot new subscribers get first, never published or kept in
   * the history (the changes are).
   */
  SNAPSHOT: 6,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Frames of one shard event-loop turn in one buffer: frame i is bytes [ends[i-1], ends[i]) on channels[i]. */
export interface FrameBatch {
  t: 'frames';
  shard: number;
  channels: string[];
  kinds: Uint8Array;
  /** The data frames' sequence numbers (0 for other frames). */
  seqs: Float64Array;
  ends: Uint32Array;
  buf: ArrayBuffer;
}

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

export interface UpstreamConnectionInfo {
  id: number;
  state: string;
  live: boolean;
  streams: number;
  lastMessageAgeMs: number | null;
  ageMs: number | null;
  reconnects: number;
}

export interface ShardStats {
  t: 'stats';
  shard: number;
  channels: number;
  /** The exchange's names of the streams open now. */
  streams: string[];
  /** Symbols with market data open (channels, holds, listeners): the active-symbol cap counts these. */
  symbols: string[];
  priceCache: number;
  connections: UpstreamConnectionInfo[];
  restUsedWeight: number;
  /** Local order books rebuilt from a snapshot since the shard started. */
  bookResyncs: number;
  /**
   * Values of latest-value channels (kinds declared `conflate`) replaced by a newer one, never sent, because the
   * acceptor had not yet taken in the frames before them, since the shard started.
   */
  conflated: number;
  /** Data frames numbered and sent since the shard started (with `conflated`, the share of values replaced). */
  dataFrames: number;
  /** The longest time frames waited for the acceptor to take in the batch before them since the last stats, in ms (0: it keeps up). */
  behindMs: number;
  /** The shard thread's event-loop delay since its last stats, in seconds. */
  loopDelay: LoopDelay;
  /** The plugins' statuses in this shard (ShardApi.setStatus), by plugin name. */
  plugins: Record<string, Record<string, unknown>>;
}

/**
 * `seq`: the last sequence number the acceptor saw on this channel, so numbering continues across reopenings and
 * shard restarts. `stale`: the channel was stale before (its shard restarted): report live once its upstream delivers.
 */
export type ToShard =
  | { t: 'open'; channel: string; seq: number; stale?: boolean }
  /** A question to a plugin's shard half (AcceptorApi.ask → ShardApi.answer), routed by `symbol`. */
  | { t: 'ask'; id: number; plugin: string; question: string; params: unknown; symbol: string }
  /** The exchange's symbol list, as shard 0 loaded it: every shard validates symbols against the same list. */
  | { t: 'symbols'; symbols: SymbolInfo[] }
  /** Cluster mode: these partitions (of `of`) moved to another ingest node: plugins drop what they keep for their symbols. */
  | { t: 'release'; partitions: number[]; of: number }
  | { t: 'close'; channel: string } | { t: 'stop' }
  /** The acceptor took in the batch this shard waited on (thread transport): send the next. */
  | { t: 'credit' };

export type FromShard =
  | { t: 'ready'; shard: number }
  | FrameBatch
  | ShardStats
  | { t: 'symbols'; shard: number; symbols: SymbolInfo[] }
  | { t: 'symbolsFailed'; shard: number; message: string }
  /** A plugin's shard half failed to load: the start stops, naming the plugin. */
  | { t: 'pluginFailed'; shard: number; plugin: string; message: string }
  | { t: 'answer'; id: number; ok: true; data: unknown }
  | { t: 'answer'; id: number; ok: false; error: ErrorData }
  /** Something a plugin's shard half tells its acceptor half (ShardApi.report → AcceptorApi.onReport), in order. */
  | { t: 'report'; shard: number; plugin: string; event: string; data: unknown }
  | { t: 'stopped'; shard: number };

/** One shard as health and metrics see it (a thread; in cluster mode, a thread of an ingest node). */
export interface ShardInfo {
  shard: number;
  state: 'running' | 'down';
  restarts: number;
  uptimeMs: number;
  stats: ShardStats | undefined;
}

/** One shard's answer to a question asked of every shard. */
export type EachAnswer = { shard: number; ok: true; data: unknown } | { shard: number; ok: false; error: Error & { code: string } };

/**
 * What the acceptor needs of its shards, whatever carries the messages: worker threads in this process
 * (ThreadShardPool) or ingest nodes over NATS (NatsShardPool, where a "shard" is a partition of the symbols).
 */
export interface ShardPool {
  readonly count: number;
  shardFor(routeKey: string): number;
  start(): Promise<void>;
  send(shard: number, msg: ToShard): void;
  broadcast(msg: ToShard): void;
  ask(shard: number, plugin: string, question: string, params: unknown, symbol: string, timeoutMs: number): Promise<unknown>;
  askEach(plugin: string, question: string, params: unknown, timeoutMs: number): Promise<EachAnswer[]>;
  isReady(shard: number): boolean;
  info(): ShardInfo[];
  stop(): Promise<void>;
}
