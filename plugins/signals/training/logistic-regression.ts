// Multinomial logistic regression in TypeScript: trained by full-batch gradient descent (Adam) with L2, on standardised features.

export interface LogisticModel {
  /** Weights on the raw (unstandardised) features, row-major [features][classes]: standardisation is folded in. */
  weights: Float64Array;
  bias: Float64Array;
  features: number;
  classes: number;
}

export interface TrainOptions {
  iterations?: number;
  learningRate?: number;
  /** L2 penalty on the standardised weights. */
  l2?: number;
}

/** Softmax of x·W + b for each row of `x` (rows × features); returns rows × classes, in float64. */
export function predictProba(m: LogisticModel, x: ArrayLike<number>, rows: number): Float64Array {
  const { features: f, classes: k } = m;
  const out = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let z = m.bias[c]!;
      for (let j = 0; j < f; j++) z += x[r * f + j]! * m.weights[j * k + c]!;
      out[r * k + c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(out[r * k + c]! - max);
      out[r * k + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) out[r * k + c]! /= sum;
  }
  return out;
}

/**
 * Fits the model to rows of `x` (rows × features) with labels `y` (class indexes). Deterministic: weights start at
 * zero and the data is not shuffled.
 */
export function trainLogistic(x: Float64Array | Float32Array, y: Uint8Array, rows: number, features: number, classes: number, o: TrainOptions = {}): LogisticModel {
  const iterations = o.iterations ?? 400;
  const lr = o.learningRate ?? 0.05;
  const l2 = o.l2 ?? 1e-3;
  // Standardise: the optimiser sees unit-scale features; the result is folded back to raw ones.
  const mean = new Float64Array(features);
  const std = new Float64Array(features);
  for (let r = 0; r < rows; r++) for (let j = 0; j < features; j++) mean[j]! += x[r * features + j]! / rows;
  for (let r = 0; r < rows; r++) for (let j = 0; j < features; j++) std[j]! += (x[r * features + j]! - mean[j]!) ** 2 / rows;
  for (let j = 0; j < features; j++) std[j] = Math.sqrt(std[j]!) || 1;
  const xs = new Float64Array(rows * features);
  for (let r = 0; r < rows; r++) for (let j = 0; j < features; j++) xs[r * features + j] = (x[r * features + j]! - mean[j]!) / std[j]!;

  const w = new Float64Array(features * classes);
  const b = new Float64Array(classes);
  const n = w.length + b.length;
  const m1 = new Float64Array(n);
  const m2 = new Float64Array(n);
  const grad = new Float64Array(n);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const model: LogisticModel = { weights: w, bias: b, features, classes };
  for (let it = 1; it <= iterations; it++) {
    grad.fill(0);
    const p = predictProba(model, xs, rows);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < classes; c++) {
        const d = (p[r * classes + c]! - (y[r] === c ? 1 : 0)) / rows;
        for (let j = 0; j < features; j++) grad[j * classes + c]! += d * xs[r * features + j]!;
        grad[w.length + c]! += d;
      }
    }
    for (let i = 0; i < w.length; i++) grad[i]! += l2 * w[i]!;
    for (let i = 0; i < n; i++) {
      m1[i] = beta1 * m1[i]! + (1 - beta1) * grad[i]!;
      m2[i] = beta2 * m2[i]! + (1 - beta2) * grad[i]! * grad[i]!;
      const step = (lr * (m1[i]! / (1 - beta1 ** it))) / (Math.sqrt(m2[i]! / (1 - beta2 ** it)) + 1e-8);
      if (i < w.length) w[i]! -= step;
      else b[i - w.length]! -= step;
    }
  }
  // Fold the standardisation in: z = Σ (x − μ)/σ · w + b = Σ x · (w/σ) + (b − Σ μ w/σ).
  const weights = new Float64Array(features * classes);
  const bias = Float64Array.from(b);
  for (let j = 0; j < features; j++) {
    for (let c = 0; c < classes; c++) {
      weights[j * classes + c] = w[j * classes + c]! / std[j]!;
      bias[c]! -= (mean[j]! * w[j * classes + c]!) / std[j]!;
    }
  }
  return { weights, bias, features, classes };
}
