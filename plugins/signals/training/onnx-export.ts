// Writes a logistic model as an ONNX file (onnx-proto): Gemm then Softmax, the contract in its metadata.
import onnxProto from 'onnx-proto';
import type { LogisticModel } from './logistic-regression.js';
import { META, type Label } from '../model.js';
import type { FeatureName } from '../features.js';

const { onnx } = onnxProto;

export interface ExportMeta {
  name: string;
  version: string;
  features: readonly FeatureName[];
  labels: readonly Label[];
  intervals: readonly string[];
  /** More metadata (what the model was trained on, its held-out figures), stored as strings. */
  extra?: Record<string, string>;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;

/** The ONNX bytes: input "features" float32 [batch, F], output "probabilities" float32 [batch, C]. */
export function exportLogisticOnnx(m: LogisticModel, meta: ExportMeta): Uint8Array {
  if (meta.features.length !== m.features) throw new Error(`${meta.features.length} feature names for a model of ${m.features} features`);
  if (meta.labels.length !== m.classes) throw new Error(`${meta.labels.length} labels for a model of ${m.classes} classes`);
  const tensorType = (dims: Array<number | string>) => ({
    tensorType: {
      elemType: FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'tickgate model:train',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: `${meta.name}@${meta.version}`,
      input: [{ name: 'features', type: tensorType(['batch', m.features]) }],
      output: [{ name: 'probabilities', type: tensorType(['batch', m.classes]) }],
      initializer: [
        { name: 'W', dims: [m.features, m.classes], dataType: FLOAT, floatData: Array.from(m.weights) },
        { name: 'B', dims: [m.classes], dataType: FLOAT, floatData: Array.from(m.bias) },
      ],
      node: [
        { opType: 'Gemm', input: ['features', 'W', 'B'], output: ['logits'], name: 'linear' },
        { opType: 'Softmax', input: ['logits'], output: ['probabilities'], name: 'softmax', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      ],
    },
    metadataProps: [
      { key: META.name, value: meta.name },
      { key: META.version, value: meta.version },
      { key: META.features, value: JSON.stringify(meta.features) },
      { key: META.labels, value: JSON.stringify(meta.labels) },
      { key: META.intervals, value: JSON.stringify(meta.intervals) },
      ...Object.entries(meta.extra ?? {}).map(([key, value]) => ({ key, value })),
    ],
  });
  const problem = onnx.ModelProto.verify(model);
  if (problem) throw new Error(`ONNX model not valid: ${problem}`);
  return onnx.ModelProto.encode(model).finish();
}

/** The logistic model as the ONNX file computes it: weights rounded to float32 as the file stores them. */
export function asStored(m: LogisticModel): LogisticModel {
  return { ...m, weights: Float64Array.from(Float32Array.from(m.weights)), bias: Float64Array.from(Float32Array.from(m.bias)) };
}
