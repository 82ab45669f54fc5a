// Closed candles kept between requests: nothing asked again within a candle period, then only the newest page.
import t from 'tap';
import { ClosedCandles } from '../../../plugins/signals/closed-candles.js';
import type { KlineEvent } from '../../../shards/shard-api.js';

const STEP = 60_000;

/** An exchange with candles at every minute up to `now`, the last one open; records each request. */
function exchange(start: number) {
  let now = start;
  const calls: Array<{ limit: number; endTime?: number }> = [];
  const candle = (openTime: number): KlineEvent => ({ symbol: 'BTCUSDT', eventTime: now, interval: '1m', openTime, closeTime: openTime + STEP - 1, open: 1, high: 1, low: 1, close: 1 + openTime / 1e12, volume: 1, quoteVolume: 1, trades: 1, isFinal: openTime + STEP <= now });
  const fetch = async (_s: string, _i: string, limit: number, endTime?: number) => {
    calls.push(endTime === undefined ? { limit } : { limit, endTime });
    const last = Math.floor((endTime ?? now) / STEP) * STEP;
    const out: KlineEvent[] = [];
    for (let open = last - (limit - 1) * STEP; open <= last; open += STEP) out.push(candle(open));
    return out;
  };
  return { fetch, calls, advance: (ms: number) => (now += ms), now: () => now };
}

t.test('the last n closed candles: the exchange is asked once per new candle, and only for what is new', async (t) => {
  const start = Date.UTC(2026, 0, 1, 12, 0, 30);
  const ex = exchange(start);
  const cache = new ClosedCandles(ex.fetch, 1100, 64, ex.now);
  const first = await cache.last('BTCUSDT', '1m', 1019);
  t.equal(first.length, 1019);
  t.equal(first.at(-1)!.openTime, Date.UTC(2026, 0, 1, 11, 59), 'the newest closed candle; the open one is left out');
  t.ok(first.every((k, i) => i === 0 || k.openTime - first[i - 1]!.openTime === STEP), 'consecutive');
  t.same(ex.calls.map((c) => c.endTime === undefined), [true, false], 'the newest page, then one older page');
  // Within the same candle period: nothing asked.
  ex.advance(20_000);
  t.same(await cache.last('BTCUSDT', '1m', 1019), first);
  t.equal(ex.calls.length, 2);
  // Two candles later: one small request for the new ones.
  ex.advance(2 * STEP);
  const later = await cache.last('BTCUSDT', '1m', 1019);
  t.equal(ex.calls.length, 3);
  t.ok(ex.calls[2]!.limit <= 8, `a small page (${ex.calls[2]!.limit})`);
  t.equal(later.at(-1)!.openTime, Date.UTC(2026, 0, 1, 12, 1));
  t.same(later.slice(0, -2), first.slice(2), 'the kept candles continue');
  // Fewer asked: from what is kept.
  t.same(await cache.last('BTCUSDT', '1m', 21), later.slice(-21));
  t.equal(ex.calls.length, 3);
});

t.test('a long absence replaces what is kept; the least recently used pair goes first', async (t) => {
  const ex = exchange(Date.UTC(2026, 0, 1, 12, 0, 30));
  const cache = new ClosedCandles(ex.fetch, 100, 2, ex.now);
  await cache.last('BTCUSDT', '1m', 50);
  ex.advance(3000 * STEP);
  const after = await cache.last('BTCUSDT', '1m', 50);
  t.ok(after.every((k, i) => i === 0 || k.openTime - after[i - 1]!.openTime === STEP), 'no gap across the absence');
  t.equal(after.at(-1)!.openTime, Math.floor(ex.now() / STEP) * STEP - STEP);
  await cache.last('ETHUSDT', '1m', 10);
  await cache.last('SOLUSDT', '1m', 10);
  const calls = ex.calls.length;
  await cache.last('BTCUSDT', '1m', 10);
  t.ok(ex.calls.length > calls, 'BTCUSDT was dropped (two pairs at most) and is asked again');
});
