// Upstream state reaches clients and operators: status frames, /health, stream ref-counts in stats, shard routing.
import t from 'tap';
import { startStack, getJson, until, testConfig } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { TickgateServer } from '../../core/server.js';
import { shardFor } from '../../core/shard-hash.js';

t.test('dropped upstream: subscribers get status stale, then live, and data resumes', async (t) => {
  // Reconnect after 1–2 s: time enough for a second client to join while the channel is stale.
  const { wsUrl, sim } = await startStack(t, { config: { upstream: { reconnectBaseMs: 2000, reconnectMaxMs: 2000 } } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT', 'trades:ETHUSDT');
  await c.next((f) => f.type === 'price');
  sim.dropAll();
  const stale = await c.next((f) => f.type === 'status' && f.channel === 'price:BTCUSDT');
  t.same(stale.data, { state: 'stale' });
  await c.next((f) => f.type === 'status' && f.channel === 'trades:ETHUSDT' && f.data.state === 'stale');
  // A client joining while the channel is stale learns it at once.
  const late = await TestClient.connect(wsUrl);
  late.subscribe('price:BTCUSDT');
  const lateStale = await late.next((f) => f.type === 'status');
  t.equal(lateStale.data.state, 'stale', 'new subscriber told the channel is stale');
  // A channel opened while its connection waits to reconnect is stale from the start.
  const fresh = await TestClient.connect(wsUrl);
  fresh.subscribe('ticker:ADAUSDT');
  t.equal((await fresh.next((f) => f.type === 'status')).data.state, 'stale', 'new channel on a down connection: stale');
  const live = await c.next((f) => f.type === 'status' && f.channel === 'price:BTCUSDT');
  t.same(live.data, { state: 'live' });
  await fresh.next((f) => f.type === 'status' && f.data.state === 'live');
  const after = await c.next((f) => f.type === 'price' && c.indexOf(f) > c.indexOf(live));
  t.ok(after, 'data after live');
  await late.next((f) => f.type === 'status' && f.data.state === 'live');
});

t.test('stalled upstream: detected after staleAfterMs, reconnected, live again', async (t) => {
  const { wsUrl, sim } = await startStack(t, { config: { upstream: { staleAfterMs: 500, reconnectBaseMs: 50, reconnectMaxMs: 100 } } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('ticker:SOLUSDT');
  await c.next((f) => f.type === 'ticker');
  sim.stall();
  t.equal((await c.next((f) => f.type === 'status')).data.state, 'stale');
  t.equal((await c.next((f) => f.type === 'status')).data.state, 'live');
  await c.next((f) => f.type === 'ticker');
});

t.test('a heartbeat stream that a channel also uses stays open when the channel closes', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { upstream: { heartbeatStream: 'btcusdt@ticker' } } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT');
  await c.next((f) => f.type === 'price');
  c.unsubscribe('price:BTCUSDT');
  await c.next((f) => f.type === 'unsubscribed');
  await until(async () => (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.activeChannels.length === 0, 'channel closed');
  await new Promise((r) => setTimeout(r, 300));
  t.same((await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.binanceActiveStreams, ['btcusdt@ticker'], 'still subscribed upstream');
  t.equal((await getJson(`${httpUrl}/health`)).status, 200, 'and /health still sees a live upstream');
});

t.test('/health: 200 "ok" when an upstream delivers (the heartbeat stream on an idle gateway); 503 without one', async (t) => {
  const { httpUrl } = await startStack(t, { config: { upstream: { heartbeatStream: 'btcusdt@miniTicker' } } });
  await until(async () => (await getJson(`${httpUrl}/health`)).status === 200, 'healthy while idle');
  const ok = await getJson(`${httpUrl}/health`);
  t.equal(ok.body.status, 'ok');
  t.same(ok.body.problems, []);
  t.equal(ok.body.upstream.symbolsLoaded, true);
  t.equal(ok.body.upstream.liveConnections, 1, 'the heartbeat connection');
  t.equal(ok.body.shards.length, 1);
  t.equal(ok.body.shards[0].state, 'running');
  t.same((await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.binanceActiveStreams, ['btcusdt@miniTicker'], 'the heartbeat stream is shown like any other');

  const idle = await startStack(t, { config: { upstream: { heartbeatStream: '' } } });
  const noUpstream = await getJson(`${idle.httpUrl}/health`);
  t.equal(noUpstream.status, 503, 'no heartbeat and no channel: no upstream is connected');
  t.match(noUpstream.body.problems.join(';'), /no upstream connection/);

  // A server whose exchange does not answer.
  const server = await TickgateServer.start(testConfig({ upstream: { restTimeoutMs: 200 } }, { wsUrl: 'ws://127.0.0.1:9', restUrl: 'http://127.0.0.1:9' }));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${server.port}`;
  await until(async () => (await getJson(`${url}/health`)).body.problems.some((p: string) => /ECONNREFUSED|connect/i.test(p)), 'the REST failure is reported');
  const down = await getJson(`${url}/health`);
  t.equal(down.status, 503);
  t.equal(down.body.status, 'down');
  t.match(down.body.problems[0], /symbol list not loaded/);
  t.equal(down.body.upstream.liveConnections, 0);
  const c = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
  c.subscribe('price:BTCUSDT');
  const err = await c.next((f) => f.type === 'error');
  t.equal(err.data.code, 'TG_ERR_SYMBOLS_UNAVAILABLE', 'subscriptions say why they cannot be served yet');
});

t.test('/health is 503 while streams are wanted but no upstream connection delivers', async (t) => {
  const { wsUrl, httpUrl, sim } = await startStack(t, { config: { upstream: { staleAfterMs: 300, reconnectBaseMs: 5000, reconnectMaxMs: 5000 } } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT');
  await c.next((f) => f.type === 'price');
  await until(async () => (await getJson(`${httpUrl}/health`)).body.upstream.liveConnections === 1, 'health sees the live connection');
  sim.stall();
  await c.next((f) => f.type === 'status');
  await until(async () => (await getJson(`${httpUrl}/health`)).status === 503, 'health turns 503');
  const h = await getJson(`${httpUrl}/health`);
  t.match(h.body.problems.join(';'), /no upstream connection is delivering/);
});

t.test('stream ref-counting: price and ticker share @ticker; the stream goes when its last channel goes', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t);
  const stats = async () => (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data;
  const a = await TestClient.connect(wsUrl);
  const b = await TestClient.connect(wsUrl);
  a.subscribe('price:BTCUSDT');
  b.subscribe('ticker:BTCUSDT', 'price:BTCUSDT');
  await a.next((f) => f.type === 'price');
  await b.next((f) => f.type === 'ticker');
  await until(async () => (await stats()).binanceStreams === 1, 'one stream');
  t.same((await stats()).binanceActiveStreams, ['btcusdt@ticker'], 'two channel kinds, three subscriptions, one upstream stream');
  t.same((await stats()).activeChannels, ['price:BTCUSDT', 'ticker:BTCUSDT']);
  b.unsubscribe('ticker:BTCUSDT', 'price:BTCUSDT');
  await b.next((f) => f.type === 'unsubscribed');
  await until(async () => (await stats()).activeChannels.length === 1, 'ticker channel closed');
  t.same((await stats()).binanceActiveStreams, ['btcusdt@ticker'], 'still wanted by price:');
  a.close();
  await until(async () => (await stats()).binanceStreams === 0, 'stream released with its last channel');
  t.same((await stats()).activeChannels, []);
});

t.test('an unsubscribed stream is kept for the grace period against flapping', async (t) => {
  const { wsUrl, httpUrl, sim } = await startStack(t, { config: { upstream: { unsubscribeGraceMs: 60_000 } } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('trades:XRPUSDT');
  await c.next((f) => f.type === 'trade');
  c.unsubscribe('trades:XRPUSDT');
  await c.next((f) => f.type === 'unsubscribed');
  await until(async () => (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.activeChannels.length === 0, 'channel closed');
  t.ok('xrpusdt@trade' in sim.getStats().subscriptions, 'upstream stream still subscribed during the grace period');
  c.subscribe('trades:XRPUSDT');
  await c.next((f) => f.type === 'trade' && c.frames.filter((x) => x.type === 'subscribed').length === 2);
  t.equal(sim.getStats().controlMessages, 0, 'no UNSUBSCRIBE/SUBSCRIBE round trip was needed');
});

t.test('shard routing: every channel of a symbol on one shard, symbols spread over several shards', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { shards: 3 } });
  const symbols = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'AVAXUSDT'];
  const c = await TestClient.connect(wsUrl);
  c.subscribe(...symbols.flatMap((s) => [`price:${s}`, `trades:${s}`, `klines:${s}:1m`]));
  for (const s of symbols) await c.next((f) => f.type === 'price' && f.data.symbol === s);
  await until(async () => (await getJson(`${httpUrl}/health`)).body.shards.reduce((n: number, s: any) => n + s.streams.length, 0) === 24, 'all streams reported');
  const shards = (await getJson(`${httpUrl}/health`)).body.shards as Array<{ shard: number; streams: string[] }>;
  t.equal(shards.length, 3);
  const used = shards.filter((s) => s.streams.length > 0).length;
  t.ok(used >= 2, `symbols spread over ${used} shards`);
  for (const s of symbols) {
    const owners = shards.filter((sh) => sh.streams.some((st) => st.startsWith(`${s.toLowerCase()}@`)));
    t.equal(owners.length, 1, `${s}: all streams on one shard`);
    t.equal(owners[0]!.streams.filter((st) => st.startsWith(`${s.toLowerCase()}@`)).length, 3);
    t.equal(owners[0]!.shard, shardFor(s, 3), `${s} on the shard its hash names`);
  }
});

t.test('FNV-1a routing is stable (pinned vectors) and spreads symbols', async (t) => {
  const { fnv1a } = await import('../../core/shard-hash.js');
  t.equal(fnv1a(''), 0x811c9dc5);
  t.equal(fnv1a('a'), 0xe40c292c);
  t.equal(fnv1a('foobar'), 0xbf9cf968);
  t.equal(shardFor('BTCUSDT', 1), 0);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 400; i++) counts[shardFor(`SYM${i}USDT`, 4)]!++;
  t.ok(counts.every((n) => n > 60), `400 symbols over 4 shards: ${counts.join(', ')}`);
});
