// npm run model:train: trains the signal model on klines, evaluates it on a later held-out period against naive
// baselines, and writes the ONNX file and a JSON report.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SYMBOLS, isKlineInterval, simulateCandles } from '../../../sim/market-model.js';
import { KLINE_FEATURES, intervalMs, isFeatureName, type FeatureName } from '../features.js';
import { LABELS } from '../model.js';
import { readKlineFiles, type Kline } from './kline-files.js';
import { balancedThreshold, buildDataset, labelsOf, type Dataset } from './dataset.js';
import { trainLogistic, predictProba } from './logistic-regression.js';
import { asStored, exportLogisticOnnx } from './onnx-export.js';
import { accuracy, argmax3, backtest, baselines, logLoss } from './evaluate.js';

export interface TrainConfig {
  /** Kline files (REST JSON rows or archive CSVs); empty: candles from the simulated exchange's price process. */
  files: string[];
  symbol: string;
  interval: string;
  /** Simulated candles when no files are given. */
  candles: number;
  seed: number;
  features: FeatureName[];
  /** Share of the candles, the latest ones, held out for evaluation. */
  testShare: number;
  fee: number;
  iterations: number;
  name: string;
  version: string;
  out: string;
}

export const HELP = `Usage: npm run model:train -- [options] [kline files…]

Trains the signal model (multinomial logistic regression) and writes an ONNX file and a JSON report beside it.
Files are klines in Binance's layouts: GET /api/v3/klines rows (JSON) or the CSVs of Binance's public kline
archives (times in ms before 2025, in µs since: both are read). Without files it trains on candles simulated by
the simulated exchange's price process.

  --interval I     the candles' interval (default 1m)
  --symbol S       the symbol, for simulated candles and the report (default BTCUSDT)
  --candles N      simulated candles (default 60000)
  --seed N         seed of the simulated candles (default 1)
  --features a,b   features, in order (default: ${KLINE_FEATURES.join(',')})
  --test-share X   the latest share of candles held out for evaluation (default 0.25)
  --fee X          fee per position change in the backtest (default 0.001, Binance's 0.1 % taker fee)
  --iterations N   optimiser iterations (default 400)
  --name S --version S   the model's name and version (default tickgate-sim-1m, 1)
  --out FILE       the ONNX file (default models/<name>.onnx); the report is FILE with .report.json`;

