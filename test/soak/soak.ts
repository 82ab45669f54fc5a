// `npm run soak -- --minutes 30`: the gateway (a child process, as deployed) under churning clients, clients that stop
// reading, and faults on a schedule (upstream drop, stall, sequence gap, shard crash), with its books compared with
// the exchange's. Reports RSS over time (with its slope), open file descriptors, ping round trips, and how long each
// fault took to recover from. One JSON report (--report FILE) and a markdown summary on stdout; exit 1 on a book
// mismatch, a fault that did not recover, or a gateway that died.
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { SimExchange } from '../../sim/exchange.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    clients: { type: 'string', default: '200' },
    churn: { type: 'string', default: '20' },
    slow: { type: 'string', default: '20' },
    'fault-every': { type: 'string', default: '45' },
    report: { type: 'string', default: 'soak-report.json' },
  },
});
const minutes = Number(values.minutes);
const steadyN = Number(values.clients);
const churnPerSecond = Number(values.churn);
const slowN = Number(values.slow);
const faultEveryMs = Number(values['fault-every']) * 1000;
for (const [k, v] of Object.entries({ minutes, clients: steadyN, churn: churnPerSecond, slow: slowN, 'fault-every': faultEveryMs })) {
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`--${k} must be a number of 0 or more\n`);
    process.exit(2);
  }
}

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'AVAXUSDT'];
const KINDS = ['price', 'ticker', 'trades', 'depth', 'klines:1m'];
const channel = (kind: string, symbol: string) => (kind.includes(':') ? `${kind.split(':')[0]}:${symbol}:${kind.split(':')[1]}` : `${kind}:${symbol}`);
const pick = <T>(a: T[]) => a[Math.floor(Math.random() * a.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// The exchange: in this process, so the gateway's books can be compared with its own history.
const sim = await new SimExchange({ port: 0, recordBookTop: 20, tickerIntervalMs: 1000 }).start();
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}/index.js`, import.meta.url));
const gateway = spawn(process.execPath, [fileURLToPath(new URL('../../core/main.js', import.meta.url))], {
  env: {
    PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', SHARDS: '2', LOG_LEVEL: 'info',
    BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl,
    TICKGATE__PLUGINS: JSON.stringify(['market', { name: 'bookcheck', path: fixture('bookcheck-plugin') }, { name: 'chaos', path: fixture('chaos-plugin') }]),
    // A stall is noticed in 5 s rather than 15; slow clients are closed at 256 KiB queued rather than 4 MiB.
    TICKGATE__UPSTREAM__STALE_AFTER_MS: '5000',
    TICKGATE__LIMITS__MAX_BACKPRESSURE_BYTES: String(256 * 1024),
    TICKGATE__LIMITS__MAX_CONNECTIONS_PER_IP: '0',
    TICKGATE__LIMITS__MAX_CHANNELS_PER_CLIENT: '100',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let gatewayOut = '';
const gatewayLog: string[] = [];
gateway.stdout.on('data', (d: Buffer) => {
  gatewayOut += d.toString();
  if (gatewayOut.length > 1_000_000) gatewayOut = gatewayOut.slice(-100_000);
  for (const line of d.toString().split('\n')) if (/"level":(50|60)/.test(line)) gatewayLog.push(line.slice(0, 300));
});
gateway.stderr.on('data', (d: Buffer) => gatewayLog.push(d.toString().slice(0, 300)));
let gatewayExit: number | null | undefined;
gateway.on('exit', (code) => (gatewayExit = code));
const deadline = Date.now() + 30_000;
while (!/listening on 127\.0\.0\.1:(\d+)/.test(gatewayOut)) {
  if (Date.now() > deadline || gatewayExit !== undefined) throw new Error(`the gateway did not start: ${gatewayOut.slice(-2000)} ${gatewayLog.join('\n')}`);
  await sleep(100);
}
const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(gatewayOut)![1]);
const wsUrl = `ws://127.0.0.1:${port}/ws`;
const pid = gateway.pid!;
log(`gateway pid ${pid} on port ${port}; ${minutes} min, ${steadyN} steady clients, ${churnPerSecond} connections/s churning, ${slowN} slow, a fault every ${faultEveryMs / 1000} s`);

// ---- Clients that stay: ping round trips, and every channel's stale/live status.
interface Steady { ws: WebSocket; pingSentAt: number | undefined; frames: number }
const rtts: number[] = [];
const statusLog: Array<{ at: number; channel: string; state: string }> = [];
function steadyClient(i: number, observer: boolean): Promise<Steady> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    const s: Steady = { ws, pingSentAt: undefined, frames: 0 };
    ws.on('message', (data: Buffer) => {
      s.frames++;
      const f = JSON.parse(data.toString()) as { type: string; channel?: string; data?: any; id?: number };
      if (f.type === 'connected') {
        const channels = observer
          ? [...SYMBOLS.map((x) => `depth:${x}`), ...SYMBOLS.map((x) => `price:${x}`), ...SYMBOLS.map((x) => `bookcheck:${x}`)]
          : [channel(pick(KINDS), SYMBOLS[i % SYMBOLS.length]!), channel('price', pick(SYMBOLS))];
        ws.send(JSON.stringify({ type: 'subscribe', channels }));
        resolve(s);
      } else if (f.type === 'pong' && s.pingSentAt !== undefined) {
        rtts.push(Date.now() - s.pingSentAt);
        s.pingSentAt = undefined;
      } else if (f.type === 'status' && observer) statusLog.push({ at: Date.now(), channel: f.channel!, state: f.data.state });
      else if (f.type === 'bookcheck') checkBook(f.channel!.slice('bookcheck:'.length), f.data);
    });
    ws.on('error', reject);
  });
}

