// Restarts in the middle of order flow: a gateway's and a shard's. Nothing committed is lost, nothing fills twice,
// and the resting orders rest again.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decimal } from 'decimal.js';
import { sqlOn } from '../../helpers/accounts.js';
import { testDatabase } from '../../helpers/database.js';
import { TestClient } from '../../helpers/ws-client.js';
import { until, getJson } from '../../helpers/stack.js';
import { auditAccount, startTrading } from './helpers.js';

const START = { USDT: '10000' };

async function restingInShard(httpUrl: string): Promise<number> {
  const h = await getJson(`${httpUrl}/health`);
  return Number(h.body.shards?.[0]?.plugins?.trading?.restingOrders ?? -1);
}

t.test('a gateway restart in the middle of order flow loses and doubles nothing; resting orders rest again', async (t) => {
  const db = await testDatabase(t);
  const a = await startTrading(t, { db });
  const u = await a.register();
  const m = a.sim.market('BTCUSDT')!;
  const limits = [0.99, 0.985, 0.98].map((f) => m.fmtPrice(m.price * f));
  for (const price of limits) t.equal((await a.order(u, { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.01', price })).status, 201);
  // A burst of orders, and the gateway stops while they are in flight.
  const burst = Array.from({ length: 20 }, (_, i) => a.order(u, { symbol: i % 2 ? 'ETHUSDT' : 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: i % 2 ? '0.01' : '0.001' }).catch((err: Error) => ({ status: 0, body: { error: err.message } })));
  await new Promise((r) => setTimeout(r, 30));
  await a.server.close();
  const answered = await Promise.all(burst);
  t.ok(answered.some((r) => r.status !== 201), 'some of the burst did not complete before the stop');
  // The embedded database is read through a running gateway: the next one, before it changes anything.
  const b = await startTrading(t, { db });
  const placed = answered.filter((r) => r.status === 201).map((r) => (r.body as { data: { order: { id: number } } }).data.order.id);
  const stored = await sqlOn(db, 'SELECT id FROM trading_orders WHERE user_id = $1', [u.user.id]);
  const storedIds = new Set(stored.map((r) => Number(r.id)));
  t.ok(placed.every((id) => storedIds.has(id)), 'every order the gateway confirmed is stored');
  t.same(await auditAccount(db, u.user.id, START), [], 'after the stop, the account balances: no half-applied order');

  const open = (await sqlOn(db, "SELECT count(*)::int AS n FROM trading_orders WHERE status IN ('NEW', 'PARTIALLY_FILLED')"))[0].n as number;
  t.equal(open, 3, 'the resting orders are still open');
  await until(async () => (await restingInShard(b.httpUrl)) === open, 'the new gateway hands the open orders to its shard', 15_000);
  const m2 = b.sim.market('BTCUSDT')!;
  m2.price = Number(m2.fmtPrice(Number(limits[2]) * 0.97));
  await until(async () => (await sqlOn(db, "SELECT count(*)::int AS n FROM trading_orders WHERE status = 'FILLED' AND type = 'LIMIT'"))[0].n === 3, 'the resting orders fill after the restart', 20_000);
  const perOrder = await sqlOn(db, "SELECT o.id, o.quantity::text AS q, sum(f.quantity)::text AS filled, count(f.id)::int AS fills FROM trading_orders o JOIN trading_fills f ON f.order_id = o.id WHERE o.type = 'LIMIT' GROUP BY o.id, o.quantity");
  for (const r of perOrder) t.ok(new Decimal(r.filled).eq(r.q), `order ${r.id}: its fills add up to its quantity once (${r.fills} fills)`);
  t.same(await auditAccount(db, u.user.id, START), [], 'the account still balances');
});

t.test('a shard restart hands its resting orders over again; they fill once', async (t) => {
  const markerDir = mkdtempSync(join(tmpdir(), 'tickgate-trading-crash-'));
  const crashing = fileURLToPath(new URL('../../fixtures/crashing-plugin/index.js', import.meta.url));
  const s = await startTrading(t, { extraBefore: [{ name: 'crashing', path: crashing, config: { marker: join(markerDir, 'crashed') } }] });
  const u = await s.register();
  const m = s.sim.market('BTCUSDT')!;
  const prices = [0.99, 0.985].map((f) => m.fmtPrice(m.price * f));
  for (const price of prices) t.equal((await s.order(u, { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.02', price })).status, 201);
  t.equal((await s.order(u, { symbol: 'BTCUSDT', side: 'SELL', type: 'LIMIT', quantity: '0.001', price: m.fmtPrice(m.price * 1.5) })).status, 400, 'a sell of BTC the account does not hold is refused');
  await until(async () => (await restingInShard(s.httpUrl)) === 2, 'the orders rest in the shard');
  const c = await TestClient.connect(s.wsUrl);
  t.teardown(() => c.close());
  c.subscribe('crash:BTCUSDT');
  await until(async () => ((await getJson(`${s.httpUrl}/health`)).body.shards?.[0]?.restarts ?? 0) >= 1 && (await restingInShard(s.httpUrl)) === 2, 'the shard restarted and has the orders again', 20_000);
  m.price = Number(m.fmtPrice(Number(prices[1]) * 0.97));
  await until(async () => (await sqlOn(s.db, "SELECT count(*)::int AS n FROM trading_orders WHERE status = 'FILLED'"))[0].n === 2, 'both fill after the restart', 20_000);
  const fills = await sqlOn(s.db, 'SELECT order_id, source FROM trading_fills');
  t.equal(new Set(fills.map((f) => `${f.order_id}|${f.source}`)).size, fills.length, 'no trade filled an order twice');
  t.same(await auditAccount(s.db, u.user.id, START), [], 'the account balances');
});

t.test('a gateway killed (SIGKILL) in the middle of order flow: what it confirmed is stored, nothing is half-applied', async (t) => {
  const { spawn } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const { SimExchange } = await import('../../../sim/exchange.js');
  const { PACKAGE_ROOT } = await import('../../../core/config.js');
  const db = await testDatabase(t);
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-trading-kill-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, JSON.stringify({
    server: { host: '127.0.0.1', port: 0 }, shards: 1, log: { level: 'info' },
    upstream: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, heartbeatStream: '' },
    plugins: ['market', { name: 'db', config: db.config }, 'users', 'auth', 'trading'],
  }));
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist/core/main.js')], { env: { ...process.env, TICKGATE_CONFIG: configFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => /listening on 127\.0\.0\.1:(\d+)/.test(out) || child.exitCode !== null, 'the gateway listens', 30_000);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
  t.ok(port > 0, 'the gateway started as a process of its own');
  const base = `http://127.0.0.1:${port}`;
  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() as any };
  };
  const reg = await post('/api/v1/auth/register', { email: `kill-${Date.now()}@example.com`, password: 'correct horse battery staple' });
  const token = reg.body.data.accessToken as string;
  const userId = reg.body.data.user.id as string;
  const m = sim.market('BTCUSDT')!;
  const price = m.fmtPrice(m.price * 0.99);
  t.equal((await post('/api/v1/orders', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.01', price }, token)).status, 201);
  let done = 0;
  const burst = Array.from({ length: 40 }, (_, i) => post('/api/v1/orders', { symbol: i % 2 ? 'ETHUSDT' : 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: i % 2 ? '0.01' : '0.001' }, token)
    .then((r) => {
      done++;
      return r;
    }, () => ({ status: 0, body: {} })));
  // Killed once a few have been answered: the rest are in flight, some inside their transaction.
  await until(() => done >= 3, 'the first orders of the burst answered', 15_000);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  const answered = await Promise.all(burst);
  await exited;
  const confirmed = answered.filter((r) => r.status === 201).map((r) => r.body.data.order.id as number);
  t.ok(confirmed.length >= 3 && answered.some((r) => r.status !== 201), `the kill cut the burst (${confirmed.length} of 40 confirmed)`);

  const after = await startTrading(t, { db });
  const stored = new Set((await sqlOn(db, 'SELECT id FROM trading_orders WHERE user_id = $1', [userId])).map((r) => Number(r.id)));
  t.ok(confirmed.every((id) => stored.has(id)), 'every order the gateway confirmed before the kill is stored');
  t.same(await auditAccount(db, userId, START), [], 'no order or fill is half-applied: the account balances');
  await until(async () => (await restingInShard(after.httpUrl)) === 1, 'the resting order rests again after the kill', 15_000);
});
