// Training: klines in Binance's layouts (REST rows, archive CSVs in ms and µs), the dataset, the held-out evaluation,
// and a trained model written to ONNX that computes what the TypeScript model computes.
import t from 'tap';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseKlineCsv, parseRestKlines, readKlineFiles } from '../../../plugins/signals/training/kline-files.js';
import { buildDataset, labelsOf } from '../../../plugins/signals/training/dataset.js';
import { accuracy, backtest, baselines, logLoss } from '../../../plugins/signals/training/evaluate.js';
import { parseTrainArgs, train, reportPath } from '../../../plugins/signals/training/train.js';
import { SignalModel } from '../../../plugins/signals/model.js';
import { predictProba } from '../../../plugins/signals/training/logistic-regression.js';
import { KLINE_FEATURES } from '../../../plugins/signals/features.js';
import { PACKAGE_ROOT } from '../../../core/config.js';

const run = promisify(execFile);

t.test('REST kline rows and archive CSVs, with times in ms (before 2025) and µs (since)', async (t) => {
  const rest = parseRestKlines(JSON.stringify([[1704067200000, '42283.58', '42298.62', '42283.57', '42298.61', '35.92', 1704067259999, '1518867.1', 1420, '19.5', '826193.7', '0']]));
  t.same(rest, [{ openTime: 1704067200000, open: 42283.58, high: 42298.62, low: 42283.57, close: 42298.61, volume: 35.92, closeTime: 1704067259999 }]);
  // An archive month of 2024 (ms) and one of 2025 (µs), as Binance publishes them.
  const ms = '1704067200000,42283.58000000,42298.62000000,42283.57000000,42298.61000000,35.92724000,1704067259999,1518867.12,1420,19.53,826193.70,0\n';
  const us = '1735689600000000,93576.00000000,93610.93000000,93537.50000000,93610.93000000,8.21827000,1735689659999999,768978.6,1421,4.95,463269.0,0\n';
  t.equal(parseKlineCsv(ms)[0]!.openTime, 1704067200000);
  t.equal(parseKlineCsv(us)[0]!.openTime, 1735689600000, 'microseconds become milliseconds');
  t.equal(parseKlineCsv(us)[0]!.closeTime, 1735689659999);
  t.equal(parseKlineCsv(`open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\r\n${ms}`).length, 1, 'a header line is skipped');
  t.throws(() => parseKlineCsv('1704067200000,abc,1,1,1,1,1\n', 'a.csv'), /a\.csv line 1: open is not a number: "abc"/);
  t.throws(() => parseRestKlines('{"code":-1121}', 'r.json'), /expected a JSON array of kline rows/);
  t.throws(() => parseRestKlines('[[1,2]]', 'r.json'), /at least 7 fields/);
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-klines-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.csv'), ms + us);
  writeFileSync(join(dir, 'b.json'), JSON.stringify([[1704067200000, '1', '1', '1', '1', '1', 1704067259999]]));
  const merged = readKlineFiles([join(dir, 'a.csv'), join(dir, 'b.json')]);
  t.same(merged.map((k) => k.openTime), [1704067200000, 1735689600000], 'merged in time order, the duplicate dropped');
});

t.test('the evaluation: accuracy, log-loss, and a long/flat backtest net of fees', async (t) => {
  const y = Uint8Array.of(2, 0, 1, 2);
  t.equal(accuracy(Uint8Array.of(2, 0, 0, 0), y), 0.5);
  t.equal(logLoss(Float64Array.of(0, 0, 1, 1, 0, 0, 0, 1, 0, 0.5, 0, 0.5), y), -Math.log(0.5) / 4);
  const r = Float64Array.of(0.01, -0.02, 0.03);
  const bt = backtest([true, false, true], r, 0.001);
  // In for candle 1, out, in for candle 3, out at the end: 4 position changes.
  t.equal(bt.trades, 4);
  t.ok(Math.abs(bt.totalReturn - (Math.exp(0.04 + 4 * Math.log(0.999)) - 1)) < 1e-12);
  t.equal(bt.exposure, 2 / 3);
  t.equal(backtest([false, false, false], r, 0.001).totalReturn, 0, 'never in: nothing gained, nothing paid');
  const b = baselines({ yTrain: Uint8Array.of(0, 1, 1, 2), lastReturnTrain: Float64Array.of(-1, 0, 1, 1), yTest: Uint8Array.of(1, 2), lastReturnTest: Float64Array.of(0.1, -0.1), nextReturnTest: Float64Array.of(0.01, 0.02), fee: 0 });
  t.equal(b.alwaysHold.accuracy, 0.5);
  t.equal(b.lastReturnSign.accuracy, 0);
  t.ok(Math.abs(b.buyAndHold.totalReturn - (Math.exp(0.03) - 1)) < 1e-12);
});

