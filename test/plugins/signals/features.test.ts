// The feature pipeline against a direct computation from the candle arrays, on fixed candles.
import t from 'tap';
import { FEATURE_NAMES, FeaturePipeline, WARMUP_CANDLES, bookImbalance, candleIndex, type FeatureCandle } from '../../../plugins/signals/features.js';
import { prng } from '../../../sim/market-model.js';

/** Fixed candles: a seeded walk with volumes, one flat candle and one equal-volume stretch. */
function candles(n: number, seed = 7, start = 1_700_000_000_000, step = 60_000): FeatureCandle[] {
  const rand = prng(seed);
  let close = 100;
  const out: FeatureCandle[] = [];
  for (let i = 0; i < n; i++) {
    const open = close;
    close = open * Math.exp((rand() - 0.5) * 0.01);
    const high = Math.max(open, close) * (1 + rand() * 0.002);
    const low = Math.min(open, close) * (1 - rand() * 0.002);
    out.push({ openTime: start + i * step, open, high, low, close, volume: 1 + rand() * 10 });
  }
  return out;
}

/** The features of candle i, computed from the arrays with no running state. */
function reference(c: FeatureCandle[], i: number): Record<string, number> {
  const close = (k: number) => c[i - k]!.close;
  const rets = Array.from({ length: 15 }, (_, k) => Math.log(close(k) / close(k + 1)));
  const changes = Array.from({ length: 14 }, (_, k) => (close(k) - close(k + 1)) / close(k + 1));
  const gains = changes.filter((x) => x > 0).reduce((a, b) => a + b, 0);
  const losses = -changes.filter((x) => x < 0).reduce((a, b) => a + b, 0);
  const vols = Array.from({ length: 20 }, (_, k) => c[i - k]!.volume);
  const mean = vols.reduce((a, b) => a + b, 0) / 20;
  const sd = Math.sqrt(vols.reduce((a, b) => a + (b - mean) ** 2, 0) / 20);
  const k = c[i]!;
  return {
    return_1: rets[0]!,
    return_5: Math.log(close(0) / close(5)),
    return_15: Math.log(close(0) / close(15)),
    volatility_15: Math.sqrt(rets.reduce((a, b) => a + b * b, 0) / 15),
    rsi_14: gains + losses === 0 ? 0 : (gains - losses) / (gains + losses),
    volume_z_20: sd === 0 ? 0 : (k.volume - mean) / sd,
    range_1: Math.log(k.high / k.low),
    close_position: k.high === k.low ? 0 : ((k.close - k.low) / (k.high - k.low)) * 2 - 1,
    book_imbalance: 0,
  };
}

t.test('every feature equals the direct computation, candle after candle', async (t) => {
  const c = candles(400);
  // A flat candle and a stretch of equal volumes: the 0 branches.
  c[100] = { ...c[100]!, open: c[99]!.close, high: c[99]!.close, low: c[99]!.close, close: c[99]!.close };
  for (let i = 150; i < 175; i++) c[i] = { ...c[i]!, volume: 5 };
  const pipe = new FeaturePipeline(FEATURE_NAMES, '1m');
  let checked = 0;
  let worst = 0;
  for (let i = 0; i < c.length; i++) {
    const v = pipe.push(c[i]!);
    if (i < WARMUP_CANDLES - 1) {
      t.equal(v, undefined, `no vector before ${WARMUP_CANDLES} candles (candle ${i + 1})`);
      continue;
    }
    t.ok(v, `a vector from candle ${WARMUP_CANDLES}`);
    const ref = reference(c, i);
    FEATURE_NAMES.forEach((name, j) => {
      const want = Math.fround(ref[name]!);
      const diff = Math.abs(v![j]! - want);
      worst = Math.max(worst, diff / Math.max(1e-6, Math.abs(want)));
      if (diff > 1e-6 * Math.max(1, Math.abs(want))) t.fail(`${name} at candle ${i}: ${v![j]} vs ${want}`);
    });
    checked++;
  }
  t.equal(checked, c.length - WARMUP_CANDLES + 1);
  t.ok(worst < 1e-5, `worst relative difference ${worst}`);
  t.equal(pipe.push({ ...c[0]!, openTime: c.at(-1)!.openTime + 60_000, volume: 5, high: 1, low: 1, open: 1, close: 1 })![FEATURE_NAMES.indexOf('close_position')], 0, 'a flat candle sits at 0');
});

t.test('two pipelines that saw the same last candles agree bit for bit, whatever their age', async (t) => {
  const c = candles(300, 11);
  const old = new FeaturePipeline(FEATURE_NAMES, '1m');
  const young = new FeaturePipeline(FEATURE_NAMES, '1m');
  const outOld: number[][] = [];
  const outYoung: number[][] = [];
  for (let i = 0; i < c.length; i++) {
    const a = old.push(c[i]!);
    if (i >= 200) {
      const b = young.push(c[i]!);
      if (a && b) {
        outOld.push([...a]);
        outYoung.push([...b]);
      }
    }
  }
  // After a full window plus one re-summing of each window, the states are the same function of the last candles.
  t.same(outOld.slice(-40), outYoung.slice(-40));
  t.ok(outYoung.length >= 60);
});

t.test('book imbalance is included when given, and the order of names is the model\'s', async (t) => {
  const c = candles(30);
  const pipe = new FeaturePipeline(['book_imbalance', 'return_1'], '1m');
  let v: Float32Array | undefined;
  for (const k of c) v = pipe.push(k, { bookImbalance: 0.25 });
  t.equal(v!.length, 2);
  t.equal(v![0], 0.25);
  t.equal(v![1], Math.fround(Math.log(c[29]!.close / c[28]!.close)));
  t.equal(bookImbalance([[10, 3], [9, 1]], [[11, 1], [12, 1]]), (4 - 2) / 6);
  t.equal(bookImbalance([], []), 0);
  t.equal(bookImbalance([[10, 1], [9, 100]], [[11, 1], [12, 100]], 1), 0, 'only the top levels count');
});

t.test('bad candles are refused with a message', async (t) => {
  const pipe = new FeaturePipeline(FEATURE_NAMES, '1m');
  const c = candles(2);
  pipe.push(c[1]!);
  t.throws(() => pipe.push(c[0]!), /not after the last one/);
  t.throws(() => pipe.push({ ...c[1]!, openTime: c[1]!.openTime + 60_000, close: Number.NaN }), /close must be a positive number/);
  t.throws(() => pipe.push({ ...c[1]!, openTime: c[1]!.openTime + 60_000, volume: -1 }), /volume must be a number ≥ 0/);
  t.throws(() => new FeaturePipeline(FEATURE_NAMES, '7m'), /unknown kline interval/);
});

t.test('candle indexes are consecutive for consecutive candles', async (t) => {
  t.equal(candleIndex('1m', 120_000) - candleIndex('1m', 60_000), 1);
  t.equal(candleIndex('1s', 5_000), 5);
  t.equal(candleIndex('1M', Date.UTC(2025, 1, 1)) - candleIndex('1M', Date.UTC(2025, 0, 1)), 1);
  t.equal(candleIndex('1M', Date.UTC(2025, 0, 1)) - candleIndex('1M', Date.UTC(2024, 11, 1)), 1);
});
