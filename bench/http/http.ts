// The HTTP benchmark: autocannon against a target's routes, the target and the simulated exchange as child processes.
import autocannon from 'autocannon';
import { procUsage, stopChild } from '../processes.js';
import { startExchange, startTarget, type Target } from '../targets.js';

export interface HttpOptions {
  target: Target;
  paths: string[];
  connections: number;
  seconds: number;
}

export interface HttpPathResult {
  path: string;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  /**
   * The target process's CPU time (all its threads) over the run divided by the requests answered: steadier than
   * req/s on a machine that also runs the load generator, since it does not depend on how much CPU autocannon got.
   */
  serverCpuUsPerRequest: number;
}

export interface HttpResult {
  target: Target;
  connections: number;
  seconds: number;
  results: HttpPathResult[];
}

export async function runHttp(o: HttpOptions): Promise<HttpResult> {
  const sim = await startExchange();
  let server: Awaited<ReturnType<typeof startTarget>> | undefined;
  const results: HttpPathResult[] = [];
  try {
    server = await startTarget(o.target, { wsUrl: sim.wsUrl, restUrl: sim.restUrl });
    const base = `http://127.0.0.1:${server.port}`;
    // Wait until the server answers 200 (symbols loaded, upstream live).
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${base}/health`).then((r) => r.status === 200, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const path of o.paths) {
      // One request first, so on-demand state (a ticker stream, a cache entry) is warm before measuring.
      await fetch(`${base}${path}`).then((r) => r.arrayBuffer(), () => undefined);
      const before = procUsage(server.child.pid!).cpuMs;
      const r = await autocannon({ url: `${base}${path}`, connections: o.connections, duration: o.seconds });
      const cpuMs = procUsage(server.child.pid!).cpuMs - before;
      const serverCpuUsPerRequest = r.requests.total > 0 ? Math.round((cpuMs * 10_000) / r.requests.total) / 10 : 0;
      results.push({ path, requestsPerSecond: Math.round(r.requests.average), latencyMs: { p50: r.latency.p50, p99: r.latency.p99 }, non2xx: r.non2xx, errors: r.errors, serverCpuUsPerRequest });
    }
  } finally {
    if (server) await stopChild(server.child);
    await stopChild(sim.child);
  }
  return { target: o.target, connections: o.connections, seconds: o.seconds, results };
}
