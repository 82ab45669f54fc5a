// The simulated exchange speaks Binance's protocol: REST shapes and errors, combined/raw streams, control messages, limits.
import t from 'tap';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { SimExchange } from '../../sim/exchange.js';
import { candleBounds } from '../../sim/market-model.js';
import { getJson, until } from '../helpers/stack.js';

async function sim(t: Test, opts = {}): Promise<SimExchange> {
  const s = await new SimExchange({ port: 0, tickerIntervalMs: 100, klineIntervalMs: 100, tradesPerSecond: 20, ...opts }).start();
  t.teardown(() => s.close());
  return s;
}

function open(url: string): Promise<{ ws: WebSocket; msgs: any[]; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  const msgs: any[] = [];
  ws.on('message', (d: Buffer) => msgs.push(JSON.parse(d.toString())));
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, msgs, closed }));
    ws.once('error', reject);
  });
}

t.test('REST: exchangeInfo, depth, klines, trades, 24hr ticker in Binance shapes', async (t) => {
  const s = await sim(t);
  await new Promise((r) => setTimeout(r, 300));
  const info = (await getJson(`${s.restUrl}/api/v3/exchangeInfo`)).body;
  const names = info.symbols.map((x: any) => x.symbol);
  for (const sym of ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'AVAXUSDT']) t.ok(names.includes(sym), sym);
  const btc = info.symbols.find((x: any) => x.symbol === 'BTCUSDT');
  t.equal(btc.status, 'TRADING');
  t.same(btc.filters.map((f: any) => f.filterType), ['PRICE_FILTER', 'LOT_SIZE', 'NOTIONAL']);
  t.equal(btc.filters[0].tickSize, '0.01');

  const depth = await getJson(`${s.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=5`);
  const weight = Number(depth.headers.get('x-mbx-used-weight-1m'));
  t.ok(weight === 25 || weight === 5, `used weight of this minute reported, cumulative (${weight})`);
  t.type(depth.body.lastUpdateId, 'number');
  t.equal(depth.body.bids.length, 5);
  t.type(depth.body.bids[0][0], 'string', 'prices are strings');
  t.ok(Number(depth.body.bids[0][0]) < Number(depth.body.asks[0][0]), 'not crossed');

  const klines = (await getJson(`${s.restUrl}/api/v3/klines?symbol=ETHUSDT&interval=1m&limit=3`)).body;
  t.equal(klines.length, 3);
  t.equal(klines[0].length, 12, '12 columns');
  t.equal(klines[0][0] % 60_000, 0);
  t.equal(klines[1][0] - klines[0][0], 60_000, 'consecutive candles');
  t.type(klines[0][1], 'string');

  const trades = (await getJson(`${s.restUrl}/api/v3/trades?symbol=BTCUSDT&limit=2`)).body;
  t.equal(trades.length, 2);
  t.same(Object.keys(trades[0]).sort(), ['id', 'isBestMatch', 'isBuyerMaker', 'price', 'qty', 'quoteQty', 'time']);
  t.equal(trades[1].id, trades[0].id + 1);

  const ticker = (await getJson(`${s.restUrl}/api/v3/ticker/24hr?symbol=SOLUSDT`)).body;
  t.equal(ticker.symbol, 'SOLUSDT');
  t.type(ticker.lastPrice, 'string');
});

t.test('REST errors use Binance codes', async (t) => {
  const s = await sim(t);
  const r1 = await getJson(`${s.restUrl}/api/v3/depth?symbol=NOPE`);
  t.equal(r1.status, 400);
  t.same(r1.body, { code: -1121, msg: 'Invalid symbol.' });
  t.equal((await getJson(`${s.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=7m`)).body.code, -1120);
  t.equal((await getJson(`${s.restUrl}/api/v3/depth`)).body.code, -1102);
  t.equal((await getJson(`${s.restUrl}/api/v3/depth?symbol=btc$`)).body.code, -1100);
  t.equal((await getJson(`${s.restUrl}/nothing`)).status, 404);
  s.failRest(1, 418, 120);
  const banned = await getJson(`${s.restUrl}/api/v3/ping`);
  t.equal(banned.status, 418);
  t.equal(banned.headers.get('retry-after'), '120');
});

