// Protocol conformance against the guide: message types, field names, JSON numbers, timestamps, stats shape.
import t from 'tap';
import { startStack, getJson, until } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { rawExchange } from '../helpers/raw-socket.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const keys = (o: object) => Object.keys(o).sort();

t.test('connected frame carries the client limits and the server version', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  const f = c.frames[0]!;
  t.equal(f.type, 'connected');
  t.match(f.timestamp, ISO);
  t.same(keys(f.data), ['authenticated', 'clientId', 'epoch', 'limits', 'version']);
  t.equal(f.data.authenticated, false);
  t.same(f.data.limits, { maxChannels: 50, maxChannelsPerMessage: 200, maxMessageBytes: 16384, messagesPerSecond: 20, messageBurst: 40 });
  t.match(f.data.version, /^\d+\.\d+\.\d+/);
});

t.test('ping gets pong with an ISO timestamp and nothing else', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  const pong = await c.ping();
  t.same(keys(pong), ['timestamp', 'type']);
  t.match(pong.timestamp, ISO);
});

t.test('subscribe answers one subscribed per channel; unsubscribe one unsubscribed per channel', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  const channels = ['price:BTCUSDT', 'ticker:ETHUSDT', 'klines:SOLUSDT:5m'];
  c.subscribe(...channels);
  for (const ch of channels) {
    const f = await c.next((f) => f.type === 'subscribed' && f.channel === ch);
    t.same(keys(f), ['channel', 'timestamp', 'type'], `subscribed ${ch}`);
    t.match(f.timestamp, ISO);
  }
  c.unsubscribe('price:BTCUSDT', 'ticker:ETHUSDT');
  for (const ch of ['price:BTCUSDT', 'ticker:ETHUSDT']) {
    const f = await c.next((f) => f.type === 'unsubscribed' && f.channel === ch);
    t.same(keys(f), ['channel', 'timestamp', 'type']);
  }
});

t.test('data frames of the five market kinds have exactly the guide fields, as JSON numbers', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT', 'ticker:ETHUSDT', 'klines:SOLUSDT:1m', 'trades:BTCUSDT', 'depth:BNBUSDT');
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

  const price = await c.next((f) => f.type === 'price');
  t.equal(price.channel, 'price:BTCUSDT');
  t.match(price.timestamp, ISO);
  t.same(keys(price.data), ['change24h', 'changePercent24h', 'high24h', 'low24h', 'price', 'symbol', 'timestamp', 'volume24h']);
  t.equal(price.data.symbol, 'BTCUSDT');
  for (const k of ['price', 'change24h', 'changePercent24h', 'high24h', 'low24h', 'volume24h', 'timestamp']) t.ok(num(price.data[k]), `price.${k} is a number`);
  t.ok(price.data.low24h <= price.data.price && price.data.price <= price.data.high24h, 'price within the 24h range');

  const ticker = await c.next((f) => f.type === 'ticker');
  t.equal(ticker.channel, 'ticker:ETHUSDT');
  t.same(keys(ticker.data), ['ask', 'bid', 'change', 'changePercent', 'high', 'low', 'open', 'previousClose', 'price', 'symbol', 'timestamp', 'volume']);
  for (const k of ['price', 'bid', 'ask', 'volume', 'change', 'changePercent', 'high', 'low', 'open', 'previousClose']) t.ok(num(ticker.data[k]), `ticker.${k} is a number`);
  t.match(ticker.data.timestamp, ISO);
  t.ok(ticker.data.bid < ticker.data.ask, 'bid below ask');

  const kline = await c.next((f) => f.type === 'kline');
  t.equal(kline.channel, 'klines:SOLUSDT:1m');
  t.same(keys(kline.data), ['close', 'high', 'interval', 'isFinal', 'low', 'open', 'symbol', 'time', 'timestamp', 'volume']);
  t.equal(kline.data.interval, '1m');
  t.equal(typeof kline.data.isFinal, 'boolean');
  t.equal(kline.data.time % 60_000, 0, 'kline time is the candle open (minute boundary)');
  for (const k of ['time', 'open', 'high', 'low', 'close', 'volume']) t.ok(num(kline.data[k]), `kline.${k} is a number`);

  const trade = await c.next((f) => f.type === 'trade');
  t.equal(trade.channel, 'trades:BTCUSDT');
  t.same(keys(trade.data), ['price', 'quantity', 'side', 'symbol', 'timestamp']);
  t.ok(['buy', 'sell'].includes(trade.data.side));
  t.ok(num(trade.data.price) && num(trade.data.quantity));
  t.match(trade.data.timestamp, ISO);

  const depth = await c.next((f) => f.type === 'depth');
  t.equal(depth.channel, 'depth:BNBUSDT');
  t.same(keys(depth.data), ['asks', 'bids', 'symbol', 'timestamp']);
  t.equal(depth.data.bids.length, 10);
  t.equal(depth.data.asks.length, 10);
  for (const [p, q] of [...depth.data.bids, ...depth.data.asks]) t.ok(num(p) && num(q), 'levels are [number, number]');
  const bids = depth.data.bids.map((l: number[]) => l[0]);
  const asks = depth.data.asks.map((l: number[]) => l[0]);
  t.same(bids, [...bids].sort((a, b) => b - a), 'bids descending');
  t.same(asks, [...asks].sort((a, b) => a - b), 'asks ascending');
  t.ok(bids[0] < asks[0], 'book not crossed');
});

