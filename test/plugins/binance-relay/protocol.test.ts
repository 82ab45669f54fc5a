// The relay's Binance protocol, checked message by message with a plain WebSocket client: control messages with their
// ids and Binance's error replies, properties, limits, URL forms, payloads equal to the exchange's, one upstream
// stream for every listener, partial books and book tickers equal to the exchange's book, and GET /api/v3/depth.
import t from 'tap';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { fileURLToPath } from 'node:url';
import { getJson, startStack, until, type StackOptions } from '../../helpers/stack.js';
import { TestClient, refusedUpgrade } from '../../helpers/ws-client.js';

/** A raw WebSocket client: every message parsed, in order, and how the connection closed. */
class Client {
  readonly messages: any[] = [];
  closed: number | undefined;
  private taken = -1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => this.messages.push(JSON.parse(d.toString('utf8'))));
    ws.on('close', (code) => {
      this.closed = code;
    });
    ws.on('error', () => {});
  }

  static async open(t: Test, url: string): Promise<Client> {
    const c = new Client(new WebSocket(url));
    t.teardown(() => c.ws.close());
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('unexpected-response', (_req, res) => reject(new Error(`${url}: ${res.statusCode}`)));
    });
    return c;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The next reply (a message with an `id` or an `error`) after the last one taken. */
  async reply(): Promise<any> {
    const at = () => this.messages.findIndex((m, i) => i > this.taken && ('id' in m || 'error' in m) && !('e' in m) && !('stream' in m));
    await until(() => at() >= 0, 'a reply');
    this.taken = at();
    return this.messages[this.taken];
  }

  /** Sends a request and waits for its reply. */
  async ask(msg: unknown): Promise<any> {
    this.send(msg);
    return this.reply();
  }

  data(pred: (m: any) => boolean): any[] {
    return this.messages.filter(pred);
  }
}


const stack = (t: Test, relay: Record<string, unknown> = {}, opts: StackOptions = {}) =>
  startStack(t, { ...opts, config: { plugins: ['market', { name: 'binance-relay', config: relay }], ...opts.config } });

