// Slow clients: a client over its own queue limit, and clients over the budget for all queues together, are closed
// with 4507 and a log line, the slowest first, while clients that keep up are not disturbed.
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startStack, testConfig, getJson, until } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { TickgateServer } from '../../core/server.js';
import { SimExchange } from '../../sim/exchange.js';
import { CLOSE_CODES } from '../../core/errors.js';
import { autoQueuedBytes, validateConfig } from '../../core/config.js';
import { totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const flood = fileURLToPath(new URL('../fixtures/flood-plugin/index.js', import.meta.url));
const KiB = 1024;

/** A server whose log lines are kept, with the flood:SYM fixture channel. */
async function floodServer(t: Test, limits: Record<string, number>) {
  const sim = await new SimExchange({ port: 0 }).start();
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const config = testConfig({ plugins: ['market', { name: 'flood', path: flood, config: { bytes: 2000, everyMs: 2 } }], limits, log: { level: 'info' } }, { wsUrl: sim.wsUrl, restUrl: sim.restUrl });
  t.teardown(() => sim.close());
  const server = await TickgateServer.start(config, pino({ level: 'info' }, sink));
  t.teardown(() => server.close());
  await until(() => server.symbols.loaded, 'symbols');
  return { server, lines, wsUrl: `ws://127.0.0.1:${server.port}/ws`, httpUrl: `http://127.0.0.1:${server.port}` };
}

async function subscribed(c: TestClient): Promise<void> {
  c.subscribe('flood:BTCUSDT');
  await c.next((f) => f.type === 'subscribed');
  await c.next((f) => f.type === 'flood');
}

t.test('a client over limits.maxBackpressureBytes is closed with 4507 and a log line; one that keeps reading is not', async (t) => {
  const { lines, wsUrl, httpUrl } = await floodServer(t, { maxBackpressureBytes: 256 * KiB, maxQueuedBytes: 64 * 1024 * KiB });
  const normal = await TestClient.connect(wsUrl);
  const slow = await TestClient.connect(wsUrl);
  await subscribed(normal);
  await subscribed(slow);
  slow.ws.pause();
  await until(() => lines.some((l) => l.msg?.toString().startsWith('slow client closed')), 'the slow client closed', 30_000);
  // It takes what was queued, then the close frame: a client that reads, however slowly, learns why.
  slow.ws.resume();
  const closed = await slow.waitClose();
  t.equal(closed.code, CLOSE_CODES.SLOW_CONSUMER);
  t.match(closed.reason, /too slow/);
  const line = lines.find((l) => l.msg?.toString().startsWith('slow client closed'))!;
  t.equal(line.level, 40, 'logged as a warning');
  t.equal(line.code, 4507);
  t.match(line.msg, /over the 262144-byte limit per client \(limits\.maxBackpressureBytes\)/);
  t.ok(Number(line.queuedBytes) > 256 * KiB);
  // The client that reads was never touched, and still gets data.
  t.equal(normal.closed, undefined);
  const before = normal.frames.length;
  await until(() => normal.frames.length > before + 10, 'the normal client still receives');
  await normal.ping();
  const health = await getJson(`${httpUrl}/health`);
  t.equal(health.body.sendQueues.slowClientsClosed, 1);
  t.equal(health.body.sendQueues.budgetBytes, 64 * 1024 * KiB);
  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  t.match(metrics, /\ntickgate_slow_clients_closed_total\{reason="client"\} 1\n/, 'counted in the metrics');
  t.match(metrics, /\ntickgate_slow_clients_closed_total\{reason="total"\} 0\n/);
  normal.close();
});

t.test('over limits.maxQueuedBytes, the clients with the most queued are closed first, until the total is back under', async (t) => {
  const { lines, wsUrl } = await floodServer(t, { maxBackpressureBytes: 1024 * KiB, maxQueuedBytes: 1536 * KiB });
  const normal = await TestClient.connect(wsUrl);
  const first = await TestClient.connect(wsUrl);
  const later = [await TestClient.connect(wsUrl), await TestClient.connect(wsUrl), await TestClient.connect(wsUrl)];
  for (const c of [normal, first, ...later]) await subscribed(c);
  // The kernel holds a few MB for each before uWS queues anything: `first` stops reading 300 ms before the others, so
  // it has the most queued when all of them together pass the budget (each is still under its own 1 MiB).
  first.ws.pause();
  await new Promise((r) => setTimeout(r, 300));
  for (const c of later) c.ws.pause();
  await until(() => lines.some((l) => l.msg?.toString().startsWith('slow client closed')), 'a slow client closed', 30_000);
  const drops = lines.filter((l) => l.msg?.toString().startsWith('slow client closed'));
  const firstDrop = drops[0]!;
  t.match(firstDrop.msg, /over limits\.maxQueuedBytes \(1572864\)/, 'closed for the total, not its own limit');
  t.equal(firstDrop.client, first.frames[0]!.data.clientId, 'the client with the most queued goes first');
  t.ok(drops.every((l) => l.client !== normal.frames[0]!.data.clientId), 'the client that reads is never picked');
  first.ws.resume();
  t.equal((await first.waitClose()).code, CLOSE_CODES.SLOW_CONSUMER);
  for (const c of later) c.ws.resume();
  t.equal(normal.closed, undefined);
  await normal.ping();
  normal.close();
  for (const c of later) c.close();
});

t.test('limits.maxQueuedBytes "auto" is an eighth of the memory, and may not be below one client\'s limit', async (t) => {
  t.equal(autoQueuedBytes(), Math.max(64 * 1024 * KiB, Math.floor(Math.min(totalmem(), (process.constrainedMemory?.() || Infinity)) / 8)));
  t.equal(validateConfig({}, 'test').limits.maxQueuedBytes, autoQueuedBytes());
  t.equal(validateConfig({}, 'test').limits.maxConnectionsPerIp, 200, 'a per-address cap by default');
  t.throws(() => validateConfig({ limits: { maxQueuedBytes: 2 * 1024 * KiB, maxBackpressureBytes: 4 * 1024 * KiB } }, 'test'), /limits\.maxQueuedBytes: 2097152 is below limits\.maxBackpressureBytes/);
  t.throws(() => validateConfig({ limits: { maxQueuedBytes: 'lots' } }, 'test'), /limits\.maxQueuedBytes/);
});

t.test('the default per-address cap refuses the 201st connection with a message naming the setting', async (t) => {
  const { wsUrl } = await startStack(t);
  const { connectAll, refusedUpgrade } = await import('../helpers/ws-client.js');
  const clients = await connectAll(wsUrl, 200);
  const refused = await refusedUpgrade(wsUrl);
  t.equal(refused.status, 429);
  t.equal(refused.body.error.code, 'TG_ERR_TOO_MANY_CONNECTIONS');
  t.match(refused.body.error.message, /limits\.maxConnectionsPerIp/);
  for (const c of clients) c.close();
});