t.test('combined stream wraps payloads as {stream, data} with numbers as strings; raw /ws streams do not', async (t) => {
  const s = await sim(t);
  const c = await open(`${s.wsUrl}/stream?streams=btcusdt@trade/ethusdt@ticker`);
  const r = await open(`${s.wsUrl}/ws/btcusdt@trade`);
  await until(() => c.msgs.some((m) => m.stream === 'btcusdt@trade') && c.msgs.some((m) => m.stream === 'ethusdt@ticker') && r.msgs.length > 0, 'data');
  const trade = c.msgs.find((m) => m.stream === 'btcusdt@trade').data;
  t.equal(trade.e, 'trade');
  t.type(trade.p, 'string');
  t.type(trade.q, 'string');
  t.type(trade.m, 'boolean');
  t.equal(r.msgs[0].e, 'trade', 'raw stream: the payload itself');
  c.ws.close();
  r.ws.close();
});

t.test('SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS echo ids; bad requests get Binance error replies', async (t) => {
  const s = await sim(t);
  const c = await open(`${s.wsUrl}/stream?streams=btcusdt@trade`);
  c.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['ethusdt@kline_1m', 'solusdt@depth5@100ms'], id: 1 }));
  await until(() => c.msgs.some((m) => m.id === 1), 'reply 1');
  t.same(c.msgs.find((m) => m.id === 1), { result: null, id: 1 });
  c.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 'list' }));
  await until(() => c.msgs.some((m) => m.id === 'list'), 'list reply');
  t.same(c.msgs.find((m) => m.id === 'list').result.sort(), ['btcusdt@trade', 'ethusdt@kline_1m', 'solusdt@depth5@100ms']);
  await new Promise((r) => setTimeout(r, 400));
  c.ws.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: ['btcusdt@trade'], id: 2 }));
  c.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@nonsense'], id: 3 }));
  c.ws.send('{oops');
  await until(() => c.msgs.some((m) => m.id === 3) && c.msgs.some((m) => m.error?.code === 3), 'error replies');
  t.equal(c.msgs.find((m) => m.id === 3).error.code, 2);
  await new Promise((r) => setTimeout(r, 1000));
  c.ws.send(JSON.stringify({ method: 'FLY', id: 4 }));
  await until(() => c.msgs.some((m) => m.id === 4), 'unknown method reply');
  t.equal(c.msgs.find((m) => m.id === 4).error.code, 2);
  const partial = c.msgs.find((m) => m.stream === 'solusdt@depth5@100ms');
  t.ok(partial && partial.data.lastUpdateId && !('s' in partial.data), 'partial depth has no symbol field, as on Binance');
  c.ws.close();
});

t.test('more than 5 incoming messages in a second closes the connection, as on Binance', async (t) => {
  const s = await sim(t);
  const c = await open(`${s.wsUrl}/stream?streams=btcusdt@trade`);
  for (let i = 0; i < 6; i++) c.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: i }));
  t.equal(await c.closed, 1008);
});

t.test('invalid stream names in the URL are refused at the handshake', async (t) => {
  const s = await sim(t);
  await t.rejects(open(`${s.wsUrl}/stream?streams=btcusdt@nope`), /400/);
});

t.test('diff depth is sequenced (U = previous u + 1) and a snapshot plus diffs rebuilds the book; an injected gap shows', async (t) => {
  const s = await sim(t);
  const c = await open(`${s.wsUrl}/stream?streams=btcusdt@depth@100ms`);
  await until(() => c.msgs.length >= 3, 'diffs');
  const snap = (await getJson(`${s.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=5000`)).body;
  const start = c.msgs.length;
  await until(() => c.msgs.length >= start + 5, 'more diffs');
  const diffs = c.msgs.map((m) => m.data);
  for (let i = 1; i < diffs.length; i++) t.equal(diffs[i].U, diffs[i - 1].u + 1, `event ${i} follows ${i - 1}`);
  const bids = new Map<string, string>(snap.bids);
  const asks = new Map<string, string>(snap.asks);
  const usable = diffs.filter((d) => d.u > snap.lastUpdateId);
  t.ok(usable[0].U <= snap.lastUpdateId + 1 && snap.lastUpdateId + 1 <= usable[0].u, 'first event brackets the snapshot');
  for (const d of usable) {
    for (const [p, q] of d.b) Number(q) === 0 ? bids.delete(p) : bids.set(p, q);
    for (const [p, q] of d.a) Number(q) === 0 ? asks.delete(p) : asks.set(p, q);
  }
  const lastU = usable.at(-1).u;
  const now = (await getJson(`${s.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=5000`)).body;
  if (now.lastUpdateId === lastU) {
    t.same([...bids].sort(), now.bids.slice().sort(), 'rebuilt bids equal the exchange book');
    t.same([...asks].sort(), now.asks.slice().sort(), 'rebuilt asks equal the exchange book');
  } else {
    t.ok(now.lastUpdateId > lastU, 'the book moved on between the last event and the check');
  }
  s.skipSequence('BTCUSDT', 7);
  const before = c.msgs.length;
  await until(() => c.msgs.length >= before + 2, 'events after the gap');
  const after = c.msgs.slice(before - 1).map((m) => m.data);
  t.ok(after.some((d, i) => i > 0 && d.U > after[i - 1].u + 1), 'a gap appears in the sequence');
  c.ws.close();
});