// ---- Books: each bookcheck frame (the shard's local book and its update id) against the exchange's own book then.
const books = { compared: 0, mismatched: 0, notInHistory: 0 };
function checkBook(symbol: string, data: { id: number; bids: unknown; asks: unknown }): void {
  const want = sim.market(symbol)?.bookHistory.get(data.id);
  if (!want) {
    books.notInHistory++;
    return;
  }
  books.compared++;
  if (JSON.stringify(want) !== JSON.stringify({ bids: data.bids, asks: data.asks })) books.mismatched++;
}

const observer = await steadyClient(0, true);
const steady: Steady[] = [observer];
for (let i = 1; i < steadyN; i++) steady.push(await steadyClient(i, false));
// One ping in flight per client, every second: the next pong times it.
const pingTimer = setInterval(() => {
  for (const s of steady) {
    if (s.ws.readyState !== WebSocket.OPEN || s.pingSentAt !== undefined) continue;
    s.pingSentAt = Date.now();
    s.ws.send('{"type":"ping"}');
  }
}, 1000);

// ---- Churn: clients that connect, subscribe to a few channels and leave after 1–5 s.
const churn = { opened: 0, failed: 0, errorsWithUndocumentedCode: 0 };
const churnTimer = setInterval(() => {
  for (let i = 0; i < churnPerSecond / 10; i++) {
    const ws = new WebSocket(wsUrl);
    ws.on('open', () => {
      churn.opened++;
      ws.send(JSON.stringify({ type: 'subscribe', channels: [channel(pick(KINDS), pick(SYMBOLS)), channel(pick(KINDS), pick(SYMBOLS))] }));
      setTimeout(() => ws.close(), 1000 + Math.random() * 4000);
    });
    ws.on('error', () => churn.failed++);
  }
}, 100);

