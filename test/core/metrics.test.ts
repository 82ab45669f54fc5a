// GET /metrics: the gateway's metrics exist and move with what happens, and a plugin's own metrics are served with them.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, testConfig, until } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { TickgateServer } from '../../core/server.js';
import { SimExchange } from '../../sim/exchange.js';

const flood = fileURLToPath(new URL('../fixtures/flood-plugin/index.js', import.meta.url));
const crashing = fileURLToPath(new URL('../fixtures/crashing-plugin/index.js', import.meta.url));

/** Samples of the exposition text: `name{labels}` → value. */
async function scrape(httpUrl: string): Promise<{ text: string; contentType: string; get(name: string, labels?: Record<string, string>): number | undefined }> {
  const res = await fetch(`${httpUrl}/metrics`);
  const text = await res.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)$/i.exec(line);
    if (m) samples.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return {
    text,
    contentType: res.headers.get('content-type') ?? '',
    get(name, labels = {}) {
      const want = Object.entries(labels);
      for (const [key, value] of samples) {
        if (!key.startsWith(name) || (key.length > name.length && key[name.length] !== '{')) continue;
        if (want.every(([k, v]) => key.includes(`${k}="${v}"`))) return value;
      }
      return undefined;
    },
  };
}

t.test('connections, subscriptions and frames sent per kind, HTTP requests, upstream and loops: present and moving', async (t) => {
  const marker = join(mkdtempSync(join(tmpdir(), 'tickgate-metrics-')), 'crashed');
  const { httpUrl, wsUrl, sim } = await startStack(t, {
    config: { plugins: ['market', { name: 'flood', path: flood, config: { bytes: 100, everyMs: 50 } }, { name: 'crashing', path: crashing, config: { marker } }] },
    sim: { depthIntervalMs: 50 },
  });
  const empty = await scrape(httpUrl);
  t.match(empty.contentType, /^text\/plain; version=0\.0\.4/);
  t.equal(empty.get('tickgate_connections', { authenticated: 'false' }), 0);
  t.ok(empty.get('tickgate_process_resident_memory_bytes')! > 0, 'process metrics (RSS, fds, heap) are there');
  t.ok(empty.get('tickgate_process_open_fds')! > 0);

  const a = await TestClient.connect(wsUrl);
  const b = await TestClient.connect(wsUrl);
  a.subscribe('price:BTCUSDT', 'depth:BTCUSDT');
  b.subscribe('price:BTCUSDT');
  await a.next((f) => f.type === 'depth');
  await b.next((f) => f.type === 'price');
  await until(async () => ((await scrape(httpUrl)).get('tickgate_frames_sent_total', { kind: 'depth' }) ?? 0) > 0, 'depth frames counted');
  const first = await scrape(httpUrl);
  t.equal(first.get('tickgate_connections', { authenticated: 'false' }), 2);
  t.equal(first.get('tickgate_subscriptions', { kind: 'price' }), 2);
  t.equal(first.get('tickgate_subscriptions', { kind: 'depth' }), 1);
  t.equal(first.get('tickgate_channels', { kind: 'price' }), 1, 'one channel, two subscribers');
  t.ok(first.get('tickgate_upstream_connections', { shard: '0', state: 'live' })! >= 1, 'a live exchange connection');
  t.equal(first.get('tickgate_shard_up', { shard: '0' }), 1);
  await until(async () => ((await scrape(httpUrl)).get('tickgate_event_loop_delay_seconds', { thread: 'acceptor', quantile: '0.99' }) ?? 0) > 0, 'the acceptor\'s loop delay (sampled every 2 s)');
  await until(async () => (await scrape(httpUrl)).get('tickgate_event_loop_delay_seconds', { thread: 'shard-0', quantile: '0.99' }) !== undefined, 'the shard\'s loop delay (its stats come every 2 s)');

  // Frames sent count each subscriber: both clients' price frames.
  const priceFramesA = () => a.frames.filter((f) => f.type === 'price').length;
  const before = first.get('tickgate_frames_sent_total', { kind: 'price' })!;
  const bytesBefore = first.get('tickgate_bytes_sent_total', { kind: 'price' })!;
  const seenA = priceFramesA();
  await until(() => priceFramesA() >= seenA + 3, 'more price frames');
  const later = await scrape(httpUrl);
  t.ok(later.get('tickgate_frames_sent_total', { kind: 'price' })! >= before + 6, 'three more price frames to two clients: six more sent');
  t.ok(later.get('tickgate_bytes_sent_total', { kind: 'price' })! > bytesBefore);

  // HTTP requests by route (as registered), method and status.
  await fetch(`${httpUrl}/api/v1/market/ticker/BTCUSDT`);
  await fetch(`${httpUrl}/api/v1/market/ticker/NOPEUSDT`);
  await fetch(`${httpUrl}/no/such/path`);
  const http = await scrape(httpUrl);
  t.equal(http.get('tickgate_http_requests_total', { route: '/api/v1/market/ticker/:symbol', method: 'GET', status: '200' }), 1);
  t.equal(http.get('tickgate_http_requests_total', { route: '/api/v1/market/ticker/:symbol', method: 'GET', status: '404' }), 1);
  t.equal(http.get('tickgate_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' }), 1);

  // A gap in the diff stream throws the book away: a resync.
  const resyncs = http.get('tickgate_book_resyncs_total', { shard: '0' }) ?? 0;
  sim.skipSequence('BTCUSDT', 7);
  await until(async () => ((await scrape(httpUrl)).get('tickgate_book_resyncs_total', { shard: '0' }) ?? 0) > resyncs, 'the resync is counted', 15_000);

  // A shard that dies and comes back.
  t.equal(http.get('tickgate_shard_restarts_total', { shard: '0' }), 0);
  a.subscribe('crash:BTCUSDT');
  await until(async () => (await scrape(httpUrl)).get('tickgate_shard_restarts_total', { shard: '0' }) === 1, 'the restart is counted', 20_000);

  // The plugin's own metrics, named tickgate_<plugin>_<name>.
  t.equal(http.get('tickgate_flood_pokes_total'), undefined, 'a counter with labels has no sample before its first inc');
  await fetch(`${httpUrl}/api/v1/flood/poke?kind=hard&n=7`, { method: 'POST' });
  await fetch(`${httpUrl}/api/v1/flood/poke?kind=hard&n=8`, { method: 'POST' });
  const plugin = await scrape(httpUrl);
  t.equal(plugin.get('tickgate_flood_pokes_total', { kind: 'hard' }), 2);
  t.equal(plugin.get('tickgate_flood_last_poke'), 8, 'a gauge set on each scrape');
  t.match(plugin.text, /# HELP tickgate_flood_pokes_total Pokes, by kind/);
  // A plugin's collect that throws, or rejects, never fails the scrape (nor the process).
  for (const n of [13, 14]) {
    await fetch(`${httpUrl}/api/v1/flood/poke?n=${n}`, { method: 'POST' });
    const res = await fetch(`${httpUrl}/metrics`);
    t.equal(res.status, 200, `collect failing (${n}): still 200`);
    t.match(await res.text(), /tickgate_connections/);
  }
  a.close();
  b.close();
});

t.test('a plugin metric name that is not valid, or taken, stops the load with the reason', async (t) => {
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  for (const [bad, reason] of [['Bad-Name', /metric name "Bad-Name" must be lowercase letters, digits and _/], ['pokes_total', /tickgate_flood_pokes_total is registered already/]] as const) {
    const err = await TickgateServer.start(testConfig({ plugins: ['market', { name: 'flood', path: flood, config: { badMetric: bad } }] }, { wsUrl: sim.wsUrl, restUrl: sim.restUrl })).catch((e: unknown) => e);
    t.match(err, { name: 'PluginLoadError', message: reason });
  }
});

t.test('server.metrics: false serves no /metrics', async (t) => {
  const { httpUrl } = await startStack(t, { config: { server: { metrics: false } } });
  t.equal((await fetch(`${httpUrl}/metrics`)).status, 404);
});