t.test('control messages: ids echoed, Binance\'s error replies, nothing subscribed by a refused request', async (t) => {
  // More messages than Binance's 5 a second: the limit has a test of its own.
  const { server } = await stack(t, { messagesPerSecond: 1000 });
  const c = await Client.open(t, `ws://127.0.0.1:${server.port}/binance/ws`);
  t.same(await c.ask({ method: 'SUBSCRIBE', params: ['btcusdt@trade', 'ethusdt@aggTrade'], id: 1 }), { result: null, id: 1 });
  t.same(await c.ask({ method: 'LIST_SUBSCRIPTIONS', id: 'list1' }), { result: ['btcusdt@trade', 'ethusdt@aggTrade'], id: 'list1' }, 'a string id, in subscription order');
  t.same(await c.ask({ method: 'UNSUBSCRIBE', params: ['btcusdt@trade'], id: null }), { result: null, id: null }, 'a null id');
  t.same(await c.ask({ method: 'UNSUBSCRIBE', params: ['solusdt@trade'], id: 2 }), { result: null, id: 2 }, 'unsubscribing a stream not held is no error');
  t.same(await c.ask({ method: 'SUBSCRIBE', params: ['ethusdt@aggTrade'], id: 3 }), { result: null, id: 3 }, 'subscribing again changes nothing');
  const bad = async (msg: unknown, code: number, pattern: RegExp, id: unknown = null) => {
    const r = await c.ask(msg);
    t.equal(r.error?.code, code, `${JSON.stringify(msg).slice(0, 60)} → code ${code}`);
    t.match(r.error?.msg, pattern);
    if (typeof msg === 'object') t.equal(r.id, id, 'the request\'s id');
  };
  await bad('{"method":', 3, /^Invalid JSON: expected value at line 1 column \d+$/);
  await bad({ method: 'SUBSCRIBE', params: ['btcusdt@foo'], id: 4 }, 2, /^Invalid request: invalid stream$/, 4);
  await bad({ method: 'SUBSCRIBE', params: ['BTCUSDT@trade'], id: 5 }, 2, /^Invalid request: invalid stream$/, 5);
  await bad({ method: 'SUBSCRIBE', params: ['btcusdt@avgPrice'], id: 6 }, 2, /^Invalid request: invalid stream btcusdt@avgPrice: this gateway relays/, 6);
  await bad({ method: 'SUBSCRIBE', params: ['btcusdt@trade', 'xyzusdt@trade'], id: 7 }, 2, /symbol XYZUSDT is not served here/, 7);
  await bad({ method: 'SUBSCRIBE', params: 'btcusdt@trade', id: 8 }, 2, /^Invalid request: params must be a list/, 8);
  await bad({ method: 'FOO', id: 9 }, 2, /^Invalid request: unknown variant `FOO`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`/, 9);
  await bad({ params: [], id: 10 }, 2, /^Invalid request: missing field `method`/, 10);
  await bad({ method: 'LIST_SUBSCRIPTIONS', params: ['x'], id: 11 }, 2, /^Invalid request: too many parameters$/, 11);
  await bad({ method: 'LIST_SUBSCRIPTIONS', id: 1.5 }, 2, /^Invalid request: request ID must be an unsigned integer$/);
  await bad({ method: 'LIST_SUBSCRIPTIONS', id: 'not-alphanumeric!' }, 2, /request ID/);
  await bad({ method: 'SET_PROPERTY', params: ['speed', true], id: 12 }, 0, /^Unknown property$/, 12);
  await bad({ method: 'SET_PROPERTY', params: ['combined', 'yes'], id: 13 }, 1, /^Invalid value type: expected Boolean$/, 13);
  await bad({ method: 'GET_PROPERTY', params: [1], id: 14 }, 2, /^Invalid request: property name must be a string$/, 14);
  t.same(await c.ask({ method: 'LIST_SUBSCRIPTIONS', id: 15 }), { result: ['ethusdt@aggTrade'], id: 15 }, 'refused requests subscribed nothing');
  t.equal(c.closed, undefined, 'the connection stays open after errors');
});

t.test('SET_PROPERTY combined switches the payload form of every stream on the connection', async (t) => {
  const { server } = await stack(t, {}, { sim: { tradesPerSecond: 50 } });
  const c = await Client.open(t, `ws://127.0.0.1:${server.port}/ws/btcusdt@trade`);
  t.same(await c.ask({ method: 'GET_PROPERTY', params: ['combined'], id: 1 }), { result: false, id: 1 }, 'raw on /ws/<stream>');
  await until(() => c.data((m) => m.e === 'trade').length > 0, 'raw trades');
  t.same(await c.ask({ method: 'SET_PROPERTY', params: ['combined', true], id: 2 }), { result: null, id: 2 });
  const at = c.messages.length;
  await until(() => c.messages.slice(at).some((m) => m.stream === 'btcusdt@trade'), 'combined trades');
  t.ok(c.messages.slice(at).every((m) => m.stream === 'btcusdt@trade' && m.data.e === 'trade'), 'only the combined form after the switch');
  t.same(await c.ask({ method: 'GET_PROPERTY', params: ['combined'], id: 3 }), { result: true, id: 3 });
  const combined = await Client.open(t, `ws://127.0.0.1:${server.port}/stream`);
  t.same(await combined.ask({ method: 'GET_PROPERTY', params: ['combined'], id: 'a' }), { result: true, id: 'a' }, 'combined on /stream');
});

t.test('limits: streams per connection, messages per second (pings count), URL checks', async (t) => {
  const { server } = await stack(t, { maxStreamsPerConnection: 3 });
  const base = `ws://127.0.0.1:${server.port}`;
  const c = await Client.open(t, `${base}/ws/btcusdt@trade/ethusdt@trade`);
  const over = await c.ask({ method: 'SUBSCRIBE', params: ['solusdt@trade', 'xrpusdt@trade'], id: 1 });
  t.equal(over.error.code, 2);
  t.match(over.error.msg, /at most 3 streams/);
  t.same(await c.ask({ method: 'LIST_SUBSCRIPTIONS', id: 2 }), { result: ['btcusdt@trade', 'ethusdt@trade'], id: 2 }, 'the URL\'s streams, nothing of the refused request');
  t.same((await refusedUpgrade(`${base}/stream?streams=a@trade/b@trade/c@trade/d@trade`)).body.code, 2, 'a URL with too many streams is refused');
  const bad = await refusedUpgrade(`${base}/ws/btcusdt@foo`);
  t.same({ status: bad.status, body: bad.body }, { status: 400, body: { code: 2, msg: 'Invalid request: invalid stream' } });
  t.match((await refusedUpgrade(`${base}/stream?streams=btcusdt@trade/xyzusdt@trade`)).body.msg, /symbol XYZUSDT is not served/);
  t.equal((await refusedUpgrade(`${base}/ws/btcusdt@trade?timeUnit=MICROSECOND`)).status, 400, 'times in microseconds are not offered');

  // Five messages a second are fine; the sixth within the second closes the connection.
  const fast = await Client.open(t, `${base}/binance/ws`);
  for (let i = 0; i < 5; i++) fast.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
  await until(() => fast.messages.length === 5, 'five answers');
  const pinged = await Client.open(t, `${base}/binance/stream`);
  for (let i = 0; i < 6; i++) pinged.ws.ping();
  await until(() => pinged.closed !== undefined, 'closed for too many ping frames');
  t.equal(pinged.closed, 1008, 'ping frames count toward the message rate');
  const flood = await Client.open(t, `${base}/binance/stream`);
  for (let i = 0; i < 6; i++) flood.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
  await until(() => flood.closed !== undefined, 'closed for too many messages');
  t.equal(flood.closed, 1008);
  t.ok(flood.messages.length <= 5, 'the message over the limit is not answered');
});

t.test('one upstream stream for every listener; payloads equal to the exchange\'s; tickgate\'s own /ws untouched', async (t) => {
  const { server, sim, wsUrl } = await stack(t, {}, { sim: { tradesPerSecond: 20 } });
  const base = `ws://127.0.0.1:${server.port}`;
  const raw = await Client.open(t, `${base}/ws/btcusdt@trade/btcusdt@ticker/btcusdt@kline_1s`);
  const combined = await Client.open(t, `${base}/stream?streams=btcusdt@trade/btcusdt@ticker`);
  const prefixed = await Client.open(t, `${base}/binance/ws/btcusdt@trade`);
  const own = await TestClient.connect(wsUrl);
  own.subscribe('trades:BTCUSDT');
  await own.next((f) => f.type === 'trade');
  await until(() => [raw, combined, prefixed].every((c) => c.messages.length > 3), 'every client gets data');
  t.equal(sim.getStats().subscriptions['btcusdt@trade'], 1, 'the exchange serves btcusdt@trade once, to tickgate, for four listeners');
  const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  t.match(metrics, /^tickgate_binance_relay_connections 3$/m, 'relay connections on /metrics');
  t.match(metrics, /^tickgate_binance_relay_streams 3$/m, 'streams held once each: btcusdt@trade, @ticker, @kline_1s');
  // The same streams straight from the exchange.
  const direct = await Client.open(t, `${sim.wsUrl}/stream?streams=btcusdt@trade/btcusdt@ticker/btcusdt@kline_1s`);
  await until(() => raw.data((m) => m.e === 'trade').some((r) => direct.data((d) => d.data.t === r.t).length > 0), 'one trade both ways');
  for (const r of raw.data((m) => m.e === 'trade')) {
    const d = direct.data((x) => x.data.e === 'trade' && x.data.t === r.t)[0];
    if (d) t.same(r, d.data, `trade ${r.t} as the exchange sent it`);
  }
  const c = combined.data((m) => m.stream === 'btcusdt@trade').find((m) => raw.data((r) => r.t === m.data.t).length > 0);
  t.same(c.data, raw.data((r) => r.t === c.data.t)[0], 'the combined payload wraps the raw one');
  await until(() => raw.data((m) => m.e === '24hrTicker').some((r) => direct.data((d) => d.data.e === '24hrTicker' && d.data.E === r.E).length > 0), 'one ticker both ways');
  const ticker = raw.data((m) => m.e === '24hrTicker').find((r) => direct.data((d) => d.data.e === '24hrTicker' && d.data.E === r.E).length > 0);
  const upstreamTicker = direct.data((d) => d.data.e === '24hrTicker' && d.data.E === ticker.E)[0].data;
  t.same(Object.keys(ticker), Object.keys(upstreamTicker), 'the ticker\'s fields, in Binance\'s order');
  t.same({ ...ticker, q: Number(ticker.q) }, { ...upstreamTicker, q: Number(upstreamTicker.q) }, 'the exchange\'s ticker (quote volume written with eight decimals)');
  await until(() => raw.data((m) => m.e === 'kline').some((r) => direct.data((d) => d.data.e === 'kline' && d.data.E === r.E && d.data.k.t === r.k.t).length > 0), 'one kline both ways');
  const kline = raw.data((m) => m.e === 'kline').find((r) => direct.data((d) => d.data.e === 'kline' && d.data.E === r.E && d.data.k.t === r.k.t).length > 0);
  t.same(kline, direct.data((d) => d.data.e === 'kline' && d.data.E === kline.E && d.data.k.t === kline.k.t)[0].data, 'the exchange\'s kline');
  t.notOk(own.frames.some((f) => 'e' in f), 'the /ws client gets tickgate\'s frames only');
  for (const x of [raw, combined, prefixed, direct]) x.ws.close();
  own.close();
  await until(() => sim.getStats().subscriptions['btcusdt@trade'] === undefined, 'the upstream stream is released after the last listener');
});

t.test('books: partial depth and book tickers equal the exchange\'s book; the 1000 ms diff stream merges without gaps', async (t) => {
  const { server, sim } = await stack(t, {}, { sim: { recordBookTop: 20 } });
  const history = sim.market('ETHUSDT')!.bookHistory;
  const c = await Client.open(t, `ws://127.0.0.1:${server.port}/stream?streams=ethusdt@depth5@100ms/ethusdt@depth20/ethusdt@bookTicker/ethusdt@depth`);
  const num = (levels: Array<[string, string]>) => levels.map(([p, q]) => [Number(p), Number(q)]);
  await until(() => c.data((m) => m.stream === 'ethusdt@depth5@100ms').length >= 10, 'partial books');
  for (const m of c.data((x) => x.stream === 'ethusdt@depth5@100ms').slice(0, 10)) {
    const want = history.get(m.data.lastUpdateId)!;
    t.same(Object.keys(m.data), ['lastUpdateId', 'bids', 'asks']);
    t.same({ bids: num(m.data.bids), asks: num(m.data.asks) }, { bids: want.bids.slice(0, 5), asks: want.asks.slice(0, 5) }, `top 5 at ${m.data.lastUpdateId} is the exchange's`);
  }
  await until(() => c.data((m) => m.stream === 'ethusdt@depth20').length >= 1, 'a 20-level book each second');
  const twenty = c.data((m) => m.stream === 'ethusdt@depth20')[0].data;
  t.same({ bids: num(twenty.bids), asks: num(twenty.asks) }, history.get(twenty.lastUpdateId), 'top 20 is the exchange\'s');
  await until(() => c.data((m) => m.stream === 'ethusdt@bookTicker').length >= 5, 'book tickers');
  for (const m of c.data((x) => x.stream === 'ethusdt@bookTicker').slice(0, 5)) {
    const want = history.get(m.data.u)!;
    t.same([m.data.s, Number(m.data.b), Number(m.data.B), Number(m.data.a), Number(m.data.A)], ['ETHUSDT', ...want.bids[0]!, ...want.asks[0]!], `best bid and ask at ${m.data.u}`);
  }
  await until(() => c.data((m) => m.stream === 'ethusdt@depth').length >= 3, 'merged diffs');
  const merged = c.data((m) => m.stream === 'ethusdt@depth').map((m) => m.data);
  t.ok(merged.every((d, i) => i === 0 || d.U === merged[i - 1].u + 1), `${merged.length} merged diffs, back to back`);
  t.ok(merged.every((d) => d.e === 'depthUpdate' && d.u > d.U), 'each merges several changes');

  // A gap in the exchange's numbering reaches clients as it is (they resynchronise, as from Binance), in both streams.
  t.same(await c.ask({ method: 'SUBSCRIBE', params: ['ethusdt@depth@100ms'], id: 1 }), { result: null, id: 1 });
  await until(() => c.data((m) => m.stream === 'ethusdt@depth@100ms').length >= 2, 'diffs as they come');
  const from = c.messages.length;
  sim.skipSequence('ETHUSDT', 7);
  const jumped = (stream: string) => {
    const ds = c.messages.map((m, at) => ({ m, at })).filter(({ m }) => m.stream === stream);
    return ds.some(({ m, at }, i) => i > 0 && at >= from && m.data.U > ds[i - 1]!.m.data.u + 1);
  };
  await until(() => jumped('ethusdt@depth@100ms'), 'the gap in the 100 ms stream');
  await until(() => jumped('ethusdt@depth'), 'the gap in the 1000 ms stream: a merged event never spans it');
  t.pass('the gap is visible in both diff streams');
});

t.test('GET /api/v3/depth: the local book in Binance\'s shape and errors', async (t) => {
  const { httpUrl } = await stack(t);
  const ok = await getJson(`${httpUrl}/api/v3/depth?symbol=BTCUSDT&limit=5`);
  t.equal(ok.status, 200);
  t.same(Object.keys(ok.body), ['lastUpdateId', 'bids', 'asks']);
  t.equal(ok.body.bids.length, 5);
  t.ok(ok.body.bids.every(([p, q]: [string, string]) => typeof p === 'string' && typeof q === 'string'), 'levels as strings');
  t.ok(Number(ok.body.bids[0][0]) < Number(ok.body.asks[0][0]), 'not crossed');
  const dflt = await getJson(`${httpUrl}/api/v3/depth?symbol=BTCUSDT`);
  t.ok(dflt.body.bids.length > 5, 'limit 100 by default');
  t.same((await getJson(`${httpUrl}/api/v3/depth`)).body, { code: -1102, msg: 'Mandatory parameter \'symbol\' was not sent, was empty/null, or malformed.' });
  t.same((await getJson(`${httpUrl}/api/v3/depth?symbol=btc$`)).body.code, -1100);
  const unknown = await getJson(`${httpUrl}/api/v3/depth?symbol=XYZUSDT`);
  t.same([unknown.status, unknown.body], [400, { code: -1121, msg: 'Invalid symbol.' }]);
  t.same((await getJson(`${httpUrl}/api/v3/depth?symbol=BTCUSDT&limit=abc`)).body.code, -1100);
});

t.test('a relayed stream goes on after its shard thread died and restarted (the channel is reopened there)', async (t) => {
  const chaos = fileURLToPath(new URL('../../fixtures/chaos-plugin/index.js', import.meta.url));
  const { server, httpUrl } = await stack(t, {}, { config: { plugins: ['market', 'binance-relay', { name: 'chaos', path: chaos }] }, sim: { tradesPerSecond: 20 } });
  const c = await Client.open(t, `ws://127.0.0.1:${server.port}/ws/btcusdt@trade`);
  await until(() => c.data((m) => m.e === 'trade').length >= 3, 'trades');
  void fetch(`${httpUrl}/api/v1/chaos/crash?symbol=BTCUSDT`, { method: 'POST' }).catch(() => undefined);
  await until(async () => (await getJson(`${httpUrl}/health`)).body.shards?.[0]?.restarts >= 1, 'the shard restarted', 20_000);
  const before = c.messages.length;
  await until(() => c.messages.length > before + 3, 'trades again after the restart', 20_000);
  const ids = c.data((m) => m.e === 'trade').map((m) => m.t as number);
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'trade ids only move on (nothing repeated)');
  t.equal(c.closed, undefined, 'the client never noticed beyond a pause');
  t.ok(c.messages.every((m) => m.e === 'trade'), 'and got no frame of tickgate\'s own (no status frames)');
});