t.test('a dataset row per candle with features and a next candle; the pipeline restarts after a gap', async (t) => {
  const candles = Array.from({ length: 60 }, (_, i) => ({ openTime: i * 1000 + (i >= 40 ? 5000 : 0), open: 100 + i, high: 101 + i, low: 99 + i, close: 100.5 + i, volume: 1 + (i % 3) }));
  const d = buildDataset(candles, KLINE_FEATURES, '1s', 1000);
  // Candles 19..38 have a full window and a next candle (39 is followed by the gap); after the gap 40+19 = 59 is the last.
  t.equal(d.rows, 20);
  t.equal(d.candleTime[0], 19_000);
  t.equal(d.nextReturn[0], Math.log(120.5 / 119.5));
  t.same([...labelsOf(Float64Array.of(-0.2, 0, 0.2), 0.1)], [0, 1, 2]);
});

t.test('train(): held-out figures against the baselines, and an ONNX file equal to the TypeScript model', async (t) => {
  const cfg = parseTrainArgs(['--interval', '1m', '--candles', '6000', '--iterations', '150', '--version', 't1']);
  const { onnx, report } = train(cfg);
  const held = report.heldOut as Record<string, { accuracy: number; logLoss: number }>;
  t.match(report, { model: 'tickgate-sim-1m@t1', interval: '1m', features: KLINE_FEATURES, trainedOn: /simulated exchange's price process/ });
  t.ok(held.model!.accuracy > held.alwaysHold!.accuracy, `the model beats always-hold on the held-out period (${held.model!.accuracy} vs ${held.alwaysHold!.accuracy})`);
  t.ok(held.model!.logLoss < held.alwaysHold!.logLoss, `and in log-loss (${held.model!.logLoss} vs ${held.alwaysHold!.logLoss})`);
  const m = await SignalModel.load(onnx);
  t.teardown(() => m.release());
  t.match(m.info, { name: 'tickgate-sim-1m', version: 't1', intervals: ['1m'], extra: { 'tickgate.trained_on': /simulated/ } });
  const w = report.weights as { W: number[]; B: number[] };
  const x = Float32Array.from({ length: 40 * 8 }, (_, i) => Math.sin(i) * 0.01);
  const a = await m.predict(x, 40);
  const b = predictProba({ weights: Float64Array.from(w.W), bias: Float64Array.from(w.B), features: 8, classes: 3 }, x, 40);
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 1e-5) t.fail(`output ${i}: ${a[i]} vs ${b[i]}`);
  t.pass('ONNX and TypeScript agree');
});

t.test('npm run model:train: writes the model and the report; bad options exit 2 with the reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cli = join(PACKAGE_ROOT, 'dist/plugins/signals/training/train-cli.js');
  const out = join(dir, 'm.onnx');
  const { stdout } = await run(process.execPath, [cli, '--candles', '2000', '--iterations', '20', '--out', out]);
  t.match(stdout, /held-out: model accuracy/);
  const report = JSON.parse(readFileSync(reportPath(out), 'utf8'));
  t.match(report, { model: 'tickgate-sim-1m@1', test: { rows: Number } });
  t.ok(readFileSync(out).length > 100);
  const bad = await run(process.execPath, [cli, '--interval', '7m']).catch((e: { code: number; stderr: string }) => e);
  t.match(bad, { code: 2, stderr: /--interval must be a Binance kline interval/ });
  const live = await run(process.execPath, [cli, '--features', 'book_imbalance']).catch((e: { code: number; stderr: string }) => e);
  t.match(live, { code: 2, stderr: /live only/ });
  const missing = await run(process.execPath, [cli, join(dir, 'nope.csv')]).catch((e: { code: number; stderr: string }) => e);
  t.match(missing, { code: 1, stderr: /ENOENT/ });
  // Kline files train too: the REST layout.
  const rows = (await import('../../../sim/market-model.js')).simulateCandles((await import('../../../sim/market-model.js')).DEFAULT_SYMBOLS[1]!, '5m', 1500, 2)
    .map((c) => [c.openTime, String(c.open), String(c.high), String(c.low), String(c.close), String(c.volume), c.closeTime, '0', c.trades, '0', '0', '0']);
  writeFileSync(join(dir, 'eth.json'), JSON.stringify(rows));
  const fromFile = await run(process.execPath, [cli, '--interval', '5m', '--symbol', 'ETHUSDT', '--iterations', '20', '--out', join(dir, 'eth.onnx'), join(dir, 'eth.json')]);
  t.match(fromFile.stdout, /wrote/);
  t.match(JSON.parse(readFileSync(join(dir, 'eth.report.json'), 'utf8')), { trainedOn: /1500 5m klines of ETHUSDT from 1 file/ });
  void predictProba;
});
