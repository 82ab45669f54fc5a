// A signal model: an ONNX file whose metadata states the contract (features, labels, intervals, version), checked before it serves.
import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { FEATURE_NAMES, isFeatureName, type FeatureName } from './features.js';

const { onnx } = onnxProto;

/** The three outcomes a model scores, in the order the signal frame reports them. */
export const LABELS = ['down', 'flat', 'up'] as const;
export type Label = (typeof LABELS)[number];

/** The metadata keys of the contract (ONNX metadata_props). */
export const META = {
  name: 'tickgate.model',
  version: 'tickgate.version',
  features: 'tickgate.features',
  labels: 'tickgate.labels',
  intervals: 'tickgate.intervals',
} as const;

export interface ModelInfo {
  name: string;
  version: string;
  features: FeatureName[];
  /** The model's output columns, by label. */
  labels: Label[];
  /** The kline intervals the model was made for. */
  intervals: string[];
  /** The other metadata the file carries (what it was trained on, its held-out figures…), as strings. */
  extra: Record<string, string>;
  inputName: string;
  outputName: string;
  sha256: string;
}

/** A model file that breaks the contract; the message names the difference. */
export class ModelContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelContractError';
  }
}

function jsonList(meta: Map<string, string>, key: string): string[] {
  const raw = meta.get(key);
  if (raw === undefined) throw new ModelContractError(`metadata "${key}" is missing (a JSON list of strings)`);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new ModelContractError(`metadata "${key}" is not JSON: ${JSON.stringify(raw.slice(0, 80))}`);
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) throw new ModelContractError(`metadata "${key}" must be a non-empty JSON list of strings`);
  const dup = v.find((s, i) => v.indexOf(s) !== i);
  if (dup !== undefined) throw new ModelContractError(`metadata "${key}" names "${dup}" twice`);
  return v as string[];
}

