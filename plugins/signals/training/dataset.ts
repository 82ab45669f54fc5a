// Candles → rows of features with the next candle's outcome: the training and evaluation data.
import { FeaturePipeline, type FeatureCandle, type FeatureName } from '../features.js';

export interface Dataset {
  features: readonly FeatureName[];
  rows: number;
  /** rows × features, row-major, as the live pipeline computes them (float32). */
  x: Float32Array;
  /** Log return of the next candle: ln(next close / close). */
  nextReturn: Float64Array;
  /** Log return of the candle itself (for the last-return baseline). */
  lastReturn: Float64Array;
  /** Open time of each row's candle. */
  candleTime: Float64Array;
}

/**
 * Every candle with a full feature vector and a next candle becomes a row. The pipeline restarts after a gap in
 * the candles (a missing candle would make the windows span more time than they say).
 */
export function buildDataset(candles: readonly FeatureCandle[], features: readonly FeatureName[], interval: string, intervalMs: number): Dataset {
  const f = features.length;
  const x = new Float32Array(candles.length * f);
  const nextReturn = new Float64Array(candles.length);
  const lastReturn = new Float64Array(candles.length);
  const candleTime = new Float64Array(candles.length);
  let pipe = new FeaturePipeline(features, interval);
  let rows = 0;
  const v = new Float32Array(f);
  for (let i = 0; i < candles.length - 1; i++) {
    const c = candles[i]!;
    if (i > 0 && c.openTime - candles[i - 1]!.openTime !== intervalMs) pipe = new FeaturePipeline(features, interval);
    const out = pipe.push(c, {}, v);
    const next = candles[i + 1]!;
    if (!out || next.openTime - c.openTime !== intervalMs) continue;
    x.set(out, rows * f);
    nextReturn[rows] = Math.log(next.close / c.close);
    lastReturn[rows] = i > 0 ? Math.log(c.close / candles[i - 1]!.close) : 0;
    candleTime[rows] = c.openTime;
    rows++;
  }
  return { features, rows, x: x.slice(0, rows * f), nextReturn: nextReturn.slice(0, rows), lastReturn: lastReturn.slice(0, rows), candleTime: candleTime.slice(0, rows) };
}

/** Class of a next-candle return: 0 down, 1 flat, 2 up (the order of LABELS), with a flat band of ±threshold. */
export function labelsOf(nextReturn: Float64Array, threshold: number): Uint8Array {
  return Uint8Array.from(nextReturn, (r) => (r > threshold ? 2 : r < -threshold ? 0 : 1));
}

/** The threshold that puts about a third of the returns in the flat band. */
export function balancedThreshold(nextReturn: Float64Array): number {
  const abs = Float64Array.from(nextReturn, Math.abs).sort();
  return abs[Math.floor(abs.length / 3)] ?? 0;
}
