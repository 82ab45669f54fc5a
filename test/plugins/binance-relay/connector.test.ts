// The Binance relay driven by Binance's own Node connector (@binance/connector), pointed at tickgate by its URL only:
// subscribe, data, unsubscribe, raw and combined connections, and a local book kept from the relayed diff stream (with
// the snapshot from tickgate's GET /api/v3/depth, read by the connector's REST client) that equals the exchange's.
import t from 'tap';
import WebSocket from 'ws';
import { Spot, WebsocketStream } from '@binance/connector';
import { startStack, until } from '../../helpers/stack.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A connector client and every message it handed its callback, parsed. */
function connector(wsURL: string, combinedStreams = false) {
  const messages: any[] = [];
  const client = new WebsocketStream({ wsURL, combinedStreams, logger: quiet, reconnectDelay: 60_000, callbacks: { message: (data) => messages.push(JSON.parse(data)) } });
  return { client, messages };
}

const relayPlugins = { plugins: ['market', 'binance-relay'] };

interface Diff {
  e: string;
  E: number;
  s: string;
  U: number;
  u: number;
  b: Array<[string, string]>;
  a: Array<[string, string]>;
}

/** A book kept the way Binance documents it, keyed by the price text as a client does. */
class LocalBook {
  bids = new Map<string, string>();
  asks = new Map<string, string>();
  lastUpdateId = 0;

  load(snapshot: { lastUpdateId: number; bids: Array<[string, string]>; asks: Array<[string, string]> }): void {
    this.bids = new Map(snapshot.bids);
    this.asks = new Map(snapshot.asks);
    this.lastUpdateId = snapshot.lastUpdateId;
  }

  /** Applies a diff; 'ignored' when it is older than the book, 'gap' when changes were missed. */
  apply(d: Diff): 'applied' | 'ignored' | 'gap' {
    if (d.u <= this.lastUpdateId) return 'ignored';
    if (d.U > this.lastUpdateId + 1) return 'gap';
    for (const [side, levels] of [[this.bids, d.b], [this.asks, d.a]] as const) {
      for (const [p, q] of levels) {
        if (Number(q) === 0) side.delete(p);
        else side.set(p, q);
      }
    }
    this.lastUpdateId = d.u;
    return 'applied';
  }

  top(n: number): { bids: Array<[number, number]>; asks: Array<[number, number]> } {
    const side = (m: Map<string, string>, desc: boolean) => [...m].map(([p, q]) => [Number(p), Number(q)] as [number, number]).sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0])).slice(0, n);
    return { bids: side(this.bids, true), asks: side(this.asks, false) };
  }
}

