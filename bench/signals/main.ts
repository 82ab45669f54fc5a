// `npm run bench:signals`: what signals cost. (1) Inference per candle in-process: the feature update and one model
// run of the shipped model, p50/p99. (2) The fan-out's latency with and without signal work on the same gateway:
// 20 open signals:SYM:1s channels (a model run per symbol per second) and 1000-candle history requests, one each second
// or back to back; the loads alternate in each round of one command, so all see the same machine.
import { parseArgs } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { runFanout, type FanoutResult } from '../fanout/fanout.js';
import { BENCH_SYMBOLS } from '../targets.js';
import { FEATURE_NAMES, FeaturePipeline } from '../../plugins/signals/features.js';
import { SignalModel } from '../../plugins/signals/model.js';
import { SHIPPED_MODEL } from '../../plugins/signals/config.js';
import { parseTrainArgs, train } from '../../plugins/signals/training/train.js';
import { DEFAULT_SYMBOLS, simulateCandles } from '../../sim/market-model.js';

const { values } = parseArgs({
  options: {
    candles: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '1000' },
    symbols: { type: 'string', default: '20' },
    rate: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    'signal-channels': { type: 'string', default: '20' },
  },
});
const num = (k: keyof typeof values) => {
  const v = Number(values[k]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`--${k} must be a number above 0, not "${values[k]}"\n`);
    process.exit(2);
  }
  return v;
};

function pct(sorted: Float64Array, p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;
}

/** (1) The live path's work per candle, in this process: the feature update, then a single-row model run. */
async function inferenceCost(n: number) {
  const model = await SignalModel.load(readFileSync(SHIPPED_MODEL));
  const candles = simulateCandles(DEFAULT_SYMBOLS[0]!, '1m', n + 20, 3);
  const pipe = new FeaturePipeline(FEATURE_NAMES, '1m');
  const columns = model.info.features.map((f) => FEATURE_NAMES.indexOf(f));
  const perCandle: number[] = [];
  const modelOnly: number[] = [];
  const featuresOnly: number[] = [];
  for (const c of candles) {
    const t0 = performance.now();
    const v = pipe.push(c);
    const t1 = performance.now();
    if (!v) continue;
    const x = Float32Array.from(columns, (j) => v[j]!);
    const t2 = performance.now();
    await model.predict(x, 1);
    const t3 = performance.now();
    featuresOnly.push((t1 - t0) * 1000);
    modelOnly.push((t3 - t2) * 1000);
    perCandle.push((t3 - t0) * 1000);
  }
  await model.release();
  const summary = (a: number[]) => {
    const s = Float64Array.from(a).sort();
    return { runs: s.length, p50Us: pct(s, 50), p99Us: pct(s, 99), maxUs: pct(s, 100) };
  };
  return { model: model.id, perCandle: summary(perCandle), modelRun: summary(modelOnly), featureUpdate: summary(featuresOnly) };
}

/**
 * (2) Signal work during a fan-out window: open signal channels on one connection, and 1000-candle history requests
 * one at a time, either back to back (`pauseMs` 0: as much as the gateway gives) or with a pause between them.
 */
function signalLoad(channels: string[], pauseMs: number) {
  return async (port: number) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    let signals = 0;
    let errors = 0;
    ws.on('message', (m: Buffer) => {
      const f = JSON.parse(m.toString()) as { type: string };
      if (f.type === 'signal') signals++;
      if (f.type === 'error') errors++;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'subscribe', channels }));
    let running = true;
    const history = { requests: 0, failed: 0, totalMs: 0, signals: 0, failures: {} as Record<string, number> };
    const loop = (async () => {
      let i = 0;
      while (running) {
        const sym = BENCH_SYMBOLS[i++ % BENCH_SYMBOLS.length];
        const t0 = performance.now();
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/signals/${sym}/history?interval=1s&limit=1000`);
          const body = (await res.json()) as { data?: { count: number }; error?: { code: string } };
          if (res.status !== 200 || body.data?.count !== 1000) {
            history.failed++;
            const code = body.error?.code ?? `HTTP ${res.status}`;
            history.failures[code] = (history.failures[code] ?? 0) + 1;
          } else history.signals += body.data.count;
        } catch {
          history.failed++;
        }
        history.totalMs += performance.now() - t0;
        history.requests++;
        if (pauseMs > 0 && running) await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
    const started = performance.now();
    return {
      stop: async () => {
        running = false;
        await loop;
        ws.close();
        const seconds = (performance.now() - started) / 1000;
        return {
          signalChannels: channels.length,
          signalFrames: signals,
          signalErrors: errors,
          historyRequests: history.requests,
          historyFailed: history.failed,
          historyFailures: history.failures,
          historyMeanMs: history.requests ? Math.round(history.totalMs / history.requests) : 0,
          historySignalsPerSecond: Math.round(history.signals / seconds),
        };
      },
    };
  };
}

const inference = await inferenceCost(num('candles'));
process.stdout.write(`inference per candle (${inference.model}, ${inference.perCandle.runs} candles): p50 ${inference.perCandle.p50Us} µs, p99 ${inference.perCandle.p99Us} µs (model run p50 ${inference.modelRun.p50Us} / p99 ${inference.modelRun.p99Us} µs; feature update p50 ${inference.featureUpdate.p50Us} / p99 ${inference.featureUpdate.p99Us} µs)\n`);

// A model made for 1s candles, so the signal channels run the model every second during a short window.
const dir = mkdtempSync(join(tmpdir(), 'tickgate-bench-signals-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const modelFile = join(dir, 'bench-1s.onnx');
writeFileSync(modelFile, train(parseTrainArgs(['--interval', '1s', '--candles', '20000', '--iterations', '100', '--name', 'bench-1s'])).onnx);
const env = { TICKGATE__PLUGINS__SIGNALS__MODEL: modelFile, TICKGATE__PLUGINS__SIGNALS__INTERVALS: '[1s]' };
const signalChannels = BENCH_SYMBOLS.slice(0, num('signal-channels')).map((s) => `signals:${s}:1s`);
const rows: Array<{ round: number; load: string; result: FanoutResult }> = [];
const LOADS = { none: 'no signal work', paced: `${signalChannels.length} signal channels + a history request each second`, saturating: `${signalChannels.length} signal channels + history requests back to back` } as const;
for (let round = 1; round <= num('rounds'); round++) {
  for (const load of ['none', 'paced', 'saturating'] as const) {
    const result = await runFanout({
      name: `signals-${load}`,
      target: 'tickgate',
      clients: num('clients'),
      symbols: BENCH_SYMBOLS.slice(0, num('symbols')),
      kinds: ['price'],
      rate: num('rate'),
      warmupSeconds: 3,
      seconds: num('seconds'),
      env,
      ...(load === 'none' ? {} : { background: signalLoad(signalChannels, load === 'paced' ? 1000 : 0) }),
    });
    rows.push({ round, load, result });
    const l = result.latencyMs;
    process.stdout.write(`round ${round}, ${LOADS[load]}: ${result.framesPerSecond} frames/s, latency p50 ${l.p50} ms, p99 ${l.p99} ms, server CPU ${result.server.cpuPercent} %${result.background ? `, ${JSON.stringify(result.background)}` : ''}\n`);
  }
}
process.stdout.write(`\n${JSON.stringify({ inference, fanout: rows.map((r) => ({ round: r.round, load: r.load, framesPerSecond: r.result.framesPerSecond, missing: r.result.missing, latencyMs: r.result.latencyMs, serverCpuPercent: r.result.server.cpuPercent, background: r.result.background })) }, null, 2)}\n`);
