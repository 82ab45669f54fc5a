// `npm run bench:http`: autocannon against tickgate's HTTP routes (served by the same uWS app as /ws), JSON and a table out.
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startChild, stopChild } from '../processes.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    paths: { type: 'string', default: '/health,/api/v1/ws/stats,/api/v1/market/ticker/BTCUSDT' },
  },
});
const connections = Number(values.connections);
const duration = Number(values.seconds);

const sim = await startChild(['dist/sim/main.js', '--port', '0'], {}, /WS (ws:\/\/[\d.:]+)/);
const wsUrl = sim.match[1]!;
const server = await startChild(['dist/core/main.js'], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', BINANCE_WS_URL: wsUrl, BINANCE_REST_URL: wsUrl.replace('ws://', 'http://') }, /listening on 127\.0\.0\.1:(\d+)/).catch(async (err: unknown) => {
  await stopChild(sim.child);
  throw err;
});
const base = `http://127.0.0.1:${server.match[1]}`;
const results: Array<{ path: string; requestsPerSecond: number; latencyMs: { p50: number; p99: number }; non2xx: number; errors: number }> = [];
try {
  // Wait until the server answers 200 (symbols loaded, heartbeat live), and warm the on-demand market state.
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${base}/health`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const path of values.paths!.split(',')) {
    await fetch(`${base}${path}`).then((r) => r.arrayBuffer(), () => undefined);
    const r = await autocannon({ url: `${base}${path}`, connections, duration });
    results.push({ path, requestsPerSecond: Math.round(r.requests.average), latencyMs: { p50: r.latency.p50, p99: r.latency.p99 }, non2xx: r.non2xx, errors: r.errors });
  }
} finally {
  await stopChild(server.child);
  await stopChild(sim.child);
}
process.stdout.write(`${JSON.stringify({ connections, seconds: duration, results }, null, 2)}\n\npath                                  req/s   p50ms  p99ms  non2xx\n`);
for (const r of results) process.stdout.write(`${r.path.padEnd(34)} ${String(r.requestsPerSecond).padStart(8)} ${String(r.latencyMs.p50).padStart(7)} ${String(r.latencyMs.p99).padStart(6)} ${String(r.non2xx).padStart(7)}\n`);
