// NATS subject names of a cluster, and the few bytes in front of each frame that cross it.
import { deserialize, serialize } from 'node:v8';
import { FrameKind } from '../bus.js';

/** Questions and answers keep what crosses between threads (Buffers, Dates, Maps: structured clone), not JSON's subset. */
export function encodeValue(value: unknown): Uint8Array {
  return serialize(value);
}

export function decodeValue<T>(data: Uint8Array): T | undefined {
  try {
    return deserialize(data) as T;
  } catch {
    return undefined;
  }
}

/** A message encoded by encodeValue (v8's serialisation starts with its version tag) rather than JSON. */
export function isValue(data: Uint8Array): boolean {
  return data[0] === 0xff;
}

/** kind (1 byte), the publishing owner's lease token (4), seq (8, float64): then the frame's bytes as clients get them. */
export const FRAME_HEADER_BYTES = 13;

/**
 * Subjects under one prefix (cluster.subjectPrefix). Channels each have one (`<p>.c.<kind>.<key>[.<arg>]`), so a gateway
 * receives only the channels its clients hold; everything else is control traffic.
 */
export class Subjects {
  /** Open, close, ask and user publications for one partition: only its owner listens, so they arrive in order. */
  readonly partitionPrefix: string;
  /** Gateways' heartbeats (and goodbyes), heard by the ingest nodes. */
  readonly gateways: string;
  readonly gatewayGone: string;
  /** Ingest nodes' heartbeats with their stats, heard by the gateways. */
  readonly ingest: string;
  readonly ingestGone: string;
  /** The exchange's symbol list: published when loaded, asked for by a gateway that starts. */
  readonly symbols: string;
  readonly symbolsGet: string;
  /** A shard half's report, heard by one gateway (a queue group), as in one process. */
  readonly report: string;
  /** A partition started on a node (claimed, or its shard restarted): one gateway runs the plugins' onShardStart. */
  readonly started: string;
  /** Ending a user's sessions and other plugin broadcasts: every gateway applies them. */
  readonly broadcastPrefix: string;
  /** The lease bucket (JetStream key-value): partition owners and ingest members. */
  readonly bucket: string;

  constructor(readonly prefix: string) {
    this.partitionPrefix = `${prefix}.p.`;
    this.gateways = `${prefix}.gw`;
    this.gatewayGone = `${prefix}.gw.gone`;
    this.ingest = `${prefix}.ingest`;
    this.ingestGone = `${prefix}.ingest.gone`;
    this.symbols = `${prefix}.symbols`;
    this.symbolsGet = `${prefix}.symbols.get`;
    this.report = `${prefix}.report`;
    this.started = `${prefix}.started`;
    this.broadcastPrefix = `${prefix}.b.`;
    this.bucket = `${prefix}-leases`;
  }

  partition(p: number): string {
    return this.partitionPrefix + p;
  }

  /** Questions asked of one ingest node (every shard of it). */
  node(name: string): string {
    return `${this.prefix}.n.${name}`;
  }

  /** A channel's subject: its parts become tokens; a character NATS reserves (. * > space) is written ~hex. */
  channel(name: string): string {
    return `${this.prefix}.c.${name.replace(/[^A-Za-z0-9_:-]/g, (c) => `~${c.charCodeAt(0).toString(16)}~`).replace(/:/g, '.')}`;
  }

  /** What an ingest node tells one gateway (it runs a user channel's producer from now on). */
  gatewayControl(gw: string): string {
    return `${this.prefix}.gwc.${gw}`;
  }

  broadcast(plugin: string): string {
    return this.broadcastPrefix + plugin;
  }
}

/** A frame as it crosses NATS: header, then the bytes (one copy, into the message). */
export function encodeClusterFrame(kind: FrameKind, token: number, seq: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + bytes.byteLength);
  const view = new DataView(out.buffer, out.byteOffset, FRAME_HEADER_BYTES);
  view.setUint8(0, kind);
  view.setUint32(1, token);
  view.setFloat64(5, seq);
  out.set(bytes, FRAME_HEADER_BYTES);
  return out;
}

export interface ClusterFrame {
  kind: FrameKind;
  token: number;
  seq: number;
  /** A view into the message: the frame as clients get it. */
  bytes: Uint8Array;
}

/** Reads a frame's header; undefined for a message too short to be one. */
export function decodeClusterFrame(data: Uint8Array): ClusterFrame | undefined {
  if (data.byteLength < FRAME_HEADER_BYTES) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, FRAME_HEADER_BYTES);
  return { kind: view.getUint8(0) as FrameKind, token: view.getUint32(1), seq: view.getFloat64(5), bytes: data.subarray(FRAME_HEADER_BYTES) };
}

/** Control messages (JSON) on a partition's subject. `gw` is the gateway that sends it. */
export type PartitionOp =
  /** `rid`: echoed in the reply, which comes to the gateway's inbox subscription, in order with the channel's frames. */
  | { op: 'open'; gw: string; rid: number; channel: string; seq: number; stale: boolean; user: boolean }
  /** The channels of this partition a gateway holds (after a reconnection, and now and then): the owner forgets the rest. */
  | { op: 'sync'; gw: string; rid: number; channels: string[] }
  | { op: 'close'; gw: string; channel: string }
  | { op: 'pub'; channel: string; type: string; data: unknown }
  | { op: 'ask'; plugin: string; question: string; params: unknown; symbol: string; timeoutMs: number };

/** The owner's answer to `open`: its token, and what a late joiner needs (the latest frame, whether it is stale). */
export interface OpenReply {
  rid: number;
  token: number;
  /** A user channel: whether this gateway runs its acceptor-side producer (the plugins' onChannel open). */
  producer: boolean;
  seq: number;
  snapshot: string | undefined;
  stale: string | undefined;
}

export type AskReply = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string; hint?: string } };

/** An ingest node's heartbeat. */
export interface IngestBeat {
  node: string;
  partitions: number[];
  /** Symbols with market data open, for symbols.maxActive across the cluster. */
  symbols: string[];
  shards: Array<{ shard: number; state: 'running' | 'down'; restarts: number; uptimeMs: number; stats: import('../bus.js').ShardStats | undefined }>;
  symbolsLoaded: boolean;
}
