// The fan-out benchmark: simulated exchange and target server as child processes, clients on worker threads, one report.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { procUsage, procWrites, stopChild } from '../processes.js';
import { countWriteSyscalls, type WriteSyscalls } from '../syscalls.js';
import { recordNative, type NativeProfile } from '../perf-record.js';
import { channelName } from './channels.js';
import { checkServed, CLIENTS_DEFLATE, exchangeEvents, setExchangeRate, startExchange, startTarget, type Target } from '../targets.js';
import type { ClientReport, ClientWorkerData } from './client-worker.js';
import type { FrameSizes } from './load-client.js';

export interface FanoutOptions {
  /** Scenario label for reports (runs with the same name are compared). */
  name?: string;
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
  /** The server measured: tickgate, the raw uWebSockets.js ceiling peer or the NestJS peer (each serves some kinds: TARGET_KINDS). */
  target?: Target;
  /** Kinds each client also subscribes for one symbol of its own (client i: symbol i mod symbols), e.g. a trading screen's focus. */
  focusKinds?: string[];
  /** Directory for V8 CPU profiles of the target, written when it stops (node --cpu-prof). */
  profileDir?: string;
  /** Wait before the idle RSS baseline, so start-up garbage is gone from it (default 0; memory scenarios: 12). */
  settleSeconds?: number;
  /** Time the clients get to connect and subscribe (default 60 s); a target that is too slow keeps fewer clients. */
  connectSeconds?: number;
  /** Heartbeat period of each client (0: none). */
  pingEverySeconds?: number;
  /** More environment for the tickgate target (plugin settings). */
  env?: Record<string, string>;
  /**
   * Other work on the target during the measurement (e.g. signal channels and history requests): started after the
   * warm-up, stopped when the window ends; what `stop` returns is the result's `background`.
   */
  background?: (port: number) => Promise<{ stop(): Promise<unknown> }>;
  /** Cores the target runs on (taskset's list syntax, e.g. "0"); the caller pins its own process (the clients) elsewhere. */
  serverCpus?: string;
  /** CPU time the target may use, in cores (a cgroup quota, e.g. 0.25), so that it saturates before its clients do. */
  serverCores?: number;
  /** Count the target's write syscalls of every kind over the window (perf; see bench/syscalls.ts). */
  countSyscalls?: boolean;
  /** Sample the target's CPU, native code included, over the window with `perf record` into this directory. */
  nativeProfileDir?: string;
}

export interface Latency {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  return { samples: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 };
}

export interface FanoutResult {
  scenario: Omit<FanoutOptions, 'symbols'> & { symbols: number; channelsPerClient: number };
  connected: number;
  connectMs: { p50: number; p99: number; max: number };
  frames: number;
  framesPerSecond: number;
  /** Payload bytes of the data frames received per second. */
  bytesPerSecond: number;
  expectedFramesPerSecond: number;
  /** Events the simulated exchange published per second in the window (each once, whatever its subscribers). */
  exchangeEventsPerSecond: number;
  missing: number;
  /** Subscribed channels (per client) that delivered nothing in the window. */
  silentChannels: number;
  duplicated: number;
  pongs: number;
  /** Connections still open at the end of the measurement. */
  held: number;
  latencyMs: Latency;
  /** Latency per frame type (price, ticker, trade, depth, kline…). */
  latencyByType: Record<string, Latency>;
  /** Data frames received per frame type, their payload bytes, and the mean payload bytes per frame (as on the wire). */
  sizeByType: Record<string, FrameSizes & { bytesPerFrame: number }>;
  server: {
    rssMbIdle: number;
    rssMbLoaded: number;
    rssKbPerConnection: number;
    /** RSS per connection less the growth of the V8 heap's empty reserve (committed, unused), both after a collection. */
    rssKbPerConnectionInUse: number;
    /** Main-thread V8 heap after a forced collection, idle and after the measurement. */
    heapMb: { idleTotal: number; idleUsed: number; loadedTotal: number; loadedUsed: number };
    cpuPercent: number;
    /** The target's write syscalls counted in /proc/PID/io over the window (write, writev; not send, see procWrites). */
    syscw: number;
    /** Its write syscalls of every kind over the window, where perf could count them (countSyscalls). */
    writeSyscalls?: WriteSyscalls;
    /** Where its CPU went over the window, native code included (nativeProfileDir). */
    native?: NativeProfile;
    /**
     * tickgate: over the window, values its shards replaced by a newer one because the acceptor was behind (never
     * sent to anyone), the data frames they sent, and the share replaced: values/(values + dataFrames).
     */
    conflated?: { values: number; dataFrames: number; share: number };
  };
  client: { cpuPercent: number };
  errors: number;
  /** What the background work reported, when there was some. */
  background?: unknown;
  /** A cluster: what its ingest node published on NATS in the window (each frame once, whatever the subscribers). */
  nats?: { framesPerSecond: number; bytesPerSecond: number; channels: number };
}