export function parseTrainArgs(argv: string[]): TrainConfig {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      interval: { type: 'string', default: '1m' },
      symbol: { type: 'string', default: 'BTCUSDT' },
      candles: { type: 'string', default: '60000' },
      seed: { type: 'string', default: '1' },
      features: { type: 'string' },
      'test-share': { type: 'string', default: '0.25' },
      fee: { type: 'string', default: '0.001' },
      iterations: { type: 'string', default: '400' },
      name: { type: 'string' },
      version: { type: 'string', default: '1' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const num = (name: string, raw: string, min: number, max: number, int = false) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) throw new Error(`--${name} must be ${int ? 'an integer' : 'a number'} from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const interval = values.interval!;
  if (!isKlineInterval(interval) || interval === '1M') throw new Error(`--interval must be a Binance kline interval of fixed length (1s, 1m, … 1w), got "${interval}"`);
  const features = values.features ? values.features.split(',').map((s) => s.trim()) : [...KLINE_FEATURES];
  for (const f of features) {
    if (!isFeatureName(f)) throw new Error(`--features: unknown feature "${f}" (known: ${KLINE_FEATURES.join(', ')})`);
    if (!KLINE_FEATURES.includes(f)) throw new Error(`--features: "${f}" is live only (klines carry no order book): a model trained on klines cannot take it`);
  }
  const symbol = values.symbol!.toUpperCase();
  if (positionals.length === 0 && !DEFAULT_SYMBOLS.some((s) => s.symbol === symbol)) throw new Error(`--symbol ${symbol} is not one of the simulated exchange's symbols`);
  const name = values.name ?? `tickgate-sim-${interval}`;
  return {
    files: positionals,
    symbol,
    interval,
    candles: num('candles', values.candles!, 200, 5_000_000, true),
    seed: num('seed', values.seed!, 0, 2 ** 31, true),
    features: features as FeatureName[],
    testShare: num('test-share', values['test-share']!, 0.05, 0.9),
    fee: num('fee', values.fee!, 0, 0.1),
    iterations: num('iterations', values.iterations!, 1, 100_000, true),
    name,
    version: values.version!,
    out: values.out ?? `models/${name}.onnx`,
  };
}

function sliceRows(d: Dataset, from: number, to: number): Dataset {
  const f = d.features.length;
  return { features: d.features, rows: to - from, x: d.x.slice(from * f, to * f), nextReturn: d.nextReturn.slice(from, to), lastReturn: d.lastReturn.slice(from, to), candleTime: d.candleTime.slice(from, to) };
}

const iso = (t: number | undefined) => (t === undefined ? '' : new Date(t).toISOString());
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Trains, evaluates and returns the ONNX bytes and the report (the CLI writes them). */
export function train(cfg: TrainConfig, log: (line: string) => void = () => undefined): { onnx: Uint8Array; report: Record<string, unknown> } {
  const ms = intervalMs(cfg.interval)!;
  let candles: Kline[];
  let trainedOn: string;
  if (cfg.files.length) {
    candles = readKlineFiles(cfg.files);
    trainedOn = `${candles.length} ${cfg.interval} klines of ${cfg.symbol} from ${cfg.files.length} file(s)`;
  } else {
    const spec = DEFAULT_SYMBOLS.find((s) => s.symbol === cfg.symbol)!;
    log(`simulating ${cfg.candles} ${cfg.interval} candles of ${cfg.symbol} (seed ${cfg.seed})…`);
    candles = simulateCandles(spec, cfg.interval as Parameters<typeof simulateCandles>[1], cfg.candles, cfg.seed);
    trainedOn = `${candles.length} ${cfg.interval} candles of ${cfg.symbol} from the simulated exchange's price process (seed ${cfg.seed}); no real market data`;
  }
  const bad = candles.find((c, i) => i > 0 && (c.openTime - candles[i - 1]!.openTime) % ms !== 0);
  if (bad) throw new Error(`the candles are not all ${cfg.interval} apart (at ${iso(bad.openTime)}): give --interval the files' interval`);
  const data = buildDataset(candles, cfg.features, cfg.interval, ms);
  if (data.rows < 100) throw new Error(`only ${data.rows} usable rows: give more candles`);
  const split = Math.floor(data.rows * (1 - cfg.testShare));
  const tr = sliceRows(data, 0, split);
  const te = sliceRows(data, split, data.rows);
  const threshold = balancedThreshold(tr.nextReturn);
  const yTrain = labelsOf(tr.nextReturn, threshold);
  const yTest = labelsOf(te.nextReturn, threshold);
  log(`training on ${tr.rows} rows, testing on ${te.rows} later rows; flat band ±${threshold.toExponential(3)}`);
  const fitted = asStored(trainLogistic(tr.x, yTrain, tr.rows, cfg.features.length, 3, { iterations: cfg.iterations }));
  const pTest = predictProba(fitted, te.x, te.rows);
  const pTrain = predictProba(fitted, tr.x, tr.rows);
  const pred = argmax3(pTest, te.rows);
  const model = {
    accuracy: accuracy(pred, yTest),
    logLoss: logLoss(pTest, yTest),
    trainAccuracy: accuracy(argmax3(pTrain, tr.rows), yTrain),
    backtest: backtest(Array.from(pred, (c) => c === 2), te.nextReturn, cfg.fee),
  };
  const base = baselines({ yTrain, lastReturnTrain: tr.lastReturn, yTest, lastReturnTest: te.lastReturn, nextReturnTest: te.nextReturn, fee: cfg.fee });
  const roundAll = (o: unknown): unknown => (typeof o === 'number' ? round(o) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, roundAll(v)])) : o);
  const report = {
    model: `${cfg.name}@${cfg.version}`,
    trainedOn,
    symbol: cfg.symbol,
    interval: cfg.interval,
    features: cfg.features,
    labels: LABELS,
    label: `the next candle's log return: up above +flatBand, down below −flatBand, flat between (flatBand puts a third of the training returns in flat)`,
    flatBand: threshold,
    train: { rows: tr.rows, from: iso(tr.candleTime[0]), to: iso(tr.candleTime[tr.rows - 1]) },
    test: { rows: te.rows, from: iso(te.candleTime[0]), to: iso(te.candleTime[te.rows - 1]) },
    heldOut: roundAll({ model, alwaysHold: base.alwaysHold, lastReturnSign: base.lastReturnSign, buyAndHold: base.buyAndHold }),
    backtestRule: 'long over the next candle when the action is buy, flat otherwise; fee on every position change',
  };
  const onnx = exportLogisticOnnx(fitted, {
    name: cfg.name,
    version: cfg.version,
    features: cfg.features,
    labels: LABELS,
    intervals: [cfg.interval],
    extra: {
      'tickgate.trained_on': trainedOn,
      'tickgate.flat_band': String(threshold),
      'tickgate.held_out': JSON.stringify({ accuracy: round(model.accuracy), logLoss: round(model.logLoss), alwaysHoldAccuracy: round(base.alwaysHold.accuracy), lastReturnSignAccuracy: round(base.lastReturnSign.accuracy) }),
    },
  });
  return { onnx, report: { ...report, weights: { W: Array.from(fitted.weights), B: Array.from(fitted.bias) } } };
}

export function reportPath(out: string): string {
  return out.replace(/\.onnx$/, '') + '.report.json';
}

export async function main(): Promise<void> {
  let cfg: TrainConfig;
  try {
    cfg = parseTrainArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`model:train: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}\n`);
    process.exit(2);
  }
  try {
    const { onnx, report } = train(cfg, (l) => process.stdout.write(`${l}\n`));
    const out = resolve(cfg.out);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, onnx);
    writeFileSync(reportPath(out), `${JSON.stringify(report, null, 2)}\n`);
    const h = report.heldOut as Record<string, { accuracy?: number; logLoss?: number; backtest?: { totalReturn: number } ; totalReturn?: number }>;
    process.stdout.write(`held-out: model accuracy ${h.model!.accuracy} log-loss ${h.model!.logLoss} backtest ${h.model!.backtest!.totalReturn}; always-hold ${h.alwaysHold!.accuracy} / ${h.alwaysHold!.logLoss}; last-return-sign ${h.lastReturnSign!.accuracy} / ${h.lastReturnSign!.logLoss} backtest ${h.lastReturnSign!.backtest!.totalReturn}; buy-and-hold ${h.buyAndHold!.totalReturn}\n`);
    process.stdout.write(`wrote ${out} and ${reportPath(out)}\n`);
  } catch (err) {
    process.stderr.write(`model:train: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