t.test('all five market kinds for all 8 guide symbols deliver data', async (t) => {
  const { wsUrl } = await startStack(t);
  const symbols = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'AVAXUSDT'];
  const channels = symbols.flatMap((s) => [`price:${s}`, `ticker:${s}`, `klines:${s}:1m`, `trades:${s}`, `depth:${s}`]);
  const c = await TestClient.connect(wsUrl);
  c.subscribe(...channels);
  const types: Record<string, string> = { price: 'price', ticker: 'ticker', klines: 'kline', trades: 'trade', depth: 'depth' };
  for (const ch of channels) {
    const type = types[ch.split(':')[0]!]!;
    const f = await c.next((f) => f.type === type && f.channel === ch);
    t.equal(f.data.symbol, ch.split(':')[1]);
  }
  t.pass(`${channels.length} channels delivered data`);
});

t.test('stats endpoint has the guide shape and counts streams, channels and clients', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT', 'klines:ETHUSDT:1m');
  await c.next((f) => f.type === 'price');
  await c.next((f) => f.type === 'kline');
  // Shards report their state every 2 s and 20 ms after a change: wait for the report that follows the first ticker.
  await until(async () => {
    const d = (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data;
    return d.binanceStreams === 2 && d.priceCache === 1;
  }, 'stats show 2 streams and the cached ticker');
  const { status, body } = await getJson(`${httpUrl}/api/v1/ws/stats`);
  t.equal(status, 200);
  t.same(keys(body), ['data', 'success']);
  t.equal(body.success, true);
  t.same(keys(body.data), ['activeChannels', 'binanceActiveStreams', 'binanceStreams', 'connectedClients', 'priceCache', 'quoteStreams', 'signalStreams']);
  t.equal(body.data.connectedClients, 1);
  t.same(body.data.activeChannels, ['klines:ETHUSDT:1m', 'price:BTCUSDT']);
  t.same(body.data.binanceActiveStreams, ['btcusdt@ticker', 'ethusdt@kline_1m']);
  t.equal(body.data.binanceStreams, 2);
  t.equal(body.data.priceCache, 1);
  t.equal(body.data.quoteStreams, 0);
  t.equal(body.data.signalStreams, 0);
});