/** What a cluster's ingest node has published on NATS since it started (its stats endpoint). */
async function ingestPublished(port: number): Promise<{ frames: number; bytes: number; channels: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/ws/stats`);
  const body = await res.json() as { data: { published: { frames: number; bytes: number }; channels: number } };
  return { ...body.data.published, channels: body.data.channels };
}

/**
 * A tickgate target's shard counters from /health, summed: values of whole-state channels replaced while the acceptor
 * was behind, and data frames sent. Undefined for a server that has no such counts (the ceiling, NestJS). The shards
 * report every 2 s, so a window's difference is as of their last report at each edge.
 */
async function shardCounts(port: number): Promise<{ conflated: number; dataFrames: number } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) });
    const body = await res.json() as { shards?: Array<{ framesConflated?: number; dataFrames?: number }> };
    if (!Array.isArray(body.shards) || body.shards.some((s) => typeof s.framesConflated !== 'number')) return undefined;
    return { conflated: body.shards.reduce((n, s) => n + (s.framesConflated ?? 0), 0), dataFrames: body.shards.reduce((n, s) => n + (s.dataFrames ?? 0), 0) };
  } catch {
    return undefined;
  }
}

/** The workers' frame counts and bytes by type, summed, with the mean size per frame (whole bytes). */
export function sizesByType(reports: Array<Pick<ClientReport, 'sizeByType'>>): FanoutResult['sizeByType'] {
  const out: FanoutResult['sizeByType'] = {};
  for (const r of reports) {
    for (const [type, n] of Object.entries(r.sizeByType)) {
      const into = (out[type] ??= { frames: 0, bytes: 0, bytesPerFrame: 0 });
      into.frames += n.frames;
      into.bytes += n.bytes;
    }
  }
  for (const n of Object.values(out)) n.bytesPerFrame = n.frames ? Math.round(n.bytes / n.frames) : 0;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** The values replaced over a window against the data frames sent (counters that restart with a shard count from 0). */
export function conflatedShare(before: { conflated: number; dataFrames: number }, after: { conflated: number; dataFrames: number }): { values: number; dataFrames: number; share: number } {
  const values = Math.max(0, after.conflated - before.conflated);
  const dataFrames = Math.max(0, after.dataFrames - before.dataFrames);
  return { values, dataFrames, share: values + dataFrames ? Math.round((values / (values + dataFrames)) * 1e4) / 1e4 : 0 };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const mb = (bytes: number | undefined) => Math.round(((bytes ?? 0) / 2 ** 20) * 10) / 10;

/** Median RSS (KiB) of a process over `ms`, sampled every 250 ms. */
async function rssMedian(pid: number, ms: number): Promise<number> {
  const samples: number[] = [];
  for (const end = Date.now() + ms; Date.now() < end; ) {
    samples.push(procUsage(pid).rssKb);
    await sleep(250);
  }
  return percentile(samples.sort((a, b) => a - b), 50);
}

/** A running fan-out: exchange, target and clients up; measured as many times as wanted, with more load between. */
export interface FanoutSession {
  /** Warm-up, then one measurement window, with the load as it stands. */
  measure(window?: { warmupSeconds?: number; seconds?: number }): Promise<FanoutResult>;
  /** Connects and subscribes `n` more clients (each to the scenario's channels). */
  addClients(n: number): Promise<void>;
  /** Sets the exchange's ticker (price) rate per symbol. */
  setRate(rate: number): Promise<void>;
  /** The target's process id (the one gateway). */
  readonly pid: number;
  close(): Promise<void>;
}

/** One scenario against one target: start, one measurement, stop. */
export async function runFanout(o: FanoutOptions): Promise<FanoutResult> {
  const session = await startFanout(o);
  try {
    return await session.measure();
  } finally {
    await session.close();
  }
}

/** Starts the exchange, the target and the clients of a scenario, with the idle memory baseline read before any client. */
export async function startFanout(o: FanoutOptions): Promise<FanoutSession> {
  const workersN = o.workers ?? Math.max(1, Math.min(4, availableParallelism()));
  const channels = o.symbols.flatMap((s) => o.kinds.map((k) => channelName(k, s)));
  const target = o.target ?? 'tickgate';
  const kinds = [...o.kinds, ...(o.focusKinds ?? [])];
  checkServed(target, kinds);
  const sim = await startExchange(Math.round(1000 / o.rate));
  let server: Awaited<ReturnType<typeof startTarget>> | undefined;
  const workers: Worker[] = [];
  const close = async () => {
    for (const w of workers) w.postMessage({ t: 'stop' });
    await Promise.all(workers.map((w) => w.terminate()));
    if (server) await Promise.all([server.child, ...(server.others ?? [])].map((c) => stopChild(c)));
    await server?.cleanup?.().catch(() => undefined);
    await stopChild(sim.child);
  };
  try {
    server = await startTarget(target, { wsUrl: sim.wsUrl, restUrl: sim.restUrl, symbols: o.symbols, kinds, shards: o.shards, maxChannelsPerClient: channels.length + (o.focusKinds?.length ?? 0), profileDir: o.profileDir, env: o.env, cpus: o.serverCpus, ...(o.serverCores ? { cores: o.serverCores } : {}) });
    const srv = server;
    const port = srv.port;
    const pid = srv.child.pid!;
    // RSS is the median of samples, idle before any client and loaded over the measurement: one reading is at the
    // mercy of a GC. Per connection it means something only where connections outweigh heap noise (thousands).
    // A fresh Node process gives back start-up garbage some seconds in (V8's memory reducer): tickgate's RSS falls by
    // ~16 MB about 8 s after start. Memory scenarios wait that out (settleSeconds) before the idle baseline.
    await sleep((o.settleSeconds ?? 0) * 1000);
    // Memory is read after a full collection (SIGUSR2, see gc-on-signal.ts); RSS follows within a second or two.
    process.kill(pid, 'SIGUSR2');
    await sleep(2000);
    const idleHeap = srv.memory.latest;
    const idleRss = await rssMedian(pid, 3000);
    const addresses = Array.from({ length: o.sourceAddresses ?? 0 }, (_, i) => `127.0.0.${i + 1}`);
    // Clients are dealt to the workers in blocks; a worker's block starts at global index `first`, so client k's focus
    // symbol is symbols[k mod n] however many rounds of clients were added.
    let opened = 0;
    for (let i = 0; i < workersN; i++) {
      const data: ClientWorkerData = {
        host: '127.0.0.1', port, ...(srv.ports ? { ports: srv.ports } : {}), channels, focus: { kinds: o.focusKinds ?? [], symbols: o.symbols, first: 0 },
        sampleEvery: o.sampleEvery ?? 97, localAddresses: addresses, pingEverySeconds: o.pingEverySeconds ?? 0,
        ...(CLIENTS_DEFLATE.includes(target) ? { deflate: true } : {}),
      };
      const w = new Worker(new URL('./client-worker.js', import.meta.url), { workerData: data });
      w.on('error', (err) => process.stderr.write(`client worker failed: ${err.message}\n`));
      workers.push(w);
    }
    // One request to every worker; fails (rather than hangs) when a worker dies or does not answer.
    const ask = <T>(t: string, payload: (i: number) => object = () => ({}), timeoutMs = ((o.connectSeconds ?? 60) + 60) * 1000) =>
      Promise.all(workers.map((w, i) => new Promise<T>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          w.off('message', on);
          w.off('exit', onExit);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`client worker ${i} did not answer "${t}" within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const onExit = (code: number) => {
          done();
          reject(new Error(`client worker ${i} exited (code ${code}) during "${t}"`));
        };
        const on = (m: { t: string } & T) => {
          if (m.t !== t) return;
          done();
          resolve(m);
        };
        w.on('message', on);
        w.on('exit', onExit);
        w.postMessage({ t, ...payload(i) });
      })));
    let clients = 0;
    let connectedN = 0;
    const addClients = async (n: number) => {
      const per = Math.ceil(n / workersN);
      const shares = Array.from({ length: workersN }, (_, i) => Math.max(0, Math.min(per, n - i * per)));
      connectedN = (await ask<{ connected: number }>('connect', (i) => ({ n: shares[i], first: opened + i * per, deadlineMs: (o.connectSeconds ?? 60) * 1000 }))).reduce((a, m) => a + m.connected, 0);
      opened += n;
      clients += n;
      await ask('subscribe');
      // The subscribe burst's garbage is collected before the warm-up, so neither memory nor latency figures see it.
      await sleep(1000);
      process.kill(pid, 'SIGUSR2');
    };
    await addClients(o.clients);
    let rate = o.rate;
    const background = o.background ? await o.background(port) : undefined;
    const measure = async (window: { warmupSeconds?: number; seconds?: number } = {}): Promise<FanoutResult> => {
      const seconds = window.seconds ?? o.seconds;
      await sleep((window.warmupSeconds ?? o.warmupSeconds) * 1000);
      // Read before the clients' counters restart: a slow answer must not stretch the window they count in.
      const countsBefore = await shardCounts(port);
      await ask('reset');
      // The clients' CPU is this process's (its worker threads do the work); process.cpuUsage() in a worker is the
      // whole process's too, so it is read once here rather than summed over workers.
      const clientBefore = procUsage(process.pid);
      // A cluster's CPU is all of its processes' (gateways and ingest node).
      const serverPids = [pid, ...(srv.others ?? []).map((c) => c.pid!)];
      const serverCpu = () => serverPids.reduce((n, p) => n + procUsage(p).cpuMs, 0);
      const serverBefore = serverCpu();
      const writesBefore = procWrites(pid);
      const eventsBefore = await exchangeEvents(sim.restUrl);
      const publishedBefore = srv.ingestPort ? await ingestPublished(srv.ingestPort) : undefined;
      const startedAt = performance.now();
      const counting = o.countSyscalls ? countWriteSyscalls(pid, seconds) : undefined;
      const sampling = o.nativeProfileDir ? recordNative(pid, seconds, join(o.nativeProfileDir, `${(o.name ?? 'run').replace(/\W+/g, '-')}-${target}-${Date.now()}.perf.data`)) : undefined;
      const loadedRss = await rssMedian(pid, seconds * 1000);
      const reports = (await ask<{ report: ClientReport }>('report')).map((r) => r.report);
      const elapsedS = (performance.now() - startedAt) / 1000;
      const eventsAfter = await exchangeEvents(sim.restUrl);
      const writesAfter = procWrites(pid);
      const serverAfter = serverCpu();
      const publishedAfter = srv.ingestPort ? await ingestPublished(srv.ingestPort) : undefined;
      const countsAfter = countsBefore ? await shardCounts(port) : undefined;
      const clientAfter = procUsage(process.pid);
      const syscalls = counting ? await counting : undefined;
      const native = sampling ? await sampling : undefined;
      if (sampling && !native) process.stderr.write(`[fanout] perf could not sample ${target} (is perf installed, and may it attach to another process? see /proc/sys/kernel/perf_event_paranoid): no profile for this run\n`);
      // The V8 heap's empty reserve (committed, not in use: mostly a young generation sized up by the subscribe burst),
      // read after a collection at the end, is told apart from memory in use.
      const seen = srv.memory.latest;
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < 50 && srv.memory.latest === seen; i++) await sleep(100);
      const loadedHeap = srv.memory.latest;
      const reserve = (m: NodeJS.MemoryUsage | undefined) => (m ? (m.heapTotal - m.heapUsed) / 1024 : 0);
      const reserveGrowthKb = idleHeap && loadedHeap && loadedHeap !== idleHeap ? reserve(loadedHeap) - reserve(idleHeap) : 0;
      const sum = (f: (r: ClientReport) => number) => reports.reduce((n, r) => n + f(r), 0);
      const latencies = reports.flatMap((r) => r.latencies);
      const connects = reports.flatMap((r) => r.connectMs).sort((a, b) => a - b);
      // Read with the server's, at the window's end: the collection wait below is not part of the window.
      const clientCpuMs = clientAfter.cpuMs - clientBefore.cpuMs;
      const frames = sum((r) => r.frames);
      return {
        scenario: { ...o, clients, rate, symbols: o.symbols.length, channelsPerClient: channels.length + (o.focusKinds?.length ?? 0), workers: workersN },
        connected: connectedN,
        connectMs: { p50: percentile(connects, 50), p99: percentile(connects, 99), max: connects.at(-1) ?? 0 },
        frames,
        framesPerSecond: Math.round(frames / elapsedS),
        bytesPerSecond: Math.round(sum((r) => r.bytes) / elapsedS),
        // Known only for channels whose rate the exchange's ticker period sets (price, ticker); 0 for mixed scenarios.
        expectedFramesPerSecond: o.kinds.every((k) => k === 'price' || k === 'ticker') && !o.focusKinds?.length ? connectedN * channels.length * rate : 0,
        exchangeEventsPerSecond: Math.round((eventsAfter - eventsBefore) / elapsedS),
        missing: sum((r) => r.missing),
        silentChannels: sum((r) => r.silent),
        duplicated: sum((r) => r.duplicated),
        pongs: sum((r) => r.pongs),
        held: sum((r) => r.connected),
        latencyMs: latency(latencies),
        latencyByType: Object.fromEntries([...new Set(reports.flatMap((r) => Object.keys(r.latencyByType)))].sort().map((type) => [type, latency(reports.flatMap((r) => r.latencyByType[type] ?? []))])),
        sizeByType: sizesByType(reports),
        server: {
          rssMbIdle: Math.round(idleRss / 1024),
          rssMbLoaded: Math.round(loadedRss / 1024),
          rssKbPerConnection: connectedN ? Math.round(((loadedRss - idleRss) / connectedN) * 10) / 10 : 0,
          rssKbPerConnectionInUse: connectedN ? Math.round(((loadedRss - idleRss - reserveGrowthKb) / connectedN) * 10) / 10 : 0,
          heapMb: {
            idleTotal: mb(idleHeap?.heapTotal), idleUsed: mb(idleHeap?.heapUsed), loadedTotal: mb(loadedHeap?.heapTotal), loadedUsed: mb(loadedHeap?.heapUsed),
          },
          cpuPercent: Math.round(((serverAfter - serverBefore) / 1000 / elapsedS) * 100),
          syscw: writesAfter - writesBefore,
          ...(syscalls ? { writeSyscalls: syscalls } : {}),
          ...(native ? { native } : {}),
          ...(countsBefore && countsAfter ? { conflated: conflatedShare(countsBefore, countsAfter) } : {}),
        },
        ...(publishedBefore && publishedAfter ? {
          nats: {
            framesPerSecond: Math.round((publishedAfter.frames - publishedBefore.frames) / elapsedS),
            bytesPerSecond: Math.round((publishedAfter.bytes - publishedBefore.bytes) / elapsedS),
            channels: publishedAfter.channels,
          },
        } : {}),
        client: { cpuPercent: Math.round((clientCpuMs / 1000 / elapsedS) * 100) },
        errors: sum((r) => r.errors),
      };
    };
    let measured = false;
    return {
      pid,
      addClients,
      setRate: async (r: number) => {
        await setExchangeRate(sim.restUrl, r);
        rate = r;
      },
      measure: async (window) => {
        const result = await measure(window);
        // The background work runs over the first measurement only (runFanout's one).
        if (!measured && background) {
          measured = true;
          const backgroundReport = await background.stop();
          if (backgroundReport !== undefined) result.background = backgroundReport;
        }
        return result;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
