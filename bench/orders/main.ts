// `npm run bench:orders`: paper-trading throughput and latency against tickgate as `npm start` runs it. Market
// orders per second (autocannon, users in rotation) against an authenticated one-row read in the same run; then the
// order-to-fill latency of resting limit orders: from the trade that crosses them at the exchange to the `filled`
// frame on orders:USERID.
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { procUsage, stopChild } from '../processes.js';
import { startExchange, startTarget } from '../targets.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    users: { type: 'string', default: '20' },
    /** Resting orders per user in the fill-latency phase. */
    resting: { type: 'string', default: '5' },
    /** Use this PostgreSQL server instead of the embedded database. */
    'database-url': { type: 'string' },
    shards: { type: 'string', default: '1' },
    /** Writes V8 CPU profiles of the gateway's threads here when it stops. */
    'profile-dir': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const userCount = Number(values.users);
const restingPerUser = Number(values.resting);

const sim = await startExchange(1000);
const gw = await startTarget('tickgate', {
  wsUrl: sim.wsUrl, restUrl: sim.restUrl, shards: Number(values.shards), ...(values['profile-dir'] ? { profileDir: values['profile-dir'] } : {}),
  env: { ...(values['database-url'] ? { DATABASE_URL: values['database-url'] } : {}) },
});
const base = `http://127.0.0.1:${gw.port}`;

async function call(method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json() as any;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

const pct = (sorted: number[], p: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;

try {
  const users: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < userCount; i++) {
    const d = await call('POST', '/api/v1/auth/register', undefined, { email: `bench-${Date.now()}-${i}@example.com`, password: 'correct horse battery staple' });
    users.push({ id: d.user.id, token: d.accessToken });
  }
  // Warm: the books of the symbols are open and current before the clock starts.
  for (const symbol of ['BTCUSDT', 'ETHUSDT']) await call('POST', '/api/v1/orders', users[0]!.token, { symbol, side: 'BUY', type: 'MARKET', quantity: symbol === 'BTCUSDT' ? '0.0001' : '0.002' });

  const cannon = async (path: string, body: ((i: number) => unknown) | undefined) => {
    let n = 0;
    const before = procUsage(gw.child.pid!).cpuMs;
    const r = await autocannon({
      url: base, connections, duration: seconds,
      requests: [{
        method: body ? 'POST' : 'GET', path,
        setupRequest: (req) => {
          const i = n++;
          const u = users[i % users.length]!;
          return { ...req, headers: { authorization: `Bearer ${u.token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body(i)) } : {}) };
        },
      }],
    });
    const cpuMs = procUsage(gw.child.pid!).cpuMs - before;
    return {
      perSecond: Math.round(r.requests.average), total: r.requests.total, non2xx: r.non2xx, errors: r.errors,
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
      serverCpuMsPerRequest: r.requests.total ? Math.round((cpuMs * 100) / r.requests.total) / 100 : 0,
    };
  };
  const read = await cannon('/api/v1/orders?limit=1', undefined);
  const market = await cannon('/api/v1/orders', (i) => ({ symbol: i % 2 ? 'ETHUSDT' : 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: i % 2 ? '0.002' : '0.0001' }));

  // Resting orders a little below the price, the price moved through them, each fill timed from its trade.
  const ticker = await call('GET', '/api/v1/market/ticker/BTCUSDT');
  const price = Number(ticker.price);
  const sockets: WebSocket[] = [];
  const latencies: number[] = [];
  let firstFill = 0;
  let lastFill = 0;
  const expected = userCount * restingPerUser;
  const allFilled = new Promise<void>((resolve) => {
    for (const u of users) {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${u.token}`);
      sockets.push(ws);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', channels: [`orders:${u.id}`] })));
      ws.on('message', (m: Buffer) => {
        const f = JSON.parse(m.toString()) as { type: string; data?: { event: string; order: { type: string }; fills: Array<{ time: string }> } };
        if (f.type !== 'order' || f.data?.order.type !== 'LIMIT' || f.data.fills.length === 0) return;
        const now = Date.now();
        for (const fill of f.data.fills) latencies.push(now - Date.parse(fill.time));
        firstFill ||= now;
        lastFill = now;
        if (f.data.event === 'filled' && ++filled === expected) resolve();
      });
    }
  });
  let filled = 0;
  await Promise.all(sockets.map((ws) => new Promise((r) => ws.once('open', r))));
  const placeStart = Date.now();
  await Promise.all(users.map(async (u) => {
    for (let k = 0; k < restingPerUser; k++) {
      await call('POST', '/api/v1/orders', u.token, { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.0001', price: (price * (0.998 - k * 0.0002)).toFixed(2) });
    }
  }));
  const placeMs = Date.now() - placeStart;
  await fetch(`${sim.restUrl}/__sim/move?symbol=BTCUSDT&factor=0.98`, { method: 'POST' });
  const timeout = new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`only ${filled} of ${expected} resting orders filled within 60 s`)), 60_000));
  await Promise.race([allFilled, timeout]);
  for (const ws of sockets) ws.close();
  latencies.sort((a, b) => a - b);
  const result = {
    machine: { cores: (await import('node:os')).availableParallelism(), database: values['database-url'] ? 'postgres' : 'embedded (PGlite)' },
    settings: { seconds, connections, users: userCount, restingPerUser, shards: Number(values.shards) },
    authenticatedRead: read,
    marketOrders: market,
    marketOrdersPerRead: read.perSecond ? Math.round((market.perSecond / read.perSecond) * 100) / 100 : 0,
    restingPlacement: { orders: expected, perSecond: Math.round((expected * 1000) / placeMs) },
    restingFills: {
      fills: latencies.length, orders: filled,
      orderToFillMs: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies.at(-1) ?? 0 },
      fillsPerSecond: lastFill > firstFill ? Math.round((latencies.length * 1000) / (lastFill - firstFill)) : latencies.length,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nmarket orders: ${market.perSecond}/s (p50 ${market.latencyMs.p50} ms, p99 ${market.latencyMs.p99} ms: the response carries the fill), ` +
    `against ${read.perSecond}/s authenticated reads (ratio ${result.marketOrdersPerRead})\n` +
    `resting fills: ${latencies.length} fills of ${filled} orders, order-to-fill p50 ${result.restingFills.orderToFillMs.p50} ms, p99 ${result.restingFills.orderToFillMs.p99} ms, max ${result.restingFills.orderToFillMs.max} ms\n`);
} finally {
  await stopChild(gw.child);
  await stopChild(sim.child);
}