t.test('unknown routes get a JSON 404 with a code; wrong method a 405', async (t) => {
  const { httpUrl } = await startStack(t);
  const r = await getJson(`${httpUrl}/api/v1/nothing`);
  t.equal(r.status, 404);
  t.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
  t.equal(r.body.success, false);
  t.equal(r.body.error.code, 'TG_ERR_NOT_FOUND');
  const plain = await fetch(`${httpUrl}/ws`);
  t.equal(plain.status, 426, 'a plain GET on /ws: upgrade required');
  t.equal(((await plain.json()) as any).error.code, 'TG_ERR_UPGRADE_REQUIRED');
  const head = await fetch(`${httpUrl}/api/v1/ws/stats`, { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD on a GET route');
  t.equal(await head.text(), '', 'without a body');
  t.ok(Number(head.headers.get('content-length')) > 0, 'announcing the GET body length');
  const post = await fetch(`${httpUrl}/health`, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(((await post.json()) as any).error.code, 'TG_ERR_METHOD_NOT_ALLOWED');
});

t.test('HEAD keeps the connection: the next request and pipelined ones are answered; HEAD of an unknown path has no body', async (t) => {
  const { server } = await startStack(t);
  const exchange = async (payload: string, until: RegExp) => (await rawExchange(server.port, payload, until)).text;
  const req = (method: string, path: string) => `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
  const countStatus = (text: string) => (text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length;
  const two = await exchange(req('HEAD', '/health') + req('GET', '/api/v1/ws/stats'), /"activeChannels"/);
  t.equal(countStatus(two), 2, 'HEAD then GET pipelined on one connection: both answered');
  t.match(two, /"success":true/, 'the GET after the HEAD has its body');
  const three = await exchange(req('HEAD', '/api/v1/ws/stats') + req('HEAD', '/health') + req('GET', '/health'), /"status"/);
  t.equal(countStatus(three), 3, 'three pipelined, two of them HEAD: three answers');
  const unknown = await exchange(req('HEAD', '/no/such/path') + req('GET', '/api/v1/ws/stats'), /"activeChannels"/);
  t.match(unknown, /^HTTP\/1\.1 404/, 'HEAD of an unknown path: 404');
  const [firstAnswer] = unknown.split(/(?=HTTP\/1\.1 )/).filter(Boolean);
  t.notMatch(firstAnswer ?? '', /\{"success"/, 'with no body');
  t.equal(countStatus(unknown), 2, 'and the connection still serves the next request');
  // An empty segment where a route has a parameter is no route at all (uWS does not match it): 404, not 405.
  const empty = await fetch(`http://127.0.0.1:${server.port}/api/v1/market/ticker/`);
  t.equal(empty.status, 404);
});

t.test('a new subscriber gets the channel\'s latest value at once, then live updates', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { tickerIntervalMs: 2000 } });
  const a = await TestClient.connect(wsUrl);
  a.subscribe('price:BTCUSDT');
  const first = await a.next((f) => f.type === 'price');
  const b = await TestClient.connect(wsUrl);
  b.subscribe('price:BTCUSDT');
  const sub = await b.next((f) => f.type === 'subscribed');
  const snap = await b.next((f) => f.type === 'price');
  t.equal(b.indexOf(snap), b.indexOf(sub) + 1, 'the snapshot is the frame right after "subscribed"');
  const aLatest = a.raw.filter((r) => r.includes('"type":"price"')).at(-1)!;
  t.equal(b.raw[b.indexOf(snap)], '{"snapshot":true,' + aLatest.slice(1), 'the snapshot is the very frame other subscribers got last, marked');
  t.equal(snap.snapshot, true);
  t.equal(snap.seq, JSON.parse(aLatest).seq, 'with its sequence number');
  t.ok(first, 'first subscriber had data');
  const live = await b.next((f) => f.type === 'price', 15_000);
  t.ok(live.data.timestamp >= snap.data.timestamp, 'then live updates follow');
  t.equal(live.seq, (snap.seq as number) + 1, 'the next sequence number');
  t.notOk('snapshot' in live, 'live frames are not marked');
});