t.test('candle bounds: minutes, Monday weeks, calendar months', async (t) => {
  const ts = Date.UTC(2024, 11, 6, 12, 34, 56, 789);
  t.same(candleBounds('1m', ts), [Date.UTC(2024, 11, 6, 12, 34), Date.UTC(2024, 11, 6, 12, 35) - 1]);
  t.same(candleBounds('4h', ts), [Date.UTC(2024, 11, 6, 12), Date.UTC(2024, 11, 6, 16) - 1]);
  t.same(candleBounds('1w', ts), [Date.UTC(2024, 11, 2), Date.UTC(2024, 11, 9) - 1], '2024-12-02 was a Monday');
  t.same(candleBounds('1M', ts), [Date.UTC(2024, 11, 1), Date.UTC(2025, 0, 1) - 1]);
});

t.test('kline history: one continuous, unchanging past across requests, from a price process with regimes', async (t) => {
  const { simulateCandles, DEFAULT_SYMBOLS: syms } = await import('../../sim/market-model.js');
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  const get = async (q: string) => (await (await fetch(`${sim.restUrl}/api/v3/klines?symbol=ETHUSDT&${q}`)).json()) as unknown[][];
  const a = await get('interval=1m&limit=1000');
  const b = await get('interval=1m&limit=1000');
  t.equal(a.length, 1000);
  t.same(a.slice(0, -1), b.slice(0, -1), 'the closed candles are the same on a second request');
  t.ok(a.every((r, i) => i === 0 || (r[0] as number) - (a[i - 1]![0] as number) === 60_000), 'consecutive minutes');
  const older = await get(`interval=1m&limit=10&endTime=${(a[0]![0] as number) + 9 * 60_000}`);
  t.same(older, a.slice(0, 10), 'endTime pages back into the same past');
  // The process: 1-minute returns are not independent (a trend or a reversion), which a model can learn.
  const c = simulateCandles(syms[0]!, '1m', 20_000, 4);
  const r = c.slice(1).map((x, i) => Math.log(x.close / c[i]!.close));
  let ac = 0;
  let v = 0;
  for (let i = 1; i < r.length; i++) {
    ac += r[i]! * r[i - 1]!;
    v += r[i]! * r[i]!;
  }
  t.ok(Math.abs(ac / v) > 0.03, `lag-1 autocorrelation ${ac / v} is away from 0`);
  t.same(simulateCandles(syms[0]!, '1m', 50, 4), c.slice(0, 50), 'a seed gives the same candles');
});

t.test('a stall longer than a candle: the periods in between close as empty candles, consecutive, at the last price', async (t) => {
  const { SymbolMarket, DEFAULT_SYMBOLS: syms, prng } = await import('../../sim/market-model.js');
  const start = Date.UTC(2024, 0, 1, 0, 0, 0, 200);
  const m = new SymbolMarket(syms[0]!, prng(3), start, ['1s', '1m']);
  m.trade(start + 100);
  const price = m.candles.get('1s')!.close;
  // Nothing for 3.5 s (a late timer, a busy process), then a tick.
  m.rollCandles(start + 3_500);
  const closed = m.takeClosed('1s');
  t.same(closed.map((c) => c.openTime - Date.UTC(2024, 0, 1)), [0, 1000, 2000], 'the candle before the stall and the two empty ones after it');
  t.same(closed.slice(1).map((c) => [c.open, c.close, c.volume, c.trades]), [[price, price, 0, 0], [price, price, 0, 0]], 'empty, at the last price');
  t.equal(m.candles.get('1s')!.openTime, Date.UTC(2024, 0, 1, 0, 0, 3), 'the open candle is the one `now` falls in');
  t.same(m.takeClosed('1m'), [], 'the minute is still open');
  const hist = m.klines('1s', 5);
  t.ok(hist.every((c, i) => i === 0 || c.openTime - hist[i - 1]!.openTime === 1000), 'REST history consecutive across the stall');
});
