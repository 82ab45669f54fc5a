// The model contract: the ONNX file's output equals the TypeScript model's; mismatched files are refused, naming the difference.
import t from 'tap';
import onnxProto from 'onnx-proto';
import { KLINE_FEATURES } from '../../../plugins/signals/features.js';
import { META, ModelContractError, SignalModel, checkModelServes } from '../../../plugins/signals/model.js';
import { predictProba } from '../../../plugins/signals/training/logistic-regression.js';
import { signalData } from '../../../plugins/signals/signal.js';
import { prng } from '../../../sim/market-model.js';
import { edited, failingModel, setMeta, trainedModel } from './model-files.js';

const { onnx } = onnxProto;

function inputs(rows: number, f: number, seed = 3): Float32Array {
  const rand = prng(seed);
  return Float32Array.from({ length: rows * f }, () => (rand() - 0.5) * 0.02);
}

t.test('the ONNX model\'s probabilities equal the TypeScript model\'s to 1e-5, in batches and one row at a time', async (t) => {
  const { bytes, model } = trainedModel();
  const m = await SignalModel.load(bytes);
  t.teardown(() => m.release());
  t.equal(m.id, 'test-model@1');
  t.same(m.info.features, KLINE_FEATURES);
  t.same(m.info.intervals, ['1s', '1m']);
  const f = KLINE_FEATURES.length;
  const x = inputs(500, f);
  const onnxOut = await m.predict(x, 500);
  const tsOut = predictProba(model, x, 500);
  let worst = 0;
  for (let i = 0; i < tsOut.length; i++) worst = Math.max(worst, Math.abs(onnxOut[i]! - tsOut[i]!));
  t.ok(worst < 1e-5, `largest difference ${worst}`);
  const one = await m.predict(x.subarray(f * 7, f * 8), 1);
  t.ok(Math.abs(one[2]! - tsOut[7 * 3 + 2]!) < 1e-5, 'a single row too');
  // The probabilities really depend on the input (a model that ignored it would pass the comparison above).
  t.not(onnxOut[0], onnxOut[3]);
});

t.test('a model whose columns are in another label order is read by label', async (t) => {
  const straight = trainedModel();
  const swapped = trainedModel({ labels: ['up', 'down', 'flat'] });
  const a = await SignalModel.load(straight.bytes);
  const b = await SignalModel.load(swapped.bytes);
  t.teardown(async () => {
    await a.release();
    await b.release();
  });
  const x = inputs(20, KLINE_FEATURES.length, 9);
  const pa = await a.predict(x, 20);
  const pb = await b.predict(x, 20);
  for (let i = 0; i < pa.length; i++) if (Math.abs(pa[i]! - pb[i]!) > 1e-6) t.fail(`column ${i % 3} differs`);
  t.same(b.info.labels, ['up', 'down', 'flat']);
});

t.test('mismatched models are refused with the difference named', async (t) => {
  const { bytes } = trainedModel();
  const refused = async (b: Uint8Array, re: RegExp, what: string) => {
    await t.rejects(SignalModel.load(b), { name: 'ModelContractError', message: re }, what);
  };
  await refused(new Uint8Array([1, 2, 3, 4, 5]), /not an ONNX model/, 'bytes that are not a model');
  await refused(setMeta(bytes, META.version, undefined), /"tickgate.version" .* is missing/, 'no version');
  await refused(setMeta(bytes, META.features, JSON.stringify([...KLINE_FEATURES.slice(0, -1), 'moon_phase'])), /does not compute: moon_phase/, 'an unknown feature');
  await refused(setMeta(bytes, META.features, JSON.stringify(KLINE_FEATURES.slice(0, -1))), /must have shape \[batch, 7\] for the 7 features .* it has \[batch, 8\]/, 'fewer features named than the input takes');
  await refused(setMeta(bytes, META.labels, JSON.stringify(['down', 'up', 'sideways'])), /missing: flat.*unknown: sideways/, 'wrong labels');
  await refused(setMeta(bytes, META.features, 'return_1,return_5'), /"tickgate.features" is not JSON/, 'a list that is not JSON');
  await refused(setMeta(bytes, META.intervals, JSON.stringify([])), /"tickgate.intervals" must be a non-empty JSON list/, 'no intervals');
  await refused(setMeta(bytes, META.features, JSON.stringify(['return_1', 'return_1', ...KLINE_FEATURES.slice(2)])), /names "return_1" twice/, 'a repeated feature');
  await refused(edited(bytes, (m) => {
    const out = m.graph!.output![0]!.type!.tensorType!.shape!.dim!;
    out[1] = onnx.TensorShapeProto.Dimension.create({ dimValue: 2 });
  }), /output "probabilities" must have shape \[batch, 3\] for the labels down, flat, up/, 'an output of the wrong width');
  await refused(edited(bytes, (m) => {
    m.graph!.input![0]!.type!.tensorType!.elemType = onnx.TensorProto.DataType.DOUBLE;
  }), /onnxruntime refused the model: .*Gemm.*bound to different types/, 'a double input (the graph no longer type-checks)');
  await refused(edited(bytes, (m) => {
    m.graph!.input![0]!.type!.tensorType!.shape!.dim![0] = onnx.TensorShapeProto.Dimension.create({ dimValue: 1 });
    m.graph!.output![0]!.type!.tensorType!.shape!.dim![0] = onnx.TensorShapeProto.Dimension.create({ dimValue: 1 });
  }), /must have a free batch dimension .*not 1/, 'a fixed batch of one');
  await refused(edited(bytes, (m) => {
    // Logits out: the softmax dropped, the linear layer writes the output.
    m.graph!.node = m.graph!.node!.filter((n) => n.opType !== 'Softmax');
    m.graph!.node[0]!.output = ['probabilities'];
  }), /must be probabilities .*\(a softmax may be missing\)/, 'logits instead of probabilities');
  t.throws(() => checkModelServes({ name: 'x', version: '1', intervals: ['1m'] }, ['1m', '5m']), new ModelContractError('the configured interval(s) 5m are not among the model\'s (1m): set plugins.signals.intervals to those the model was made for, or use a model made for 5m'));
});

t.test('a model that cannot run on real features fails at predict, with a message', async (t) => {
  const m = await SignalModel.load(failingModel());
  t.teardown(() => m.release());
  await t.rejects(m.predict(inputs(1, KLINE_FEATURES.length), 1), /not a number/);
  await t.rejects(m.predict(new Float32Array(3), 1), /expected 1 × 8 features/);
  const nan = new Float32Array(KLINE_FEATURES.length);
  nan[2] = Number.NaN;
  await t.rejects(m.predict(nan, 1), /feature return_15 is not finite/);
});

t.test('signal data: the most probable outcome, hold below the confidence floor', async (t) => {
  const o = { symbol: 'BTCUSDT', interval: '1m', model: 'm@1', candleTime: 60_000, timestamp: 120_000, minConfidence: 0 };
  t.match(signalData(Float32Array.of(0.2, 0.3, 0.5), 0, o), { action: 'buy', confidence: 0.5, probabilities: { down: 0.2, flat: 0.3, up: 0.5 } });
  t.match(signalData(Float32Array.of(0.6, 0.3, 0.1), 0, o), { action: 'sell', confidence: 0.6 });
  t.match(signalData(Float32Array.of(0.3, 0.4, 0.3), 0, o), { action: 'hold', confidence: 0.4 });
  t.match(signalData(Float32Array.of(0.2, 0.3, 0.5), 0, { ...o, minConfidence: 0.55 }), { action: 'hold', confidence: 0.5 });
});
