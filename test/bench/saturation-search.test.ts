// The saturation search on a synthetic target with a known limit: where it stops, what it keeps, what it never measures.
import t from 'tap';
import { failureOf, searchSaturation, type StepOutcome } from '../../bench/saturation/search.js';
import { deliveredRatio } from '../../bench/saturation/saturation.js';
import { conflatedShare, type FanoutResult } from '../../bench/fanout/fanout.js';

/** A target that delivers everything with p99 10 ms up to `limit` (load units), then falls behind as `past` says. */
function synthetic(limit: number, past: (load: number) => StepOutcome) {
  const measured: number[] = [];
  const measure = async (load: number) => {
    measured.push(load);
    return load <= limit ? { deliveredRatio: 1, p99Ms: 10, load } : { ...past(load), load };
  };
  return { measured, measure };
}

const LADDER = [100, 200, 400, 800, 1600, 3200];

t.test('stops at the first step past the limit and keeps the one before', async (t) => {
  const s = synthetic(1000, () => ({ deliveredRatio: 0.9, p99Ms: 10 }));
  const r = await searchSaturation(LADDER, s.measure);
  t.equal(r.best?.step, 800, 'the highest step sustained');
  t.equal(r.failed?.step, 1600);
  t.match(r.failed?.failure, /delivered 0\.900 < 0\.99/);
  t.same(s.measured, [100, 200, 400, 800, 1600], 'nothing measured after the failure');
});

t.test('a p99 over 50 ms fails a step whose delivery is complete', async (t) => {
  const s = synthetic(300, () => ({ deliveredRatio: 1, p99Ms: 51 }));
  const r = await searchSaturation(LADDER, s.measure);
  t.equal(r.best?.step, 200);
  t.equal(r.failed?.step, 400);
  t.match(r.failed?.failure, /p99 51 ms > 50/);
});

t.test('the limits themselves pass: 99 % delivered and p99 of exactly 50 ms', async (t) => {
  t.equal(failureOf({ deliveredRatio: 0.99, p99Ms: 50 }), undefined);
  t.ok(failureOf({ deliveredRatio: 0.989, p99Ms: 50 }));
  t.ok(failureOf({ deliveredRatio: NaN, p99Ms: 10 }), 'no figure is no pass');
});

t.test('a first step that fails leaves no sustained step', async (t) => {
  const s = synthetic(50, () => ({ deliveredRatio: 0.5, p99Ms: 900 }));
  const r = await searchSaturation(LADDER, s.measure);
  t.equal(r.best, undefined);
  t.equal(r.failed?.step, 100);
  t.same(s.measured, [100]);
});

t.test('a target that never fails runs the whole ladder', async (t) => {
  const s = synthetic(Infinity, () => ({ deliveredRatio: 0, p99Ms: 0 }));
  const r = await searchSaturation(LADDER, s.measure);
  t.equal(r.best?.step, 3200);
  t.equal(r.failed, undefined);
  t.equal(r.tried.length, LADDER.length);
});

t.test('one bisection step between the last pass and the first failure', async (t) => {
  const between = (a: number, b: number) => Math.round((a + b) / 2);
  const above = synthetic(1300, () => ({ deliveredRatio: 0.9, p99Ms: 200 }));
  const up = await searchSaturation(LADDER, above.measure, { between });
  t.equal(up.best?.step, 1200, 'the step between passes: it becomes the best');
  t.equal(up.failed?.step, 1600);
  t.same(above.measured, [100, 200, 400, 800, 1600, 1200]);
  const below = synthetic(1000, () => ({ deliveredRatio: 0.9, p99Ms: 200 }));
  const down = await searchSaturation(LADDER, below.measure, { between });
  t.equal(down.best?.step, 800, 'the step between fails: the best stays');
  t.equal(down.failed?.step, 1200, 'and the lowest failure is reported');
  const none = synthetic(50, () => ({ deliveredRatio: 0, p99Ms: 999 }));
  await searchSaturation(LADDER, none.measure, { between });
  t.same(none.measured, [100], 'no bisection without a sustained step');
});

t.test('a measurement that throws fails its step', async (t) => {
  const r = await searchSaturation([1, 2, 3], async (n) => {
    if (n === 2) throw new Error('target exited');
    return { deliveredRatio: 1, p99Ms: 1 };
  });
  t.equal(r.best?.step, 1);
  t.equal(r.failed?.step, 2);
  t.match(r.failed?.failure, /error: target exited/);
});

t.test('delivery: price against the exchange\'s events, mixes against the losses in the seq ranges', async (t) => {
  // 10 s at 100 ticker events/s (5 rounds of 20 symbols a second) to 1000 clients: 100,000 frames/s due, and one
  // round (20,000 frames, 2,000/s over the window) granted for where the window's edges fell.
  const base = { scenario: { clients: 1000, channelsPerClient: 20 }, held: 1000, frames: 970_000, missing: 0, framesPerSecond: 97_000, exchangeEventsPerSecond: 100 } as unknown as FanoutResult;
  t.equal(deliveredRatio(base, 'rate'), 0.99, '97,000 frames/s of 100 events/s × 1000 clients, one round granted');
  t.equal(deliveredRatio({ ...base, frames: 1_010_000, framesPerSecond: 101_000 } as FanoutResult, 'rate'), 1, 'never above 1');
  t.equal(deliveredRatio({ ...base, held: 500, frames: 480_000, framesPerSecond: 48_000 } as FanoutResult, 'rate'), 0.5, 'clients dropped count against it');
  t.equal(deliveredRatio({ ...base, held: 500 } as FanoutResult, 'clients'), 0.5, 'in a mix too');
  t.equal(deliveredRatio({ ...base, frames: 990_000, missing: 10_000 } as FanoutResult, 'clients'), 0.99);
  t.equal(deliveredRatio({ ...base, frames: 0, missing: 0 } as FanoutResult, 'clients'), 0, 'no frame at all is no delivery');
  // tickgate's shards replaced 20 values and sent 980 over the window: no seq gap shows it, the share does.
  const share = conflatedShare({ conflated: 10, dataFrames: 100 }, { conflated: 30, dataFrames: 1080 });
  t.same(share, { values: 20, dataFrames: 980, share: 0.02 });
  const behind = { ...base, frames: 990_000, server: { conflated: share } } as unknown as FanoutResult;
  t.equal(deliveredRatio(behind, 'clients'), 0.98, 'in a mix, values replaced while behind count as not delivered');
  t.equal(deliveredRatio(behind, 'rate'), deliveredRatio({ ...behind, server: {} } as unknown as FanoutResult, 'rate'), 'at a rate, the frames due already count them (no double count)');
  t.same(conflatedShare({ conflated: 30, dataFrames: 1080 }, { conflated: 5, dataFrames: 40 }).values, 0, 'a restarted shard\'s counters give no negative count');
});
