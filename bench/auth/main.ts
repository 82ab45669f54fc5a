// `npm run bench:auth`: the cost of the auth path. WebSocket upgrades per second with an access token against
// without (alternating rounds in one run), REST with a token against without, and logins per second.
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { procUsage, stopChild } from '../processes.js';
import { startExchange, startTarget } from '../targets.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    /** Keep the embedded database here (a second run then measures a later start, not a first one). */
    'data-dir': { type: 'string' },
    /** Use this PostgreSQL server instead of the embedded database. */
    'database-url': { type: 'string' },
  },
});
const database: Record<string, string> = {};
if (values['data-dir']) database.TICKGATE_DATA_DIR = values['data-dir'];
if (values['database-url']) database.DATABASE_URL = values['database-url'];
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const connections = Number(values.connections);

/** Upgrades for `seconds` from `concurrency` clients in a loop: connect, wait for "connected", close. */
async function upgrades(url: string, pid: number): Promise<{ perSecond: number; serverCpuUsPerUpgrade: number; failed: number }> {
  let done = 0;
  let failed = 0;
  const until = Date.now() + seconds * 1000;
  const cpuBefore = procUsage(pid).cpuMs;
  const started = Date.now();
  const one = () => new Promise<void>((resolve) => {
    const ws = new WebSocket(url);
    ws.once('message', (m: Buffer) => {
      if (m.toString().includes('"connected"')) done++;
      else failed++;
      ws.close();
    });
    ws.once('error', () => {
      failed++;
      resolve();
    });
    ws.once('close', () => resolve());
  });
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) await one();
  }));
  const elapsed = (Date.now() - started) / 1000;
  const cpuMs = procUsage(pid).cpuMs - cpuBefore;
  return { perSecond: Math.round(done / elapsed), serverCpuUsPerUpgrade: done ? Math.round((cpuMs * 1000) / done) : 0, failed };
}

async function http(url: string, pid: number, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const before = procUsage(pid).cpuMs;
  const r = await autocannon({ url, connections, duration: seconds, method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
  const cpuMs = procUsage(pid).cpuMs - before;
  return {
    requestsPerSecond: Math.round(r.requests.average),
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99 },
    non2xx: r.non2xx,
    serverCpuUsPerRequest: r.requests.total ? Math.round((cpuMs * 10_000) / r.requests.total) / 10 : 0,
  };
}

const sim = await startExchange();

/** Resident memory of an idle gateway a few seconds after it listens (KiB). */
async function idleRss(env: Record<string, string>): Promise<number> {
  const t = await startTarget('tickgate', { wsUrl: sim.wsUrl, restUrl: sim.restUrl, env });
  await new Promise((r) => setTimeout(r, 5000));
  const rss = procUsage(t.child.pid!).rssKb;
  await stopChild(t.child);
  return rss;
}
// The cost in memory of accounts on the embedded database: the same gateway with market data only, as a baseline.
const cfgDir = mkdtempSync(join(tmpdir(), 'tickgate-bench-auth-'));
writeFileSync(join(cfgDir, 'market-only.yaml'), 'plugins: [market]\n');
const rssMarketOnly = await idleRss({ TICKGATE_CONFIG: join(cfgDir, 'market-only.yaml') });
rmSync(cfgDir, { recursive: true, force: true });

const server = await startTarget('tickgate', {
  wsUrl: sim.wsUrl,
  restUrl: sim.restUrl,
  // The sign-in limits would stop a benchmark from one address after 20 logins a minute.
  env: { TICKGATE__PLUGINS__AUTH__LIMITS__LOGINS_PER_IP_PER_MINUTE: '100000000', ...database },
});
const pid = server.child.pid!;
try {
  const base = `http://127.0.0.1:${server.port}`;
  await new Promise((r) => setTimeout(r, 5000));
  const rssShipped = procUsage(pid).rssKb;
  const email = `bench-${Date.now()}@example.com`;
  const password = 'a benchmark passphrase';
  const reg = await fetch(`${base}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${await reg.text()}`);
  const token = ((await reg.json()) as { data: { accessToken: string } }).data.accessToken;
  const ws = `ws://127.0.0.1:${server.port}/ws`;
  await upgrades(ws, pid); // warm-up: JIT, the session and user caches
  const rows: Array<{ round: number; without: Awaited<ReturnType<typeof upgrades>>; withToken: Awaited<ReturnType<typeof upgrades>> }> = [];
  for (let round = 1; round <= rounds; round++) {
    const without = await upgrades(ws, pid);
    const withToken = await upgrades(`${ws}?token=${token}`, pid);
    rows.push({ round, without, withToken });
  }
  const health = await http(`${base}/health`, pid);
  const meAnon = await http(`${base}/api/v1/market/symbols`, pid);
  const me = await http(`${base}/api/v1/auth/me`, pid, { headers: { authorization: `Bearer ${token}` } });
  const login = await http(`${base}/api/v1/auth/login`, pid, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  const result = { seconds, concurrency, connections, idleRssKb: { marketOnly: rssMarketOnly, shippedEmbeddedDatabase: rssShipped }, upgrades: rows, http: { health, symbols: meAnon, meWithToken: me, login } };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n`);
  const lines = ['| round | upgrades/s without token | with token | ratio | server CPU µs per upgrade, without | with |', '|---|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.round} | ${r.without.perSecond} | ${r.withToken.perSecond} | ${(r.withToken.perSecond / r.without.perSecond).toFixed(2)} | ${r.without.serverCpuUsPerUpgrade} | ${r.withToken.serverCpuUsPerUpgrade} |`);
  lines.push('', '| route | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/request |', '|---|---|---|---|---|---|');
  for (const [name, h] of Object.entries(result.http)) lines.push(`| ${name} | ${h.requestsPerSecond} | ${h.latencyMs.p50} | ${h.latencyMs.p99} | ${h.non2xx} | ${h.serverCpuUsPerRequest} |`);
  const where = values['database-url'] ? 'a PostgreSQL server' : values['data-dir'] ? `the embedded database in ${values['data-dir']}` : 'a new embedded database';
  lines.push('', `idle RSS: ${Math.round(rssShipped / 1024)} MB with accounts (on ${where}) against ${Math.round(rssMarketOnly / 1024)} MB with market data only`);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await stopChild(server.child);
  await stopChild(sim.child);
}
