// The fan-out benchmark: simulated exchange and target server as child processes, clients on worker threads, one report.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { procUsage, startChild, stopChild } from '../processes.js';
import type { ClientReport, ClientWorkerData } from './client-worker.js';

export interface FanoutOptions {
  clients: number;
  symbols: string[];
  /** Channel kinds each client subscribes for every symbol, e.g. ['price']. */
  kinds: string[];
  /** Ticker events per second per symbol at the simulated exchange (price/ticker frames per second per channel). */
  rate: number;
  warmupSeconds: number;
  seconds: number;
  workers?: number;
  sampleEvery?: number;
  shards?: number;
  /** Spread client connections over 127.0.0.1..127.0.0.N. */
  sourceAddresses?: number;
  /** The server measured: tickgate, or the raw uWebSockets.js ceiling peer (price channels only). */
  target?: 'tickgate' | 'uws-ceiling';
  /** Heartbeat period of each client (0: none). */
  pingEverySeconds?: number;
}

export interface FanoutResult {
  scenario: Omit<FanoutOptions, 'symbols'> & { symbols: number; channelsPerClient: number };
  connected: number;
  connectMs: { p50: number; p99: number; max: number };
  frames: number;
  framesPerSecond: number;
  expectedFramesPerSecond: number;
  missing: number;
  duplicated: number;
  pongs: number;
  /** Connections still open at the end of the measurement. */
  held: number;
  latencyMs: { samples: number; p50: number; p90: number; p99: number; max: number };
  server: { rssMbIdle: number; rssMbLoaded: number; rssKbPerConnection: number; cpuPercent: number };
  client: { cpuPercent: number };
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFanout(o: FanoutOptions): Promise<FanoutResult> {
  const workersN = o.workers ?? Math.max(1, Math.min(4, availableParallelism()));
  // A kind may carry its argument: "klines:1m" subscribes klines:SYM:1m.
  const channels = o.symbols.flatMap((s) => o.kinds.map((k) => (k.includes(':') ? `${k.split(':')[0]}:${s}:${k.split(':')[1]}` : `${k}:${s}`)));
  const sim = await startChild([join('dist/sim/main.js'), '--port', '0', '--ticker-interval-ms', String(Math.round(1000 / o.rate))], {}, /WS (ws:\/\/[\d.:]+)/);
  const simUrl = sim.match[1]!;
  let server: Awaited<ReturnType<typeof startChild>> | undefined;
  const workers: Worker[] = [];
  try {
    const target = o.target ?? 'tickgate';
    if (target === 'uws-ceiling' && o.kinds.some((k) => k !== 'price')) throw new Error('the uws-ceiling peer serves price channels only');
    server = target === 'tickgate'
      ? await startChild([join('dist/core/main.js')], {
          PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', BINANCE_WS_URL: simUrl, BINANCE_REST_URL: simUrl.replace('ws://', 'http://'),
          ...(o.shards ? { SHARDS: String(o.shards) } : {}),
          TICKGATE__LIMITS__MAX_CHANNELS_PER_CLIENT: String(Math.max(50, channels.length)),
        }, /listening on 127\.0\.0\.1:(\d+)/)
      : await startChild([join('dist/bench/peers/uws-ceiling.js')], { PORT: '0', BINANCE_WS_URL: simUrl, SYMBOLS: o.symbols.join(',') }, /listening on 127\.0\.0\.1:(\d+)/);
    const port = Number(server.match[1]);
    const pid = server.child.pid!;
    // Baseline after start-up has settled: the heap shrinks in the first seconds.
    await sleep(3000);
    const idle = procUsage(pid);
    const addresses = Array.from({ length: o.sourceAddresses ?? 0 }, (_, i) => `127.0.0.${i + 1}`);
    const per = Math.ceil(o.clients / workersN);
    const connected: number[] = [];
    await Promise.all(
      Array.from({ length: workersN }, (_, i) => {
        const n = Math.max(0, Math.min(per, o.clients - i * per));
        const data: ClientWorkerData = { host: '127.0.0.1', port, clients: n, channels, sampleEvery: o.sampleEvery ?? 97, localAddresses: addresses, pingEverySeconds: o.pingEverySeconds ?? 0 };
        const w = new Worker(new URL('./client-worker.js', import.meta.url), { workerData: data });
        workers.push(w);
        return new Promise<void>((resolve, reject) => {
          w.once('message', (m: { t: string; connected: number }) => {
            connected.push(m.connected);
            resolve();
          });
          w.once('error', reject);
        });
      }),
    );
    await sleep(o.warmupSeconds * 1000);
    const ask = <T>(t: string) => Promise.all(workers.map((w) => new Promise<T>((resolve) => {
      const on = (m: { t: string } & T) => {
        if (m.t !== t) return;
        w.off('message', on);
        resolve(m);
      };
      w.on('message', on);
      w.postMessage({ t });
    })));
    const cpuBefore = await ask<{ report: ClientReport }>('report');
    await ask('reset');
    const serverBefore = procUsage(pid);
    const startedAt = performance.now();
    await sleep(o.seconds * 1000);
    const reports = (await ask<{ report: ClientReport }>('report')).map((r) => r.report);
    const elapsedS = (performance.now() - startedAt) / 1000;
    const serverAfter = procUsage(pid);
    const sum = (f: (r: ClientReport) => number) => reports.reduce((n, r) => n + f(r), 0);
    const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const connects = reports.flatMap((r) => r.connectMs).sort((a, b) => a - b);
    const clientCpuMs = sum((r) => r.cpuUserMs + r.cpuSystemMs) - cpuBefore.reduce((n, r) => n + r.report.cpuUserMs + r.report.cpuSystemMs, 0);
    const connectedN = connected.reduce((a, b) => a + b, 0);
    return {
      scenario: { ...o, symbols: o.symbols.length, channelsPerClient: channels.length, workers: workersN },
      connected: connectedN,
      connectMs: { p50: percentile(connects, 50), p99: percentile(connects, 99), max: connects.at(-1) ?? 0 },
      frames: sum((r) => r.frames),
      framesPerSecond: Math.round(sum((r) => r.frames) / elapsedS),
      // Known only for channels whose rate the exchange's ticker period sets (price, ticker); 0 for mixed scenarios.
      expectedFramesPerSecond: o.kinds.every((k) => k === 'price' || k === 'ticker') ? connectedN * channels.length * o.rate : 0,
      missing: sum((r) => r.missing),
      duplicated: sum((r) => r.duplicated),
      pongs: sum((r) => r.pongs),
      held: sum((r) => r.connected),
      latencyMs: { samples: latencies.length, p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
      server: {
        rssMbIdle: Math.round(idle.rssKb / 1024),
        rssMbLoaded: Math.round(serverAfter.rssKb / 1024),
        rssKbPerConnection: connectedN ? Math.round(((serverAfter.rssKb - idle.rssKb) / connectedN) * 10) / 10 : 0,
        cpuPercent: Math.round(((serverAfter.cpuMs - serverBefore.cpuMs) / 1000 / elapsedS) * 100),
      },
      client: { cpuPercent: Math.round((clientCpuMs / 1000 / elapsedS) * 100) },
      errors: sum((r) => r.errors),
    };
  } finally {
    for (const w of workers) w.postMessage({ t: 'stop' });
    await Promise.all(workers.map((w) => w.terminate()));
    if (server) await stopChild(server.child);
    await stopChild(sim.child);
  }
}
