// Test models: trained on simulated candles, written by the product's own ONNX export, and edited to break the contract.
import onnxProto from 'onnx-proto';
import { KLINE_FEATURES, type FeatureName } from '../../../plugins/signals/features.js';
import { LABELS, type Label } from '../../../plugins/signals/model.js';
import { trainLogistic, type LogisticModel } from '../../../plugins/signals/training/logistic-regression.js';
import { asStored, exportLogisticOnnx } from '../../../plugins/signals/training/onnx-export.js';
import { buildDataset, balancedThreshold, labelsOf } from '../../../plugins/signals/training/dataset.js';
import { DEFAULT_SYMBOLS, simulateCandles } from '../../../sim/market-model.js';

const { onnx } = onnxProto;

export interface TestModel {
  bytes: Uint8Array;
  model: LogisticModel;
}

/** A small model trained on simulated 1s candles, made for `intervals`. */
export function trainedModel(o: { version?: string; intervals?: string[]; features?: readonly FeatureName[]; labels?: readonly Label[]; seed?: number } = {}): TestModel {
  const features = o.features ?? KLINE_FEATURES;
  const candles = simulateCandles(DEFAULT_SYMBOLS[0]!, '1s', 3000, o.seed ?? 5);
  const d = buildDataset(candles, features, '1s', 1000);
  const y = labelsOf(d.nextReturn, balancedThreshold(d.nextReturn));
  const model = asStored(trainLogistic(d.x, y, d.rows, features.length, 3, { iterations: 60 }));
  const labels = o.labels ?? LABELS;
  // The model's columns follow `labels`: reorder the trained columns (down, flat, up) to them.
  const perm = labels.map((l) => LABELS.indexOf(l));
  const w = new Float64Array(model.weights.length);
  const b = new Float64Array(3);
  for (let j = 0; j < features.length; j++) for (let c = 0; c < 3; c++) w[j * 3 + c] = model.weights[j * 3 + perm[c]!]!;
  for (let c = 0; c < 3; c++) b[c] = model.bias[perm[c]!]!;
  const bytes = exportLogisticOnnx({ ...model, weights: w, bias: b }, { name: 'test-model', version: o.version ?? '1', features, labels, intervals: o.intervals ?? ['1s', '1m'] });
  return { bytes, model };
}

/** The model with its protobuf edited by `edit`. */
export function edited(bytes: Uint8Array, edit: (m: ReturnType<typeof onnx.ModelProto.decode>) => void): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  edit(m);
  return onnx.ModelProto.encode(m).finish();
}

export function setMeta(bytes: Uint8Array, key: string, value: string | undefined): Uint8Array {
  return edited(bytes, (m) => {
    m.metadataProps = m.metadataProps.filter((p) => p.key !== key);
    if (value !== undefined) m.metadataProps.push(onnx.StringStringEntryProto.create({ key, value }));
  });
}

/**
 * A model that loads and passes the probe on zeros but returns NaN for any non-zero feature: sqrt(−|x|) before
 * the linear layer. Its inference fails on every live candle.
 */
export function failingModel(intervals = ['1s', '1m']): Uint8Array {
  const good = trainedModel({ intervals, version: 'broken' }).bytes;
  return edited(good, (m) => {
    const g = m.graph!;
    g.node!.unshift(
      onnx.NodeProto.create({ opType: 'Abs', input: ['features'], output: ['abs'], name: 'abs' }),
      onnx.NodeProto.create({ opType: 'Neg', input: ['abs'], output: ['negabs'], name: 'neg' }),
      onnx.NodeProto.create({ opType: 'Sqrt', input: ['negabs'], output: ['root'], name: 'sqrt' }),
    );
    const gemm = g.node!.find((n) => n.opType === 'Gemm')!;
    gemm.input![0] = 'root';
  });
}
