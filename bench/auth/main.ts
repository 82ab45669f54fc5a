// `npm run bench:auth`: the cost of the auth path. WebSocket upgrades per second with an access token against
// without (alternating rounds in one run), REST with a token against without, and logins per second.
import { parseArgs } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import pg from 'pg';
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
    /** Users to add for the admin-search phase (0 skips it): the acceptor's stall while the database works. */
    'search-users': { type: 'string', default: '200000' },
  },
});
const database: Record<string, string> = {};
// A data directory of our own, so that the admin-search phase can reach the embedded database beside the gateway.
const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'tickgate-bench-auth-data-'));
if (!values['database-url']) database.TICKGATE_DATA_DIR = dataDir;
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

/** Latency of GET /health, one request at a time every few milliseconds, for `seconds`: how long the acceptor stalls. */
async function probe(base: string): Promise<{ samples: number; p50: number; p99: number; max: number }> {
  const ms: number[] = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const t = performance.now();
    await (await fetch(`${base}/health`)).arrayBuffer();
    ms.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]! * 10) / 10;
  return { samples: ms.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

/**
 * The acceptor's stall while an admin searches many users (a full scan): /health latency alone, then with searches
 * running back to back. The users are added straight into the database the gateway uses.
 */
async function adminSearch(base: string, password: string) {
  const count = Number(values['search-users']);
  const stamp = Date.now();
  const client = values['database-url']
    ? new pg.Client({ connectionString: values['database-url'] })
    : new pg.Client({ host: (JSON.parse(readFileSync(join(dataDir, 'tickgate-db.lock'), 'utf8')) as { socketDir: string }).socketDir, port: 5432, user: 'postgres', database: 'postgres' });
  await client.connect();
  const seeded = `seed-%-${stamp}@example.com`;
  try {
    await client.query(`INSERT INTO users (id, email, password_hash, display_name, role, created_at, updated_at)
      SELECT gen_random_uuid(), 'seed-' || g || '-' || $2 || '@example.com', 'none', 'seed', 'user', now(), now() FROM generate_series(1, $1) g`, [count, stamp]);
    // The admin is made the way an operator makes one, beside the running gateway.
    const adminEmail = `bench-admin-${stamp}@example.com`;
    const made = spawnSync(process.execPath, ['dist/plugins/users/create-user.js', '--email', adminEmail, '--admin'], { input: `${password}\n`, env: { ...process.env, ...database }, encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`user:create failed: ${made.stderr}`);
    const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: adminEmail, password }) });
    const admin = ((await login.json()) as { data: { accessToken: string } }).data.accessToken;
    return await searching(base, admin, count);
  } finally {
    await client.query('DELETE FROM users WHERE email LIKE $1', [seeded]);
    await client.end();
  }
}

async function searching(base: string, admin: string, count: number) {
  const idle = await probe(base);
  let searches = 0;
  let failed = 0;
  let searching = true;
  const loop = (async () => {
    while (searching) {
      const r = await fetch(`${base}/api/v1/users?q=no-such-email&page=1`, { headers: { authorization: `Bearer ${admin}` } });
      await r.arrayBuffer();
      if (r.status === 200) searches++;
      else failed++;
    }
  })();
  const started = Date.now();
  const busy = await probe(base);
  searching = false;
  await loop;
  if (failed > 0 || searches === 0) throw new Error(`the admin searches failed (${failed} failed, ${searches} answered): the measure would mean nothing`);
  return { users: count, searchesPerSecond: Math.round((searches * 10_000) / (Date.now() - started)) / 10, failedSearches: failed, healthMsIdle: idle, healthMsDuringSearches: busy };
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
  // The sign-in limits would stop a benchmark from one address after 20 logins a minute, and count its concurrent
  // logins on one account (counted before the password check) as possible guesses.
  env: {
    TICKGATE__PLUGINS__AUTH__LIMITS__LOGINS_PER_IP_PER_MINUTE: '100000000',
    TICKGATE__PLUGINS__AUTH__LIMITS__FAILURES_PER_ACCOUNT_PER_IP_PER_15_MINUTES: '100000000',
    TICKGATE__PLUGINS__AUTH__LIMITS__FAILURES_PER_ACCOUNT_PER_HOUR: '100000000',
    ...database,
  },
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
  const search = Number(values['search-users']) > 0 ? await adminSearch(base, password) : undefined;
  const result = { seconds, concurrency, connections, idleRssKb: { marketOnly: rssMarketOnly, shippedEmbeddedDatabase: rssShipped }, upgrades: rows, http: { health, symbols: meAnon, meWithToken: me, login }, adminSearch: search };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n`);
  const lines = ['| round | upgrades/s without token | with token | ratio | server CPU µs per upgrade, without | with |', '|---|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.round} | ${r.without.perSecond} | ${r.withToken.perSecond} | ${(r.withToken.perSecond / r.without.perSecond).toFixed(2)} | ${r.without.serverCpuUsPerUpgrade} | ${r.withToken.serverCpuUsPerUpgrade} |`);
  lines.push('', '| route | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/request |', '|---|---|---|---|---|---|');
  for (const [name, h] of Object.entries(result.http)) lines.push(`| ${name} | ${h.requestsPerSecond} | ${h.latencyMs.p50} | ${h.latencyMs.p99} | ${h.non2xx} | ${h.serverCpuUsPerRequest} |`);
  const where = values['database-url'] ? 'a PostgreSQL server' : values['data-dir'] ? `the embedded database in ${values['data-dir']}` : 'a new embedded database';
  lines.push('', `idle RSS: ${Math.round(rssShipped / 1024)} MB with accounts (on ${where}) against ${Math.round(rssMarketOnly / 1024)} MB with market data only`);
  if (search) {
    lines.push('', `admin search over ${search.users} more users: ${search.searchesPerSecond}/s (${search.failedSearches} failed)`, '| GET /health, ms | p50 | p99 | max |', '|---|---|---|---|');
    lines.push(`| alone | ${search.healthMsIdle.p50} | ${search.healthMsIdle.p99} | ${search.healthMsIdle.max} |`);
    lines.push(`| during searches | ${search.healthMsDuringSearches.p50} | ${search.healthMsDuringSearches.p99} | ${search.healthMsDuringSearches.max} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await stopChild(server.child);
  await stopChild(sim.child);
  if (!values['data-dir']) rmSync(dataDir, { recursive: true, force: true });
}
