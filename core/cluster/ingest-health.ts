// An ingest node's HTTP port: GET /health and GET /api/v1/ws/stats (it holds no client sockets, so no uWS app).
import { createServer, type Server } from 'node:http';
import type { IngestNode } from './ingest-node.js';
import { VERSION } from '../version.js';

/** 503 while NATS is lost or no shard thread runs; "degraded" while it serves no partition or a shard is down. */
export function ingestHealth(node: IngestNode, startedAt: number): { status: number; body: unknown } {
  const s = node.status();
  const problems: string[] = [];
  if (s.nats === 'disconnected') problems.push('no connection to NATS: the partitions of this node move to others after cluster.leaseTtlMs');
  if (s.shards.every((sh) => sh.state === 'down')) problems.push('no shard running');
  if (!s.symbolsLoaded) problems.push('exchange symbol list not loaded');
  const down = problems.length > 0;
  const degraded = !down && (s.partitions.length === 0 || s.shards.some((sh) => sh.state === 'down'));
  let connections = 0;
  let live = 0;
  for (const sh of s.shards) for (const c of sh.stats?.connections ?? []) {
    connections++;
    if (c.live) live++;
  }
  return {
    status: down ? 503 : 200,
    body: {
      status: down ? 'down' : degraded ? 'degraded' : 'ok',
      problems,
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      role: s.role,
      cluster: { node: s.node, nats: s.nats, partitions: s.partitions, members: s.members, gateways: s.gateways },
      channels: s.channels,
      upstream: { symbolsLoaded: s.symbolsLoaded, connections, liveConnections: live },
      shards: s.shards.map((sh) => ({ shard: sh.shard, state: sh.state, restarts: sh.restarts, uptimeSeconds: Math.round(sh.uptimeMs / 1000), channels: sh.stats?.channels ?? 0, streams: sh.stats?.streams ?? [], upstreamConnections: sh.stats?.connections ?? [] })),
    },
  };
}

export function startIngestHealth(node: IngestNode, host: string, port: number): Promise<{ server: Server; port: number }> {
  const startedAt = Date.now();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    let status = 404;
    let body: unknown = { error: { code: 'TG_ERR_NOT_FOUND', message: `No route ${req.method} ${path} on an ingest node: it serves GET /health and GET /api/v1/ws/stats (clients connect to a gateway)` } };
    if (req.method === 'GET' && path === '/health') ({ status, body } = ingestHealth(node, startedAt));
    else if (req.method === 'GET' && path === '/api/v1/ws/stats') {
      status = 200;
      body = { success: true, data: node.status() };
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : text);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message} (set PORT or server.port)`)));
    server.listen({ host, port, exclusive: true }, () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}
