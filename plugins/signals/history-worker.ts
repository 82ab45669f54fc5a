// The signal history pool's worker (piscina): checks model files and scores candle history in batches, off the
// acceptor thread and off the shards' live path.
import { FEATURE_NAMES, FeaturePipeline } from './features.js';
import { ModelContractError, SignalModel, checkModelServes, type ModelInfo } from './model.js';
import { signalData, type SignalData } from './signal.js';

export type HistoryTask =
  | { op: 'check'; bytes: Uint8Array; intervals: string[] }
  | {
      op: 'history';
      model: { sha256: string; bytes: Uint8Array };
      symbol: string;
      interval: string;
      /** [openTime, open, high, low, close, volume] × n, oldest first, closed candles only. */
      candles: Float64Array;
      limit: number;
      minConfidence: number;
    };

export type CheckResult = { ok: true; info: ModelInfo } | { ok: false; message: string };

/** The history's signals, serialised here as JSON (a list of SignalData), so that the acceptor thread only sends it. */
export interface HistoryResult {
  count: number;
  json: string;
}

/** Sessions by the file's hash: the current model and, during a reload, the one before. */
const sessions = new Map<string, Promise<SignalModel>>();

function session(sha256: string, bytes: Uint8Array): Promise<SignalModel> {
  let s = sessions.get(sha256);
  if (!s) {
    s = SignalModel.load(bytes);
    sessions.set(sha256, s);
    s.catch(() => sessions.delete(sha256));
    while (sessions.size > 2) {
      const [oldest, old] = sessions.entries().next().value!;
      sessions.delete(oldest);
      void old.then((m) => m.release()).catch(() => undefined);
    }
  }
  return s;
}

export default async function run(task: HistoryTask): Promise<CheckResult | HistoryResult> {
  if (task.op === 'check') {
    try {
      const model = await SignalModel.load(task.bytes);
      try {
        checkModelServes(model.info, task.intervals);
        return { ok: true, info: model.info };
      } finally {
        await model.release();
      }
    } catch (err) {
      if (err instanceof ModelContractError) return { ok: false, message: err.message };
      throw err;
    }
  }
  const model = await session(task.model.sha256, task.model.bytes);
  const pipe = new FeaturePipeline(FEATURE_NAMES, task.interval);
  const f = model.info.features.length;
  const columns = model.info.features.map((n) => FEATURE_NAMES.indexOf(n));
  const rows: number[] = [];
  const c = task.candles;
  const x = new Float32Array((c.length / 6) * f);
  let n = 0;
  for (let i = 0; i < c.length; i += 6) {
    const v = pipe.push({ openTime: c[i]!, open: c[i + 1]!, high: c[i + 2]!, low: c[i + 3]!, close: c[i + 4]!, volume: c[i + 5]! });
    if (!v) continue;
    for (let j = 0; j < f; j++) x[n * f + j] = v[columns[j]!]!;
    rows.push(c[i]!);
    n++;
  }
  const first = Math.max(0, n - task.limit);
  const count = n - first;
  if (count === 0) return { count: 0, json: '[]' };
  // One batched run for the whole history.
  const probs = await model.predict(x.subarray(first * f, n * f), count);
  const now = Date.now();
  const out: SignalData[] = [];
  for (let r = 0; r < count; r++) {
    out.push(signalData(probs, r, { symbol: task.symbol, interval: task.interval, model: model.id, candleTime: rows[first + r]!, timestamp: now, minConfidence: task.minConfidence }));
  }
  return { count, json: JSON.stringify(out) };
}
