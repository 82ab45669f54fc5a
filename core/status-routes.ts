// GET /health and GET /api/v1/ws/stats: what the gateway, its shards and its upstream are doing.
import { z } from 'zod';
import type { RouteResult } from './plugin-api.js';
import type { Subscriptions } from './subscriptions.js';
import type { SymbolRegistry } from './symbol-registry.js';
import type { ShardPool } from './bus.js';
import { VERSION } from './version.js';

export interface StatusSources {
  subs: Subscriptions;
  symbols: SymbolRegistry;
  shards: ShardPool;
  clientCount(): number;
  /** Open connections signed in as a user (the rest are anonymous). */
  authenticatedCount(): number;
  startedAt: number;
  /** Whether a heartbeat stream keeps an upstream connection open on an idle gateway. */
  heartbeat: boolean;
  draining(): boolean;
  /** The clients' send queues (core/queue-budget.ts): bytes queued at the last check, the budget, clients closed. */
  sendQueues(): { queuedBytes: number; budgetBytes: number; slowClientsClosed: number };
  role: string;
  /** In cluster mode: the NATS connection, and the ingest nodes and partitions this gateway sees. */
  cluster?(): ClusterView;
}

export interface ClusterView {
  gateway: string;
  nats: 'connected' | 'disconnected';
  partitions: number;
  partitionsOwned: number;
  ingest: Array<{ node: string; partitions: number; symbols: number; ageMs: number }>;
}

/** GET /api/v1/ws/stats's answer, for the OpenAPI document. */
export const statsAnswer = z.object({
  success: z.literal(true),
  data: z.object({
    connectedClients: z.number().int(),
    activeChannels: z.array(z.string()).meta({ description: 'Channels with at least one subscriber' }),
    quoteStreams: z.literal(0).meta({ description: 'Always 0: there is no quote source but the exchange' }),
    signalStreams: z.number().int().meta({ description: 'Open signals: channels' }),
    binanceStreams: z.number().int(),
    binanceActiveStreams: z.array(z.string()),
    priceCache: z.number().int().meta({ description: 'Symbols with a cached ticker' }),
    role: z.string().optional().meta({ description: 'In a cluster: this node\'s role' }),
    cluster: z.record(z.string(), z.unknown()).optional().meta({ description: 'In a cluster: what this gateway sees of it' }),
  }),
});

/** GET /health's answer (200, and 503 when down), for the OpenAPI document: the top level; the README has the rest. */
export const healthAnswer = z.object({
  status: z.enum(['ok', 'degraded', 'down']),
  problems: z.array(z.string()),
  version: z.string(),
  uptimeSeconds: z.number().int(),
  clients: z.number().int().meta({ description: 'Open /ws connections' }),
  authenticatedClients: z.number().int(),
  channels: z.number().int(),
  sendQueues: z.object({ queuedBytes: z.number(), budgetBytes: z.number(), slowClientsClosed: z.number().int() }),
  history: z.object({ channels: z.number().int(), frames: z.number().int(), bytes: z.number().int() }).nullable()
    .meta({ description: 'Frames kept for clients that resubscribe with since (null: history is off); bytes include their bookkeeping' }),
  upstream: z.object({ symbolsLoaded: z.boolean(), symbols: z.number().int(), connections: z.number().int(), liveConnections: z.number().int(), streams: z.number().int() }),
  role: z.string(),
  cluster: z.record(z.string(), z.unknown()).optional(),
  shards: z.array(z.object({
    shard: z.number().int(),
    state: z.string(),
    restarts: z.number().int(),
    uptimeSeconds: z.number().int(),
    channels: z.number().int(),
    streams: z.array(z.string()),
    restUsedWeight: z.number(),
    behindMs: z.number().int().meta({ description: 'The longest time this shard\'s frames waited for the acceptor thread over its last report\'s window of about 2 s (0: it keeps up; 1,000 or more makes the status degraded)' }),
    framesConflated: z.number().int().meta({ description: 'Values of whole-state channels (price, ticker, depth, depthDelta, kinds declared conflate) replaced by a newer one, never sent, while the acceptor was behind, since the shard started' }),
    dataFrames: z.number().int().meta({ description: 'Data frames the shard numbered and sent since it started (against framesConflated: the share of values replaced)' }),
    upstreamConnections: z.array(z.record(z.string(), z.unknown())),
    plugins: z.record(z.string(), z.unknown()).meta({ description: 'Each plugin\'s status in this shard (signals: the model, inference times)' }),
  })),
});

