// Conflation (kind:SYM@RATE): at most one frame per interval, the latest value, never an older one after a newer one.
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('price:SYM@500ms: one frame per interval at most, each a value the live channel had, in order, the last one kept', async (t) => {
  const { wsUrl, sim } = await startStack(t, { sim: { tickerIntervalMs: 40 } });
  const c = await TestClient.connect(wsUrl);
  t.teardown(() => c.close());
  c.subscribe('price:BTCUSDT', 'price:BTCUSDT@500ms');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'price:BTCUSDT@500ms');
  await c.next((f) => f.type === 'price' && f.channel === 'price:BTCUSDT@500ms');
  await sleep(2600);
  // The exchange goes quiet: the last value must still reach the conflated channel at its interval's end.
  sim.stall();
  await sleep(1200);
  const live = c.frames.filter((f) => f.type === 'price' && f.channel === 'price:BTCUSDT');
  const slow = c.frames.filter((f) => f.type === 'price' && f.channel === 'price:BTCUSDT@500ms');
  t.ok(live.length >= 30, `the live channel had ${live.length} frames`);
  t.ok(slow.length >= 5 && slow.length <= 8, `the conflated channel had ${slow.length} over about 3.8 s at 500 ms`);
  t.same(slow.map((f) => f.seq), slow.map((_, i) => i + 1), 'numbered on their own, without gaps');
  const at = (f: Frame) => Date.parse(f.timestamp);
  const gaps = slow.slice(1).map((f, i) => at(f) - at(slow[i]!));
  t.ok(gaps.every((g) => g >= 500), `never two frames within 500 ms (gaps ${gaps.join(', ')} ms)`);
  const times = slow.map((f) => f.data.timestamp as number);
  t.ok(times.every((x, i) => i === 0 || x > times[i - 1]!), 'never an older value after a newer one');
  const liveData = new Set(live.map((f) => JSON.stringify(f.data)));
  t.ok(slow.every((f) => liveData.has(JSON.stringify(f.data))), 'every conflated value is one the live channel sent');
  t.same(slow.at(-1)!.data, live.at(-1)!.data, 'the latest value was delivered once the exchange went quiet');
});

t.test('a second subscriber gets the conflated channel\'s latest value as its snapshot; each rate is its own channel', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { tickerIntervalMs: 40 } });
  const a = await TestClient.connect(wsUrl);
  const b = await TestClient.connect(wsUrl);
  t.teardown(() => {
    a.close();
    b.close();
  });
  a.subscribe('ticker:ETHUSDT@1s', 'ticker:ETHUSDT@250ms');
  const first = await a.next((f) => f.type === 'ticker' && f.channel === 'ticker:ETHUSDT@1s');
  b.subscribe('ticker:ETHUSDT@1s');
  const snap = await b.next((f) => f.type === 'ticker' && f.channel === 'ticker:ETHUSDT@1s');
  t.equal(snap.snapshot, true, 'the new subscriber starts from the latest value');
  t.same(snap.data, first.data, 'the value the first subscriber has');
  const quick = [];
  while (quick.length < 5) quick.push(await a.next((f) => f.type === 'ticker' && f.channel === 'ticker:ETHUSDT@250ms'));
  const slow = a.frames.filter((f) => f.type === 'ticker' && f.channel === 'ticker:ETHUSDT@1s');
  t.ok(slow.length < quick.length, `each rate keeps its own pace (${quick.length} frames at 250 ms, ${slow.length} at 1 s)`);
});

t.test('conflation refused where it would lose frames, and rates outside the list, with codes that say what to send', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  t.teardown(() => c.close());
  const refused = async (channel: string, code: string, says: RegExp) => {
    c.subscribe(channel);
    const e = await c.next((f) => f.type === 'error' && f.channel === channel);
    t.equal(e.data.code, code, `${channel}: ${code}`);
    t.match(e.data.message, says, `${channel}: the message says what to do`);
  };
  await refused('trades:BTCUSDT@1s', 'TG_ERR_INVALID_RATE', /cannot be conflated.*subscribe to trades:BTCUSDT; kinds that can: .*price/);
  await refused('klines:BTCUSDT:1m@1s', 'TG_ERR_INVALID_RATE', /cannot be conflated/);
  await refused('price:BTCUSDT@3s', 'TG_ERR_INVALID_RATE', /use one of @100ms, @250ms, @500ms, @1s/);
  await refused('price:BTCUSDT@1000ms', 'TG_ERR_INVALID_RATE', /use one of/);
  await refused('price:BTCUSDT@fast', 'TG_ERR_INVALID_CHANNEL', /@RATE/);
  await refused('price:BTCUSDT@', 'TG_ERR_INVALID_CHANNEL', /@RATE/);
  await refused('depth:BTCUSDT:7@1s', 'TG_ERR_INVALID_ARGUMENT', /levels/);
  c.subscribe('depth:BTCUSDT:5@1s');
  const ok = await c.next((f) => f.channel === 'depth:BTCUSDT:5@1s' && (f.type === 'subscribed' || f.type === 'error'));
  t.equal(ok.type, 'subscribed', 'depth with levels and a rate');
});