/** Reads and checks the contract in the file's metadata (before any session is made). */
export function readContract(bytes: Uint8Array): Omit<ModelInfo, 'inputName' | 'outputName'> {
  let proto: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelContractError(`not an ONNX model: ${err instanceof Error ? err.message : String(err)}`);
  }
  const meta = new Map<string, string>();
  for (const p of proto.metadataProps ?? []) if (p.key) meta.set(p.key, p.value ?? '');
  const name = meta.get(META.name);
  const version = meta.get(META.version);
  if (!name) throw new ModelContractError(`metadata "${META.name}" (the model's name) is missing`);
  if (!version) throw new ModelContractError(`metadata "${META.version}" (the model's version) is missing`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name) || !/^[A-Za-z0-9._+-]{1,64}$/.test(version)) throw new ModelContractError('the model\'s name and version may hold letters, digits, ".", "_", "-" (version also "+"), 64 at most');
  const features = jsonList(meta, META.features);
  const unknown = features.filter((f) => !isFeatureName(f));
  if (unknown.length) throw new ModelContractError(`the model takes feature(s) the pipeline does not compute: ${unknown.join(', ')} (known: ${FEATURE_NAMES.join(', ')})`);
  const labels = jsonList(meta, META.labels);
  const missing = LABELS.filter((l) => !labels.includes(l));
  const extraLabels = labels.filter((l) => !(LABELS as readonly string[]).includes(l));
  if (missing.length || extraLabels.length) {
    throw new ModelContractError(`the labels must be ${LABELS.join(', ')} in any order; the model has ${labels.join(', ')}${missing.length ? ` (missing: ${missing.join(', ')})` : ''}${extraLabels.length ? ` (unknown: ${extraLabels.join(', ')})` : ''}`);
  }
  const intervals = jsonList(meta, META.intervals);
  const extra: Record<string, string> = {};
  for (const [k, v] of meta) if (!(Object.values(META) as string[]).includes(k)) extra[k] = v;
  return {
    name,
    version,
    features: features as FeatureName[],
    labels: labels as Label[],
    intervals,
    extra,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

type Dim = number | string;

function shapeText(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

/** A loaded model: checked against the contract and ready to run. */
export class SignalModel {
  private constructor(
    readonly info: ModelInfo,
    private readonly session: ort.InferenceSession,
    /** For each of LABELS, its column in the model's output. */
    private readonly columns: readonly number[],
  ) {}

  /**
   * Loads and checks a model: the metadata, then the session's input (one float tensor [batch, features]) and
   * output (a float tensor [batch, labels]). Throws ModelContractError naming the first difference.
   */
  static async load(bytes: Uint8Array): Promise<SignalModel> {
    const contract = readContract(bytes);
    let session: ort.InferenceSession;
    try {
      // One thread per session (a shard is one thread of many); onnxruntime's own warnings stay out of the log.
      session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    } catch (err) {
      throw new ModelContractError(`onnxruntime refused the model: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    try {
      if (session.inputNames.length !== 1) throw new ModelContractError(`the model must have one input (the feature matrix); it has ${session.inputNames.length}: ${session.inputNames.join(', ')}`);
      const input = session.inputMetadata[0]!;
      if (!input.isTensor || input.type !== 'float32') throw new ModelContractError(`input "${input.name}" must be a float32 tensor; it is ${input.isTensor ? input.type : 'not a tensor'}`);
      const inShape = input.shape as readonly Dim[];
      if (inShape.length !== 2 || inShape[1] !== contract.features.length) {
        throw new ModelContractError(`input "${input.name}" must have shape [batch, ${contract.features.length}] for the ${contract.features.length} features the metadata names; it has ${shapeText(inShape)}`);
      }
      if (typeof inShape[0] === 'number') throw new ModelContractError(`input "${input.name}" must have a free batch dimension (a name such as "batch", not ${inShape[0]}): history scores many candles in one run`);
      const outIndex = session.outputNames.includes('probabilities') ? session.outputNames.indexOf('probabilities') : 0;
      const output = session.outputMetadata[outIndex]!;
      if (!output.isTensor || output.type !== 'float32') throw new ModelContractError(`output "${output.name}" must be a float32 tensor of probabilities; it is ${output.isTensor ? output.type : 'not a tensor'}`);
      const outShape = output.shape as readonly Dim[];
      if (outShape.length !== 2 || outShape[1] !== contract.labels.length) {
        throw new ModelContractError(`output "${output.name}" must have shape [batch, ${contract.labels.length}] for the labels ${contract.labels.join(', ')}; it has ${shapeText(outShape)}`);
      }
      const info: ModelInfo = { ...contract, inputName: input.name, outputName: output.name };
      const model = new SignalModel(info, session, LABELS.map((l) => contract.labels.indexOf(l)));
      // A run of two rows of zeros: a model that cannot run, or whose output is not probabilities, fails here and
      // not on the first candle.
      let probe: Float32Array;
      try {
        probe = await model.predict(new Float32Array(contract.features.length * 2), 2);
      } catch (err) {
        throw new ModelContractError(`the model fails on a batch of two zero feature vectors: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      for (let r = 0; r < 2; r++) {
        const row = [probe[r * 3]!, probe[r * 3 + 1]!, probe[r * 3 + 2]!];
        const sum = row[0]! + row[1]! + row[2]!;
        if (row.some((p) => p < 0 || p > 1) || Math.abs(sum - 1) > 1e-3) {
          throw new ModelContractError(`output "${output.name}" must be probabilities (each in [0, 1], each row summing to 1); on zero features it gives ${row.map((p) => p.toPrecision(4)).join(', ')} (a softmax may be missing)`);
        }
      }
      // And one single row, the live path's shape: its first run is slow (memory planning), and not on a candle.
      await model.predict(new Float32Array(contract.features.length), 1).catch(() => undefined);
      return model;
    } catch (err) {
      await session.release().catch(() => undefined);
      throw err;
    }
  }

  /** The model's name@version, as signal frames carry it. */
  get id(): string {
    return `${this.info.name}@${this.info.version}`;
  }

  /**
   * Runs `rows` feature vectors (row-major, features in the model's order); returns rows × 3 probabilities in the
   * order of LABELS (down, flat, up), whatever the model's column order.
   */
  async predict(features: Float32Array, rows: number): Promise<Float32Array> {
    const f = this.info.features.length;
    if (features.length !== rows * f) throw new Error(`expected ${rows} × ${f} features, got ${features.length}`);
    for (let i = 0; i < features.length; i++) if (!Number.isFinite(features[i]!)) throw new Error(`feature ${this.info.features[i % f]} is not finite (${features[i]})`);
    const out = await this.session.run({ [this.info.inputName]: new ort.Tensor('float32', features, [rows, f]) }, [this.info.outputName]);
    const tensor = out[this.info.outputName]!;
    const data = tensor.data as Float32Array;
    const n = this.info.labels.length;
    if (tensor.type !== 'float32' || data.length !== rows * n) throw new Error(`the model's output has ${data.length} values of ${tensor.type}; expected ${rows} × ${n} float32`);
    const result = new Float32Array(rows * 3);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < 3; k++) {
        const p = data[r * n + this.columns[k]!]!;
        if (!Number.isFinite(p)) throw new Error(`the model's output for ${LABELS[k]} is not a number (${p})`);
        result[r * 3 + k] = p;
      }
    }
    tensor.dispose();
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Checks that a model serves what the deployment asks of it; throws ModelContractError naming the difference. */
export function checkModelServes(info: Pick<ModelInfo, 'intervals' | 'name' | 'version'>, intervals: readonly string[]): void {
  const missing = intervals.filter((i) => !info.intervals.includes(i));
  if (missing.length) {
    throw new ModelContractError(`the configured interval(s) ${missing.join(', ')} are not among the model's (${info.intervals.join(', ')}): set plugins.signals.intervals to those the model was made for, or use a model made for ${missing.join(', ')}`);
  }
}
