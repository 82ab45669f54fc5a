// Candles stay gap-free and duplicate-free: crafted sequences, and end to end across a forced upstream outage.
import t from 'tap';
import { createLogger } from '../../core/logger.js';
import { CandleContinuity } from '../../shards/market/candle-continuity.js';
import type { KlineEvent } from '../../shards/market/market-events.js';
import { startStack } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';

const MIN = 60_000;
const k = (open: number, isFinal: boolean, close = 1): KlineEvent => ({
  symbol: 'BTCUSDT', interval: '1m', eventTime: open, openTime: open * MIN, closeTime: (open + 1) * MIN - 1,
  open: 1, high: 1, low: 1, close, volume: 1, quoteVolume: 1, trades: 1, isFinal,
});

function harness(history: KlineEvent[] = []) {
  const out: KlineEvent[] = [];
  const fetched: Array<[number, number]> = [];
  const c = new CandleContinuity({
    log: createLogger('silent'),
    fetch: async (_s, _i, start, end) => {
      fetched.push([start, end]);
      return history.filter((h) => h.openTime >= start && h.openTime <= end);
    },
    emit: (e) => out.push(e),
  });
  return { c, out, fetched };
}

t.test('duplicates and stale events are dropped; each final once', async (t) => {
  const { c, out } = harness();
  for (const e of [k(1, false), k(1, false, 2), k(1, true), k(1, true), k(2, false), k(1, false), k(2, true)]) c.accept(e);
  t.same(out.map((e) => [e.openTime / MIN, e.isFinal]), [[1, false], [1, false], [1, true], [2, false], [2, true]]);
  t.equal(c.duplicatesDropped, 2);
});

t.test('a candle whose final was missed, and whole candles missed, are filled from REST in order', async (t) => {
  const { c, out, fetched } = harness([k(1, true, 11), k(2, true, 12), k(3, true, 13)]);
  c.accept(k(1, false));
  c.accept(k(4, false));
  c.accept(k(4, false, 2));
  await new Promise((r) => setImmediate(r));
  t.same(fetched, [[1 * MIN, 4 * MIN - 1]], 'asked for the unfinished candle 1 up to candle 4');
  t.same(out.map((e) => [e.openTime / MIN, e.isFinal]), [[1, false], [1, true], [2, true], [3, true], [4, false], [4, false]], 'finals 1–3, then the held events');
  t.equal(c.backfilled, 3);
  c.accept(k(4, true));
  c.accept(k(6, false));
  await new Promise((r) => setImmediate(r));
  t.same(fetched[1], [5 * MIN, 6 * MIN - 1], 'after a final, the hole starts at the next candle');
});

t.test('end to end: every 1s candle closed exactly once across an upstream outage', async (t) => {
  const { wsUrl, sim } = await startStack(t, { sim: { klineIntervalMs: 250 }, config: { upstream: { reconnectBaseMs: 2500, reconnectMaxMs: 2500 } } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('klines:ETHUSDT:1s');
  await c.next((f) => f.type === 'kline' && f.data.isFinal === true);
  sim.dropAll();
  const stale = await c.next((f) => f.type === 'status' && f.data.state === 'stale');
  const live = await c.next((f) => f.type === 'status' && f.data.state === 'live');
  // Let a few candles close after the outage too.
  const until = Date.now() + 2500;
  while (Date.now() < until) await c.next((f) => f.type === 'kline' && f.data.isFinal === true && c.indexOf(f) > c.indexOf(live), 5000);
  const finals = c.frames.filter((f) => f.type === 'kline' && f.data.isFinal === true).map((f) => f.data.time as number);
  const outage = finals.filter((time) => time >= Date.parse(stale.timestamp) - 1000);
  t.ok(outage.length >= 3, `${outage.length} candles closed during and after the outage`);
  t.equal(new Set(finals).size, finals.length, 'no candle final twice');
  t.ok(finals.every((time, i) => i === 0 || time === finals[i - 1]! + 1000), 'no candle missing: consecutive open times');
});
