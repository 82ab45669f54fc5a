// Plugins extend channels without touching core, and a failing plugin is contained.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { startStack, getJson, until } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { TickgateServer } from '../../core/server.js';
import { testConfig } from '../helpers/stack.js';
import { ConfigError } from '../../core/config.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}/index.js`, import.meta.url));

t.test('a plugin from outside the repo adds the vwap:SYM family, computed in the shard from trades', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, {
    config: { plugins: ['market', { name: 'vwap', path: fixture('vwap-plugin'), config: { window: 20 } }] },
    sim: { tradesPerSecond: 50 },
  });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('vwap:BTCUSDT');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'vwap:BTCUSDT');
  let frame;
  do frame = await c.next((f) => f.type === 'vwap');
  while (frame.data.trades < 20);
  const d = frame.data;
  t.equal(d.symbol, 'BTCUSDT');
  t.equal(d.trades, 20, 'window from the plugin\'s validated config');
  t.equal(d.vwap, d.notional / d.volume, 'vwap is notional / volume');
  t.ok(Math.abs(d.vwap - d.lastPrice) / d.lastPrice < 0.01, 'vwap near the last price');
  const stats = (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data;
  t.ok(stats.binanceActiveStreams.includes('btcusdt@trade'), 'the plugin\'s upstream stream is ref-counted like any other');
  const route = await getJson(`${httpUrl}/api/v1/vwap/config/abc`);
  t.same(route.body, { success: true, data: { name: 'abc', window: 20 } }, 'plugin route with a parameter');
  const err = await c.next((f) => f.type === 'vwap');
  t.ok(err, 'updates keep coming');
  c.subscribe('vwap:btc');
  const bad = await c.next((f) => f.type === 'error');
  t.equal(bad.data.code, 'TG_ERR_INVALID_SYMBOL', 'core validates the plugin\'s channel names too');
});

t.test('a plugin whose producer throws is contained: error frame, channel closed, server up', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, {
    config: { plugins: ['market', { name: 'failing', path: fixture('failing-plugin') }] },
    sim: { tradesPerSecond: 50 },
  });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('boomopen:BTCUSDT', 'price:ETHUSDT');
  const err = await c.next((f) => f.type === 'error' && f.channel === 'boomopen:BTCUSDT');
  t.equal(err.data.code, 'TG_ERR_CHANNEL_FAILED');
  const dropped = await c.next((f) => f.type === 'unsubscribed' && f.channel === 'boomopen:BTCUSDT');
  t.ok(c.indexOf(dropped) > c.indexOf(err), 'then the client is told it is unsubscribed');
  await c.next((f) => f.type === 'price');
  await until(async () => !(await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.activeChannels.includes('boomopen:BTCUSDT'), 'failed channel closed');
  c.subscribe('boomopen:BTCUSDT');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'boomopen:BTCUSDT');
  const again = await c.next((f) => f.type === 'error' && f.channel === 'boomopen:BTCUSDT');
  t.equal(again.data.code, 'TG_ERR_CHANNEL_FAILED', 'a client may resubscribe (and fails the same way)');

  c.subscribe('boomdata:BTCUSDT');
  const dataErr = await c.next((f) => f.type === 'error' && f.channel === 'boomdata:BTCUSDT');
  t.equal(dataErr.data.code, 'TG_ERR_CHANNEL_FAILED');
  await c.next((f) => f.type === 'boomdata');
  const n = c.frames.filter((f) => f.type === 'boomdata').length;
  await until(() => c.frames.filter((f) => f.type === 'boomdata').length > n + 5, 'updates continue');
  t.equal(c.frames.filter((f) => f.type === 'error' && f.channel === 'boomdata:BTCUSDT').length, 1, 'error frames are throttled');

  c.subscribe('orphan:BTCUSDT');
  const orphan = await c.next((f) => f.type === 'error' && f.channel === 'orphan:BTCUSDT');
  t.match(orphan.data.message, /no shard half|No producer/);
  const health = await getJson(`${httpUrl}/health`);
  t.equal(health.status, 200, 'server healthy');
  t.equal(health.body.shards[0].restarts, 0, 'the shard never crashed');
  await c.ping();
});

t.test('a failed channel that is the client\'s only one still delivers its error frame, then unsubscribed', async (t) => {
  // The exchange takes one stream per connection: boomopen's trades fill it, and badstream's are refused.
  const { wsUrl } = await startStack(t, { config: { plugins: ['market', { name: 'failing', path: fixture('failing-plugin') }], upstream: { unsubscribeGraceMs: 60_000 } }, sim: { maxStreamsPerConnection: 1 } });
  for (const ch of ['boomopen:BTCUSDT', 'badstream:ETHUSDT', 'orphan:SOLUSDT']) {
    const c = await TestClient.connect(wsUrl);
    c.subscribe(ch);
    const err = await c.next((f) => f.type === 'error' && f.channel === ch);
    const un = await c.next((f) => f.type === 'unsubscribed' && f.channel === ch);
    t.ok(c.indexOf(un) > c.indexOf(err), `${ch}: error, then unsubscribed`);
    c.close();
  }
  // Resubscribing within the upstream grace period after a rejection is refused again, not left silent.
  const c = await TestClient.connect(wsUrl);
  c.subscribe('badstream:ETHUSDT');
  const again = await c.next((f) => f.type === 'error' && f.channel === 'badstream:ETHUSDT');
  t.equal(again.data.code, 'TG_ERR_UPSTREAM_REJECTED');
});

