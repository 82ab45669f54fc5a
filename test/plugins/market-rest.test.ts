// REST market endpoints: shapes, validation errors, on-demand streams, and answers from shard state (no exchange call per request).
import t from 'tap';
import { startStack, getJson, until } from '../helpers/stack.js';

t.test('ticker, depth, klines, trades: shapes, and no exchange request per request', async (t) => {
  const { httpUrl, sim } = await startStack(t, { sim: { tradesPerSecond: 50 } });
  const ticker = await getJson(`${httpUrl}/api/v1/market/ticker/BTCUSDT`);
  t.equal(ticker.status, 200);
  t.equal(ticker.body.success, true);
  t.same(Object.keys(ticker.body.data).sort(), ['ask', 'bid', 'change', 'changePercent', 'high', 'low', 'open', 'previousClose', 'price', 'symbol', 'timestamp', 'volume']);
  t.ok('btcusdt@ticker' in sim.getStats().subscriptions, 'the stream was opened on demand');

  const depth = await getJson(`${httpUrl}/api/v1/market/depth/ETHUSDT?limit=5`);
  t.equal(depth.status, 200);
  t.equal(depth.body.data.bids.length, 5);
  t.ok(depth.body.data.bids[0][0] < depth.body.data.asks[0][0], 'not crossed');

  const klines = await getJson(`${httpUrl}/api/v1/market/klines/SOLUSDT?interval=1m&limit=50`);
  t.equal(klines.status, 200);
  t.equal(klines.body.data.length, 50);
  const times = klines.body.data.map((k: { time: number }) => k.time);
  t.ok(times.every((x: number, i: number) => i === 0 || x === times[i - 1] + 60_000), 'consecutive candles, oldest first');
  t.equal(klines.body.data.at(-1).isFinal, false, 'the last candle is the open one');

  const trades = await getJson(`${httpUrl}/api/v1/market/trades/BTCUSDT?limit=10`);
  t.equal(trades.status, 200);
  t.equal(trades.body.data.length, 10);
  t.same(Object.keys(trades.body.data[0]).sort(), ['price', 'quantity', 'side', 'symbol', 'timestamp']);

  const before = sim.getStats().restRequests;
  for (let i = 0; i < 5; i++) {
    t.equal((await getJson(`${httpUrl}/api/v1/market/ticker/BTCUSDT`)).status, 200);
    t.equal((await getJson(`${httpUrl}/api/v1/market/klines/SOLUSDT?interval=1m&limit=3`)).status, 200);
    t.equal((await getJson(`${httpUrl}/api/v1/market/trades/BTCUSDT?limit=3`)).status, 200);
    t.equal((await getJson(`${httpUrl}/api/v1/market/depth/ETHUSDT`)).status, 200);
  }
  t.equal(sim.getStats().restRequests, before, '20 more requests, no exchange request: answered from shard state');
});

t.test('validation: 400 with a code for bad input, 404 for an unknown symbol', async (t) => {
  const { httpUrl } = await startStack(t);
  const cases: Array<[string, number, string]> = [
    ['/api/v1/market/ticker/btcusdt', 400, 'TG_ERR_INVALID_SYMBOL'],
    ['/api/v1/market/ticker/NOPEUSDT', 404, 'TG_ERR_UNKNOWN_SYMBOL'],
    ['/api/v1/market/ticker/LUNAUSDT', 404, 'TG_ERR_UNKNOWN_SYMBOL'],
    ['/api/v1/market/depth/BTCUSDT?limit=0', 400, 'TG_ERR_INVALID_ARGUMENT'],
    ['/api/v1/market/depth/BTCUSDT?limit=101', 400, 'TG_ERR_INVALID_ARGUMENT'],
    ['/api/v1/market/depth/BTCUSDT?limit=abc', 400, 'TG_ERR_INVALID_ARGUMENT'],
    ['/api/v1/market/klines/BTCUSDT', 400, 'TG_ERR_INVALID_INTERVAL'],
    ['/api/v1/market/klines/BTCUSDT?interval=7m', 400, 'TG_ERR_INVALID_INTERVAL'],
    ['/api/v1/market/klines/BTCUSDT?interval=1m&limit=1001', 400, 'TG_ERR_INVALID_ARGUMENT'],
    ['/api/v1/market/trades/BTCUSDT?limit=-1', 400, 'TG_ERR_INVALID_ARGUMENT'],
  ];
  for (const [path, status, code] of cases) {
    const r = await getJson(`${httpUrl}${path}`);
    t.equal(r.status, status, path);
    t.equal(r.body.error.code, code, path);
  }
  const symbols = await getJson(`${httpUrl}/api/v1/market/symbols`);
  t.ok(symbols.body.data.includes('BTCUSDT'));
});

t.test('a stream opened for REST only is released when idle', async (t) => {
  const { httpUrl, sim } = await startStack(t, { config: { plugins: [{ name: 'market', config: { restIdleMs: 300 } }] } });
  t.equal((await getJson(`${httpUrl}/api/v1/market/ticker/XRPUSDT`)).status, 200);
  t.ok('xrpusdt@ticker' in sim.getStats().subscriptions, 'opened on demand');
  await until(() => !('xrpusdt@ticker' in sim.getStats().subscriptions), 'released after the idle time');
  t.equal((await getJson(`${httpUrl}/api/v1/market/ticker/XRPUSDT`)).status, 200, 'and opened again on the next request');
});

t.test('a failed history load is retried on the next request, not cached', async (t) => {
  const { httpUrl, sim } = await startStack(t);
  sim.failRest(1, 429, 0);
  const first = await getJson(`${httpUrl}/api/v1/market/klines/ADAUSDT?interval=5m&limit=5`);
  t.equal(first.status, 503);
  t.equal(first.body.error.code, 'TG_ERR_DATA_UNAVAILABLE');
  const second = await getJson(`${httpUrl}/api/v1/market/klines/ADAUSDT?interval=5m&limit=5`);
  t.equal(second.status, 200, 'the next request loads the history');
  t.equal(second.body.data.length, 5);
});