/** The stats endpoint, in the exact shape of the protocol guide. */
export function statsRoute(src: StatusSources): RouteResult {
  const streams = new Set<string>();
  let priceCache = 0;
  for (const shard of src.shards.info()) {
    if (!shard.stats) continue;
    for (const s of shard.stats.streams) streams.add(s);
    priceCache += shard.stats.priceCache;
  }
  const activeChannels = src.subs.names();
  return {
    body: {
      success: true,
      data: {
        connectedClients: src.clientCount(),
        activeChannels,
        // tickgate has no non-exchange quote source: kept for compatibility with the guide's shape.
        quoteStreams: 0,
        signalStreams: activeChannels.filter((c) => c.startsWith('signals:')).length,
        binanceStreams: streams.size,
        binanceActiveStreams: [...streams].sort(),
        priceCache,
        // The guide's shape exactly, standalone; a cluster node says its role and what it sees of the cluster.
        ...(src.cluster ? { role: src.role, cluster: src.cluster() } : {}),
      },
    },
  };
}

/** A shard whose frames wait this long for the acceptor thread makes the gateway degraded: it is past its capacity. */
const BEHIND_DEGRADED_MS = 1000;

/**
 * Health: 503 while no upstream is connected (no exchange connection delivering; the heartbeat stream keeps one open
 * on an idle gateway), while the symbol list is not loaded, or while no shard runs; 200 otherwise, "degraded" when
 * some upstream connection or shard is down or a shard's frames have waited a second or more for the acceptor
 * thread (past its capacity).
 */
export function healthRoute(src: StatusSources): RouteResult {
  const shards = src.shards.info();
  let connections = 0;
  let live = 0;
  const streams = new Set<string>();
  const shardInfo = shards.map((s) => {
    const conns = s.stats?.connections ?? [];
    connections += conns.length;
    live += conns.filter((c) => c.live).length;
    for (const st of s.stats?.streams ?? []) streams.add(st);
    return {
      shard: s.shard,
      state: s.state,
      restarts: s.restarts,
      uptimeSeconds: Math.round(s.uptimeMs / 1000),
      channels: s.stats?.channels ?? 0,
      streams: s.stats?.streams ?? [],
      restUsedWeight: s.stats?.restUsedWeight ?? 0,
      behindMs: Math.round(s.stats?.behindMs ?? 0),
      framesConflated: s.stats?.conflated ?? 0,
      dataFrames: s.stats?.dataFrames ?? 0,
      upstreamConnections: conns,
      plugins: s.stats?.plugins ?? {},
    };
  });
  const problems: string[] = [];
  const cluster = src.cluster?.();
  if (src.draining()) problems.push('shutting down');
  if (cluster?.nats === 'disconnected') problems.push('no connection to NATS: the cluster\'s channels are stale until it is back');
  else if (cluster && cluster.ingest.length === 0) problems.push('no ingest node in the cluster: start one (cluster.role ingest)');
  if (!src.symbols.loaded) problems.push(`exchange symbol list not loaded${src.symbols.lastError ? `: ${src.symbols.lastError}` : ''}`);
  if (shards.every((s) => s.state === 'down')) problems.push('no shard running');
  if (connections === 0) problems.push(src.heartbeat ? 'no upstream connection is open' : 'no upstream connection is open (no channel is open and upstream.heartbeatStream is empty)');
  else if (live === 0) problems.push('no upstream connection is delivering data');
  const down = problems.length > 0;
  const degraded = !down && (live < connections || shards.some((s) => s.state === 'down' || (s.stats?.behindMs ?? 0) >= BEHIND_DEGRADED_MS) || (cluster !== undefined && cluster.partitionsOwned < cluster.partitions));
  return {
    status: down ? 503 : 200,
    body: {
      status: down ? 'down' : degraded ? 'degraded' : 'ok',
      problems,
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - src.startedAt) / 1000),
      clients: src.clientCount(),
      authenticatedClients: src.authenticatedCount(),
      channels: src.subs.count(),
      sendQueues: src.sendQueues(),
      // Frames kept for clients that resubscribe with `since` (null: history is off).
      history: src.subs.historyStats() ?? null,
      upstream: {
        symbolsLoaded: src.symbols.loaded,
        symbols: src.symbols.size,
        connections,
        liveConnections: live,
        streams: streams.size,
      },
      role: src.role,
      ...(cluster ? { cluster } : {}),
      shards: shardInfo,
    },
  };
}