// ---- Slow clients: subscribe to the heavy channels and never read. A paused socket never sees its end, so the
// gateway's count of the slow clients it closed (4507) says how many to replace, at each sample.
const slow = { opened: 0, closedByGateway: 0 };
/** Oldest first: the gateway closes the ones that have waited longest, so as many as it closed go from the front. */
const slowSockets: Socket[] = [];
function slowClient(): void {
  const s: Socket = connect(port, '127.0.0.1');
  slowSockets.push(s);
  s.on('error', () => {});
  s.once('data', () => {
    const text = Buffer.from(JSON.stringify({ type: 'subscribe', channels: SYMBOLS.flatMap((x) => [`depth:${x}`, `trades:${x}`, `bookcheck:${x}`]) }));
    const key = randomBytes(4);
    s.write(Buffer.concat([Buffer.from([0x81, 0x80 | 126, text.length >> 8, text.length & 0xff]), key, Buffer.from(text.map((b, i) => b ^ key[i % 4]!))]));
    s.pause();
    slow.opened++;
  });
  s.write(`GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
}
for (let i = 0; i < slowN; i++) slowClient();

// ---- Faults on a schedule, and how long each took to recover from.
interface Recovery { fault: string; at: string; target: string; staleAfterMs: number | null; liveAfterMs: number | null }
const recoveries: Recovery[] = [];
const FAULTS = ['drop', 'stall', 'gap', 'crash'] as const;
let faultIndex = 0;
async function injectFault(): Promise<void> {
  const fault = FAULTS[faultIndex++ % FAULTS.length]!;
  const symbol = SYMBOLS[faultIndex % SYMBOLS.length]!;
  const at = Date.now();
  let watched: string[];
  if (fault === 'drop') {
    sim.dropAll();
    watched = SYMBOLS.map((s) => `depth:${s}`);
  } else if (fault === 'stall') {
    sim.stall();
    setTimeout(() => sim.resume(), 8000);
    watched = SYMBOLS.map((s) => `depth:${s}`);
  } else if (fault === 'gap') {
    sim.skipSequence(symbol, 5);
    watched = [`depth:${symbol}`];
  } else {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/chaos/crash?symbol=${symbol}`, { method: 'POST' });
    const shard = ((await res.json()) as { data: { shard: number } }).data.shard;
    watched = SYMBOLS.filter((s) => shardOf(s) === shard).map((s) => `depth:${s}`);
  }
  // Recovered when every watched channel that went stale is live again (60 s at most).
  const until = at + 60_000;
  let staleAt: number | null = null;
  let liveAt: number | null = null;
  while (Date.now() < until) {
    await sleep(100);
    const since = statusLog.filter((s) => s.at >= at && watched.includes(s.channel));
    const wentStale = new Set(since.filter((s) => s.state === 'stale').map((s) => s.channel));
    if (wentStale.size && staleAt === null) staleAt = Math.min(...since.filter((s) => s.state === 'stale').map((s) => s.at));
    const lastState = new Map<string, string>();
    for (const s of since) lastState.set(s.channel, s.state);
    if (wentStale.size && [...wentStale].every((c) => lastState.get(c) === 'live')) {
      liveAt = Math.max(...since.filter((s) => s.state === 'live').map((s) => s.at));
      break;
    }
  }
  const r: Recovery = { fault, at: new Date(at).toISOString(), target: fault === 'gap' || fault === 'crash' ? symbol : 'all', staleAfterMs: staleAt === null ? null : staleAt - at, liveAfterMs: liveAt === null ? null : liveAt - at };
  recoveries.push(r);
  log(`${fault} (${r.target}): ${r.staleAfterMs === null ? 'no channel went stale' : `stale after ${r.staleAfterMs} ms, live again after ${r.liveAfterMs ?? 'NOT RECOVERED'} ms`}`);
}
/** The gateway's shard for a symbol: asked of the chaos route's answer would crash it, so computed as the gateway does. */
const { shardFor } = await import('../../core/shard-hash.js');
const shardOf = (s: string) => shardFor(s, 2);

// ---- Samples every 10 s: RSS, fds, connections, round trips.
interface Sample { minute: number; rssMb: number; fds: number; connections: number; rttP50: number; rttP99: number; queuedMb: number }
const samples: Sample[] = [];
const started = Date.now();
const percentile = (a: number[], p: number) => (a.length ? [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((p / 100) * a.length))]! : 0);
async function sample(): Promise<void> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const get = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
  const connections = get(/\ntickgate_connections\{authenticated="false"\} (\d+)/);
  const queued = get(/\ntickgate_send_queue_bytes (\d+)/);
  const closedSlow = get(/\ntickgate_slow_clients_closed_total\{reason="client"\} (\d+)/) + get(/\ntickgate_slow_clients_closed_total\{reason="total"\} (\d+)/);
  for (let i = slow.closedByGateway; i < closedSlow; i++) {
    slowSockets.shift()?.destroy();
    slowClient();
  }
  slow.closedByGateway = closedSlow;
  const window = rtts.splice(0);
  samples.push({ minute: Math.round(((Date.now() - started) / 60_000) * 100) / 100, rssMb: Math.round(rssKb / 102.4) / 10, fds, connections, rttP50: percentile(window, 50), rttP99: percentile(window, 99), queuedMb: Math.round((queued / 2 ** 20) * 10) / 10 });
}

const end = started + minutes * 60_000;
let nextFault = started + faultEveryMs;
let nextSample = started;
let faultRunning: Promise<void> | undefined;
while (Date.now() < end && gatewayExit === undefined) {
  if (Date.now() >= nextSample) {
    await sample();
    nextSample += 10_000;
    const s = samples.at(-1)!;
    if (samples.length % 6 === 1) log(`RSS ${s.rssMb} MB, ${s.fds} fds, ${s.connections} connections, ping p99 ${s.rttP99} ms, books ${books.compared} compared / ${books.mismatched} mismatched`);
  }
  // Faults stop before the end (70 s, or 40 % of a short run), so the last one has time to recover.
  if (!faultRunning && Date.now() >= nextFault && Date.now() < end - Math.min(70_000, minutes * 60_000 * 0.4)) {
    faultRunning = injectFault().finally(() => (faultRunning = undefined));
    nextFault += faultEveryMs;
  }
  await sleep(200);
}
await faultRunning;
clearInterval(churnTimer);
clearInterval(pingTimer);

