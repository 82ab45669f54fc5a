// GET /health and GET /api/v1/ws/stats: what the gateway, its shards and its upstream are doing.
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

/**
 * Health: 503 while no upstream is connected (no exchange connection delivering; the heartbeat stream keeps one open
 * on an idle gateway), while the symbol list is not loaded, or while no shard runs; 200 otherwise, "degraded" when
 * some upstream connection or shard is down.
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
  const degraded = !down && (live < connections || shards.some((s) => s.state === 'down') || (cluster !== undefined && cluster.partitionsOwned < cluster.partitions));
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