t.test('a failed channel drops only its own subscribers: a client on other channels hears nothing of it', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { plugins: ['market', { name: 'failing', path: fixture('failing-plugin') }] } });
  const a = await TestClient.connect(wsUrl);
  const b = await TestClient.connect(wsUrl);
  b.subscribe('price:BTCUSDT');
  await b.next((f) => f.type === 'price');
  a.subscribe('price:BTCUSDT', 'boomopen:ETHUSDT');
  await a.next((f) => f.type === 'unsubscribed' && f.channel === 'boomopen:ETHUSDT');
  const seen = b.frames.length;
  await b.next((f) => f.type === 'price' && b.indexOf(f) >= seen);
  t.equal(b.frames.filter((f) => f.type === 'error' || f.type === 'unsubscribed').length, 0, 'B got no error and no unsubscribed');
  const n = a.frames.filter((f) => f.type === 'price').length;
  await a.next((f) => f.type === 'price' && a.frames.filter((x) => x.type === 'price').length > n);
  t.pass('A keeps its other channel');
  // The subscriber counts stay right: both leave price:BTCUSDT, and the channel closes.
  a.unsubscribe('price:BTCUSDT');
  await a.next((f) => f.type === 'unsubscribed' && f.channel === 'price:BTCUSDT');
  t.ok((await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.activeChannels.includes('price:BTCUSDT'), 'still open while B holds it');
  b.close();
  await until(async () => !(await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.activeChannels.includes('price:BTCUSDT'), 'closed with its last subscriber');
  a.subscribe('boomopen:ETHUSDT');
  const again = await a.next((f) => f.type === 'error' && f.channel === 'boomopen:ETHUSDT');
  t.equal(again.data.code, 'TG_ERR_CHANNEL_FAILED', 'the failed channel opens again at its shard on a new subscription');
});

t.test('a stream the exchange rejects: error frame, unsubscribed; a private channel needs authentication', async (t) => {
  // The exchange takes one stream per connection (tickgate is configured for 1024): price's ticker fills it.
  const { wsUrl } = await startStack(t, { config: { plugins: ['market', { name: 'failing', path: fixture('failing-plugin') }] }, sim: { maxStreamsPerConnection: 1 } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT');
  await c.next((f) => f.type === 'price');
  c.subscribe('badstream:BTCUSDT');
  const err = await c.next((f) => f.type === 'error' && f.channel === 'badstream:BTCUSDT');
  t.equal(err.data.code, 'TG_ERR_UPSTREAM_REJECTED');
  t.match(err.data.message, /more than 1 streams on one connection/, 'the exchange\'s reason is passed on');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === 'badstream:BTCUSDT');
  const n = c.frames.filter((f) => f.type === 'price').length;
  await c.next((f) => f.type === 'price' && c.frames.filter((x) => x.type === 'price').length > n);
  t.pass('the connection\'s other streams carry on');
  c.subscribe('inbox:user123');
  const auth = await c.next((f) => f.type === 'error' && f.channel === 'inbox:user123');
  t.equal(auth.data.code, 'TG_ERR_AUTH_REQUIRED');
  t.equal(auth.data.message, 'Authentication required for this channel', 'the guide\'s text');
});

t.test('a plugin route that throws or returns something unsendable gets a 500, and the server stays up', async (t) => {
  const { httpUrl } = await startStack(t, { config: { server: { routeTimeoutMs: 300 }, plugins: ['market', { name: 'failing', path: fixture('failing-plugin') }] } });
  const never = await getJson(`${httpUrl}/api/v1/failing/never`);
  t.equal(never.status, 504, 'a route that never answers: 504 after routeTimeoutMs');
  t.equal(never.body.error.code, 'TG_ERR_ROUTE_TIMEOUT');
  for (const path of ['throws', 'undefined', 'bigint', 'status', 'code', 'getter', 'header']) {
    const r = await getJson(`${httpUrl}/api/v1/failing/${path}`);
    t.equal(r.status, 500, path);
    t.equal(r.body.error.code, 'TG_ERR_INTERNAL');
    t.equal(r.headers.get('set-cookie'), null, 'no injected header');
  }
  const empty = await fetch(`${httpUrl}/api/v1/failing/empty`);
  t.equal(empty.status, 204);
  t.equal(await empty.text(), '', '204 without a body');
  t.equal((await getJson(`${httpUrl}/health`)).status !== 0, true, 'the keep-alive connection stays in step');
  t.equal((await getJson(`${httpUrl}/api/v1/ws/stats`)).status, 200, 'still serving');
});

t.test('plugin loading errors stop the start with a message naming the plugin', async (t) => {
  const upstream = { wsUrl: 'ws://127.0.0.1:9', restUrl: 'http://127.0.0.1:9' };
  await t.rejects(TickgateServer.start(testConfig({ plugins: ['market', { name: 'ghost', path: '/nonexistent/plugin.js' }] }, upstream)), /plugin "ghost": cannot load/);
  await t.rejects(TickgateServer.start(testConfig({ plugins: ['nosuchplugin'] }, upstream)), /plugin "nosuchplugin"/);
  const bad = await TickgateServer.start(testConfig({ plugins: ['market', { name: 'vwap', path: fixture('vwap-plugin'), config: { window: 0 } }] }, upstream)).catch((e: unknown) => e);
  t.ok(bad instanceof ConfigError);
  t.match((bad as Error).message, /plugins\.vwap\.config\.window/);
  await t.rejects(TickgateServer.start(testConfig({ plugins: ['market', { name: 'market2', path: fixture('vwap-plugin') }] }, upstream)), /declares the name "vwap", but config.yaml lists it as "market2"/);
  await t.rejects(TickgateServer.start(testConfig({ plugins: ['market', { path: fixture('vwap-plugin') }, { name: 'vwap', path: fixture('vwap-plugin') }] }, upstream)), /a plugin named "vwap" is already loaded/);
});