t.test('a new kline channel gets the open candle from REST at once, without waiting for the stream', async (t) => {
  const { wsUrl, sim } = await startStack(t, { sim: { klineIntervalMs: 600_000 } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('klines:ETHUSDT:5m');
  const k = await c.next((f) => f.type === 'kline');
  t.equal(k.data.isFinal, false, 'the candle still open');
  t.equal(k.data.time % 300_000, 0, 'aligned to 5 minutes');
  t.ok(Date.now() - k.data.time < 300_000, 'the current candle');
  t.equal(sim.getStats().eventsSent, 0, 'no kline event came from the stream yet');
});

t.test('data frames carry seq: consecutive per channel, continuing when a channel closes and reopens', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { tradesPerSecond: 50 } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('trades:BTCUSDT', 'trades:ETHUSDT');
  const seen: Record<string, number[]> = { 'trades:BTCUSDT': [], 'trades:ETHUSDT': [] };
  while (seen['trades:BTCUSDT']!.length < 20 || seen['trades:ETHUSDT']!.length < 20) {
    const f = await c.next((x) => x.type === 'trade');
    seen[f.channel!]!.push(f.seq as number);
  }
  for (const [ch, list] of Object.entries(seen)) {
    t.ok(list.every((v, i) => i === 0 || v === list[i - 1]! + 1), `${ch}: consecutive (${list[0]}..${list.at(-1)})`);
  }
  const last = seen['trades:BTCUSDT']!.at(-1)!;
  c.unsubscribe('trades:BTCUSDT', 'trades:ETHUSDT');
  await c.next((f) => f.type === 'unsubscribed');
  await c.next((f) => f.type === 'unsubscribed');
  const d = await TestClient.connect(wsUrl);
  d.subscribe('trades:BTCUSDT');
  const next = await d.next((f) => f.type === 'trade');
  t.ok((next.seq as number) > last, `after reopening the channel, numbering continues (${last} → ${next.seq})`);
});

t.test('aggTrades:SYM (extension) delivers aggregate trades', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  c.subscribe('aggTrades:BTCUSDT');
  const f = await c.next((x) => x.type === 'aggTrade');
  t.equal(f.channel, 'aggTrades:BTCUSDT');
  t.same(keys(f.data), ['firstTradeId', 'lastTradeId', 'price', 'quantity', 'side', 'symbol', 'timestamp']);
  t.ok(f.data.firstTradeId <= f.data.lastTradeId);
});

t.test('seq never repeats, even when a channel is closed and reopened while its frames are in flight', async (t) => {
  // The default grace period: the upstream stream and the book survive the reopenings, so frames keep flowing.
  const { wsUrl } = await startStack(t, { sim: { tradesPerSecond: 200 }, config: { upstream: { unsubscribeGraceMs: 2000 } } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('trades:BTCUSDT', 'depth:ETHUSDT');
  for (let i = 0; i < 12; i++) {
    await new Promise((r) => setTimeout(r, 40 + (i % 3) * 30));
    // Back to back: the channel closes and reopens while frames of the first opening are still on their way.
    c.unsubscribe('trades:BTCUSDT', 'depth:ETHUSDT');
    c.subscribe('trades:BTCUSDT', 'depth:ETHUSDT');
  }
  await c.next((f) => f.type === 'trade' && c.frames.filter((x) => x.type === 'subscribed').length === 26);
  for (const ch of ['trades:BTCUSDT', 'depth:ETHUSDT']) {
    const seqs = c.frames.filter((f) => f.channel === ch && typeof f.seq === 'number' && !f.snapshot).map((f) => f.seq as number);
    t.ok(seqs.length > 5, `${ch}: ${seqs.length} frames`);
    t.ok(seqs.every((v, i) => i === 0 || v > seqs[i - 1]!), `${ch}: strictly increasing across 13 openings, no repeat`);
  }
});

t.test('depth frames: at most ten a second, two back to back at most, never two identical in a row', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { depthIntervalMs: 20 } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('depth:BTCUSDT:5');
  while (c.frames.filter((f) => f.type === 'depth').length < 15) await c.next((f) => f.type === 'depth');
  const frames = c.frames.filter((f) => f.type === 'depth');
  const times = frames.map((f) => Date.parse(f.timestamp));
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  // A token bucket of 2 refilled every 100 ms: never three frames within 100 ms, and over the run no more than 2 plus
  // one per 100 ms. The exchange sends every 20 ms, so without the throttle frames would come every ~20 ms.
  const span2 = times.slice(2).map((x, i) => x - times[i]!);
  t.ok(span2.every((g) => g >= 100), `any three frames span ≥ 100 ms (min ${Math.min(...span2)} ms; gaps ${gaps.join(', ')})`);
  const span = times.at(-1)! - times[0]!;
  t.ok(span >= (times.length - 2) * 100, `${times.length} frames over ${span} ms: at most 2 + one per 100 ms`);
  const bodies = frames.map((f) => JSON.stringify([f.data.bids, f.data.asks]));
  t.ok(bodies.every((b, i) => i === 0 || b !== bodies[i - 1]), 'no frame repeats the previous top levels');
});