// RSS slope: least squares over the samples after the first fifth (start-up and the first connections), in MB/hour.
const tail = samples.slice(Math.floor(samples.length / 5));
const slope = (pts: Array<[number, number]>) => {
  const n = pts.length;
  if (n < 2) return 0;
  const mx = pts.reduce((a, [x]) => a + x, 0) / n;
  const my = pts.reduce((a, [, y]) => a + y, 0) / n;
  const num = pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den ? num / den : 0;
};
const rssSlopeMbPerHour = Math.round(slope(tail.map((s) => [s.minute / 60, s.rssMb])) * 10) / 10;
const fdSlopePerHour = Math.round(slope(tail.map((s) => [s.minute / 60, s.fds])) * 10) / 10;
const alive = gatewayExit === undefined;
const recovered = recoveries.filter((r) => r.liveAfterMs !== null);
/** A fault that made no channel stale (a drop the gateway reconnected from within its stale window) needs no recovery. */
const unrecovered = recoveries.filter((r) => r.staleAfterMs !== null && r.liveAfterMs === null);
const report = {
  minutes, steadyClients: steadyN, churnPerSecond, slowClients: slowN, faultEverySeconds: faultEveryMs / 1000,
  gatewayAlive: alive,
  rssMb: { start: samples[0]?.rssMb, afterWarmup: tail[0]?.rssMb, end: samples.at(-1)?.rssMb, max: Math.max(...samples.map((s) => s.rssMb)), slopeMbPerHour: rssSlopeMbPerHour },
  fds: { start: samples[0]?.fds, end: samples.at(-1)?.fds, max: Math.max(...samples.map((s) => s.fds)), slopePerHour: fdSlopePerHour },
  pingMs: { p50: percentile(samples.map((s) => s.rttP50), 50), p99OfWindows: percentile(samples.map((s) => s.rttP99), 50), worstWindowP99: Math.max(...samples.map((s) => s.rttP99)) },
  books,
  churn,
  slow,
  recoveries,
  recoveryMs: Object.fromEntries(FAULTS.map((f) => {
    const list = recoveries.filter((r) => r.fault === f).map((r) => r.liveAfterMs).filter((x): x is number => x !== null);
    return [f, { count: recoveries.filter((r) => r.fault === f).length, recovered: list.length, p50: percentile(list, 50), max: list.length ? Math.max(...list) : null }];
  })),
  gatewayErrors: gatewayLog.slice(0, 50),
  samples,
};
writeFileSync(values.report!, JSON.stringify(report, null, 2));
gateway.kill('SIGTERM');
await new Promise((r) => (gatewayExit !== undefined ? r(undefined) : gateway.once('exit', r)));
for (const s of steady) s.ws.close();
await sim.close();

process.stdout.write(`## Soak: ${minutes} min\n\n`);
process.stdout.write(`- gateway alive to the end: ${alive ? 'yes' : `NO (exit ${gatewayExit})`}\n`);
process.stdout.write(`- RSS: ${report.rssMb.start} MB at start, ${report.rssMb.afterWarmup} MB after the first fifth, ${report.rssMb.end} MB at the end, ${report.rssMb.max} MB at most; slope after the first fifth ${rssSlopeMbPerHour} MB/hour\n`);
process.stdout.write(`- open fds: ${report.fds.start} → ${report.fds.end} (max ${report.fds.max}); slope ${fdSlopePerHour}/hour\n`);
process.stdout.write(`- ping round trip of steady clients: median of 10 s windows' p50 ${report.pingMs.p50} ms, median window p99 ${report.pingMs.p99OfWindows} ms, worst window p99 ${report.pingMs.worstWindowP99} ms\n`);
process.stdout.write(`- books: ${books.compared} local-book updates compared with the exchange's, ${books.mismatched} mismatched (${books.notInHistory} not in the exchange's recorded history)\n`);
process.stdout.write(`- churn: ${churn.opened} connections opened (${churn.failed} failed); slow clients: ${slow.opened} opened, ${slow.closedByGateway} closed by the gateway (4507)\n`);
process.stdout.write(`- faults: ${recoveries.length}, recovered ${recovered.length}, not recovered within 60 s ${unrecovered.length}\n\n| fault | count | recovered | live again p50 ms | max ms |\n|---|---|---|---|---|\n`);
for (const [f, r] of Object.entries(report.recoveryMs)) process.stdout.write(`| ${f} | ${r.count} | ${r.recovered} | ${r.p50} | ${r.max ?? '-'} |\n`);
process.stdout.write(`\nfull report: ${values.report}\n`);
process.exit(alive && books.compared > 0 && books.mismatched === 0 && unrecovered.length === 0 ? 0 : 1);