t.test('@binance/connector on /ws/<stream>: data, SUBSCRIBE and UNSUBSCRIBE with ids, and a book from the diff stream equal to the exchange\'s', async (t) => {
  const { server, sim, httpUrl } = await startStack(t, { config: relayPlugins, sim: { recordBookTop: 20, tradesPerSecond: 20 } });
  const { client, messages } = connector(`ws://127.0.0.1:${server.port}`);
  t.teardown(() => client.disconnect());
  client.trade('btcusdt');
  await until(() => messages.filter((m) => m.e === 'trade').length >= 3, 'trades through the connector');
  const trade = messages.find((m) => m.e === 'trade');
  t.same(Object.keys(trade), ['e', 'E', 's', 't', 'p', 'q', 'T', 'm', 'M'], 'Binance\'s trade payload, field for field');
  t.ok(typeof trade.p === 'string' && typeof trade.q === 'string' && Number.isInteger(trade.t) && typeof trade.m === 'boolean', 'prices and quantities as strings, as Binance sends them');
  const exchangeTrade = sim.market('BTCUSDT')!.recentTrades.find((x) => x.id === trade.t)!;
  t.same([Number(trade.p), Number(trade.q), trade.T, trade.m], [exchangeTrade.price, exchangeTrade.qty, exchangeTrade.time, exchangeTrade.buyerIsMaker], 'the exchange\'s trade');

  // A live SUBSCRIBE on the open connection, answered with the connector's id.
  client.diffBookDepth('btcusdt', '100ms');
  await until(() => messages.some((m) => 'result' in m), 'SUBSCRIBE answered');
  const answer = messages.find((m) => 'result' in m);
  t.equal(answer.result, null);
  t.ok(typeof answer.id === 'number' && answer.id > 1e12, 'its id echoed (the connector sends Date.now())');
  await until(() => messages.some((m) => m.e === 'depthUpdate'), 'diffs flow');

  // The snapshot from tickgate's own REST, through the connector's REST client, then Binance's procedure.
  const rest = new Spot('', '', { baseURL: httpUrl });
  const book = new LocalBook();
  const diffs = () => messages.filter((m): m is Diff => m.e === 'depthUpdate');
  let snapshot: { lastUpdateId: number; bids: Array<[string, string]>; asks: Array<[string, string]> };
  do snapshot = (await rest.depth('BTCUSDT', { limit: 1000 })).data;
  while (snapshot.lastUpdateId < diffs()[0]!.U);
  t.ok(snapshot.bids.length > 20 && snapshot.asks.length > 20, `snapshot of ${snapshot.bids.length} bids and ${snapshot.asks.length} asks`);
  book.load(snapshot);
  await until(() => diffs().some((d) => d.u > snapshot.lastUpdateId), 'a diff after the snapshot');
  const first = diffs().find((d) => d.u > snapshot.lastUpdateId)!;
  t.ok(first.U <= snapshot.lastUpdateId + 1 && snapshot.lastUpdateId + 1 <= first.u, 'the first diff after the snapshot brackets its lastUpdateId');
  const history = sim.market('BTCUSDT')!.bookHistory;
  let next = diffs().indexOf(first);
  let compared = 0;
  let prev: Diff | undefined;
  while (compared < 30) {
    await until(() => diffs().length > next, 'the next diff');
    const d = diffs()[next++]!;
    if (prev) t.equal(d.U, prev.u + 1, `diff ${d.U}..${d.u} follows the one before, as the exchange numbered them`);
    prev = d;
    t.equal(book.apply(d), 'applied');
    const want = history.get(d.u);
    t.ok(want, `the exchange recorded its book at ${d.u}`);
    t.same(book.top(20), want, `the book kept from the relayed diffs equals the exchange's at update ${d.u}`);
    compared++;
  }

  // UNSUBSCRIBE: no trade after its answer, diffs go on.
  client.unsubscribe('btcusdt@trade');
  await until(() => messages.filter((m) => 'result' in m).length === 2, 'UNSUBSCRIBE answered');
  const at = messages.findIndex((m, i) => i > messages.indexOf(answer) && 'result' in m);
  await until(() => messages.slice(at).filter((m) => m.e === 'depthUpdate').length >= 10, 'diffs after the unsubscribe');
  t.equal(messages.slice(at + 1).filter((m) => m.e === 'trade').length, 0, 'no trade after UNSUBSCRIBE was answered');
});

t.test('@binance/connector on /stream?streams=: combined payloads, equal to the exchange\'s own, and a live SUBSCRIBE', async (t) => {
  const { server, sim } = await startStack(t, { config: relayPlugins, sim: { tradesPerSecond: 20 } });
  const { client, messages } = connector(`ws://127.0.0.1:${server.port}`, true);
  t.teardown(() => client.disconnect());
  // The same stream straight from the exchange, to compare payloads byte for byte.
  const direct: any[] = [];
  const upstream = new WebSocket(`${sim.wsUrl}/ws/btcusdt@aggTrade`);
  upstream.on('message', (d: Buffer) => direct.push(JSON.parse(d.toString('utf8'))));
  t.teardown(() => upstream.close());
  await new Promise((resolve) => upstream.once('open', resolve));
  client.subscribe(['btcusdt@aggTrade', 'ethusdt@miniTicker']);
  await until(() => messages.filter((m) => m.stream === 'btcusdt@aggTrade').length >= 5 && messages.some((m) => m.stream === 'ethusdt@miniTicker'), 'both streams, combined');
  t.ok(messages.every((m) => Object.keys(m).join() === 'stream,data'), 'every payload wrapped as {"stream","data"}');
  const relayed = messages.filter((m) => m.stream === 'btcusdt@aggTrade').map((m) => m.data);
  await until(() => relayed.some((r) => direct.some((d) => d.a === r.a)), 'one aggregate trade seen both ways');
  const same = relayed.filter((r) => direct.some((d) => d.a === r.a));
  for (const r of same) t.same(r, direct.find((d) => d.a === r.a), `aggregate trade ${r.a}: the relayed payload is the exchange's`);
  t.same(Object.keys(messages.find((m) => m.stream === 'ethusdt@miniTicker').data), ['e', 'E', 's', 'c', 'o', 'h', 'l', 'v', 'q'], 'Binance\'s mini ticker payload');

  client.kline('solusdt', '1s');
  await until(() => messages.some((m) => 'result' in m) && messages.some((m) => m.stream === 'solusdt@kline_1s'), 'a stream added by SUBSCRIBE');
  const k = messages.find((m) => m.stream === 'solusdt@kline_1s').data;
  t.same(Object.keys(k.k), ['t', 'T', 's', 'i', 'f', 'L', 'o', 'c', 'h', 'l', 'v', 'n', 'x', 'q', 'V', 'Q', 'B'], 'Binance\'s kline payload');
  t.equal(k.k.i, '1s');
});
