// Signals when things go wrong, against the simulated exchange: a failing model contained, a model that breaks the
// contract at start, the exchange failing the warm-up, a shard restarting onto a bad file; and the shipped setup, and
// a model that reads the book.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, testConfig } from '../../helpers/stack.js';
import { TestClient } from '../../helpers/ws-client.js';
import { failingModel, trainedModel } from './model-files.js';
import { installModel, json } from './e2e-helpers.js';
import { TickgateServer } from '../../../core/server.js';

const dir = mkdtempSync(join(tmpdir(), 'tickgate-signals-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a failing model is contained: error frames to its channel, a log line, the shard serves on', async (t) => {
  const modelFile = join(dir, 'failing.onnx');
  installModel(modelFile, failingModel());
  const s = await startStack(t, { sim: { klineIntervalMs: 250 }, config: { plugins: ['market', { name: 'signals', config: { model: modelFile, intervals: ['1s'], watch: false } }] } });
  const c = await TestClient.connect(s.wsUrl);
  t.teardown(() => c.close());
  c.subscribe('signals:BTCUSDT', 'price:BTCUSDT');
  t.match(await c.next((f) => f.type === 'error' && f.channel === 'signals:BTCUSDT', 5000), { data: { code: 'TG_ERR_INFERENCE_FAILED', message: /next candle is tried again/ } });
  t.match(await c.next((f) => f.type === 'error' && f.channel === 'signals:BTCUSDT', 5000), { data: { code: 'TG_ERR_INFERENCE_FAILED' } }, 'and again on the next candle: the channel stays open');
  t.ok(await c.next((f) => f.type === 'price', 5000), 'the shard still serves');
  t.notOk(c.frames.some((f) => f.type === 'unsubscribed'));
  const health = await json(`${s.httpUrl}/health`);
  t.match(health.body.shards[0], { state: 'running', restarts: 0 });
  t.match(await json(`${s.httpUrl}/api/v1/signals/BTCUSDT`), { status: 500, body: { error: { code: 'TG_ERR_INFERENCE_FAILED' } } });
  t.match(await json(`${s.httpUrl}/api/v1/signals/BTCUSDT/history?limit=5`), { status: 500, body: { error: { code: 'TG_ERR_INFERENCE_FAILED' } } });
});

t.test('a model that breaks the contract stops the start, naming the difference', async (t) => {
  const modelFile = join(dir, 'wrong.onnx');
  installModel(modelFile, trainedModel({ intervals: ['1h'] }).bytes);
  const config = testConfig({ plugins: ['market', { name: 'signals', config: { model: modelFile } }] }, { wsUrl: 'ws://127.0.0.1:1', restUrl: 'http://127.0.0.1:1' });
  await t.rejects(TickgateServer.start(config), { message: /plugin "signals".*interval\(s\) 1m are not among the model's \(1h\).*Set plugins\.signals\.model/ });
  const missing = testConfig({ plugins: ['market', { name: 'signals', config: { model: join(dir, 'absent.onnx') } }] }, { wsUrl: 'ws://127.0.0.1:1', restUrl: 'http://127.0.0.1:1' });
  await t.rejects(TickgateServer.start(missing), { message: /absent\.onnx cannot be read \(ENOENT\)/ });
});

t.test('when the exchange cannot give the warm-up history, subscribers are told and the signal starts at a later close', async (t) => {
  const modelFile = join(dir, 'plain.onnx');
  installModel(modelFile, trainedModel().bytes);
  const s = await startStack(t, { sim: { klineIntervalMs: 250 }, config: { plugins: ['market', { name: 'signals', config: { model: modelFile, intervals: ['1s'], watch: false } }] } });
  s.sim.failRest(1, 500);
  const c = await TestClient.connect(s.wsUrl);
  t.teardown(() => c.close());
  c.subscribe('signals:XRPUSDT');
  t.match(await c.next((f) => f.type === 'error', 5000), { channel: 'signals:XRPUSDT', data: { code: 'TG_ERR_DATA_UNAVAILABLE', message: /Candle history could not be loaded from the exchange.*the signal starts after a later candle close/ } });
  const first = await c.next((f) => f.type === 'signal', 5000);
  t.match(first, { data: { symbol: 'XRPUSDT', interval: '1s', model: 'test-model@1' } });
  t.notOk(c.frames.some((f) => f.type === 'unsubscribed'), 'the channel stayed open');
  // The same failure on the REST routes is a coded error, not a 500.
  s.sim.failRest(1, 500);
  t.match(await json(`${s.httpUrl}/api/v1/signals/LTCUSDT`), { status: 503, body: { error: { code: 'TG_ERR_DATA_UNAVAILABLE', message: /Candle history could not be loaded/ } } });
});

t.test('a shard that restarts onto a refused file is handed the model the gateway serves', async (t) => {
  const modelFile = join(dir, 'restart.onnx');
  installModel(modelFile, trainedModel({ version: 'kept' }).bytes);
  const markerDir = mkdtempSync(join(tmpdir(), 'tickgate-crash-'));
  t.teardown(() => rmSync(markerDir, { recursive: true, force: true }));
  const crashing = fileURLToPath(new URL('../../fixtures/crashing-plugin/index.js', import.meta.url));
  const s = await startStack(t, {
    sim: { klineIntervalMs: 250 },
    config: { plugins: ['market', { name: 'crashing', path: crashing, config: { marker: join(markerDir, 'crashed') } }, { name: 'signals', config: { model: modelFile, intervals: ['1s'], watch: false } }] },
  });
  const c = await TestClient.connect(s.wsUrl);
  t.teardown(() => c.close());
  c.subscribe('signals:BTCUSDT');
  t.match(await c.next((f) => f.type === 'signal', 5000), { data: { model: 'test-model@kept' } });
  // The file goes bad (not watched: the gateway keeps serving what it loaded), then the shard dies and restarts.
  writeFileSync(modelFile, Buffer.from('garbage'));
  c.subscribe('crash:BTCUSDT');
  await c.next((f) => f.type === 'status' && f.channel === 'signals:BTCUSDT' && f.data.state === 'stale', 10_000);
  const live = await c.next((f) => f.type === 'status' && f.channel === 'signals:BTCUSDT' && f.data.state === 'live', 15_000);
  // Within a few seconds the restarted shard serves the gateway's model again; the channel never ended.
  const back = await c.next((f) => f.type === 'signal' && c.indexOf(f) > c.indexOf(live), 15_000);
  t.match(back, { data: { model: 'test-model@kept' } });
  t.notOk(c.frames.some((f) => f.type === 'unsubscribed' && f.channel === 'signals:BTCUSDT'), 'the signals channel stayed subscribed');
  let health = await json(`${s.httpUrl}/health`);
  for (let i = 0; i < 20 && health.body.shards[0].plugins.signals?.model !== 'test-model@kept'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    health = await json(`${s.httpUrl}/health`);
  }
  t.match(health.body.shards[0], { restarts: 1, plugins: { signals: { model: 'test-model@kept' } } });
});

t.test('npm run demo\'s setup: signals:BTCUSDT with the shipped model gives a 1m signal at once', async (t) => {
  const s = await startStack(t, { config: { plugins: ['market', 'signals'] } });
  const c = await TestClient.connect(s.wsUrl);
  t.teardown(() => c.close());
  c.subscribe('signals:BTCUSDT');
  const f = await c.next((x) => x.type === 'signal', 5000);
  t.match(f, { channel: 'signals:BTCUSDT', data: { symbol: 'BTCUSDT', interval: '1m', model: 'tickgate-sim-1m@1' } });
  t.equal(f.data.candleTime % 60_000, 0);
  t.match((await json(`${s.httpUrl}/api/v1/signals/model`)).body.data, { model: 'tickgate-sim-1m@1', intervals: ['1m'], metadata: { 'tickgate.trained_on': /simulated exchange/ } });
});

t.test('a model that takes book_imbalance: live signals with the book open, history refused with a reason', async (t) => {
  const modelFile = join(dir, 'book.onnx');
  installModel(modelFile, trainedModel({ version: 'book', features: ['return_1', 'book_imbalance', 'volatility_15'] }).bytes);
  const s = await startStack(t, { sim: { klineIntervalMs: 250 }, config: { plugins: ['market', { name: 'signals', config: { model: modelFile, intervals: ['1s'], watch: false } }] } });
  const c = await TestClient.connect(s.wsUrl);
  t.teardown(() => c.close());
  c.subscribe('signals:BTCUSDT');
  t.match(await c.next((f) => f.type === 'signal', 5000), { data: { model: 'test-model@book' } });
  t.match(await c.next((f) => f.type === 'signal', 5000), { data: { model: 'test-model@book' } }, 'and on the next close, with the book read');
  const stats = await json(`${s.httpUrl}/api/v1/ws/stats`);
  t.ok(stats.body.data.binanceActiveStreams.some((x: string) => x.startsWith('btcusdt@depth')), 'the model\'s book is open upstream');
  t.match(await json(`${s.httpUrl}/api/v1/signals/BTCUSDT/history?limit=5`), { status: 422, body: { error: { code: 'TG_ERR_HISTORY_UNSUPPORTED', message: /takes book_imbalance.*use the live channel/ } } });
});
