// Signals end to end against the simulated exchange, with 1s candles: a snapshot at once, a signal per closed candle,
// history equal to the live path, hot reload under live subscribers, corrupt files refused, a failing model contained.
import t from 'tap';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '../../helpers/stack.js';
import { TestClient, type Frame } from '../../helpers/ws-client.js';
import { testDatabase } from '../../helpers/database.js';
import { PASSWORD, makeAdmin } from '../../helpers/accounts.js';
import { failingModel, trainedModel } from './model-files.js';
import { TickgateServer } from '../../../core/server.js';
import { testConfig } from '../../helpers/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'tickgate-signals-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Replaces the model file the way a deploy does: a new file renamed over the old one. */
function installModel(path: string, bytes: Uint8Array): void {
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
}

t.test('live signals, history, hot reload and a refused file, on one gateway', async (t) => {
  const modelFile = join(dir, 'model.onnx');
  installModel(modelFile, trainedModel({ version: '1' }).bytes);
  const db = await testDatabase(t);
  const s = await startStack(t, {
    sim: { klineIntervalMs: 250 },
    config: {
      // Two shards: a reload reaches both, and /health reports each.
      shards: 2,
      plugins: ['market', { name: 'db', config: db.config }, 'users', 'auth', { name: 'signals', config: { model: modelFile, intervals: ['1s', '1m'] } }],
    },
  });

  await t.test('a subscriber gets a signal at once, then one per closed candle', async (t) => {
    const c = await TestClient.connect(s.wsUrl);
    t.teardown(() => c.close());
    c.subscribe('signals:BTCUSDT:1s');
    const first = await c.next((f) => f.type === 'signal', 5000);
    t.match(first, { channel: 'signals:BTCUSDT:1s', seq: Number, data: { symbol: 'BTCUSDT', interval: '1s', action: /^(buy|sell|hold)$/, confidence: Number, model: 'test-model@1', candleTime: Number, timestamp: Number } });
    const p = first.data.probabilities;
    t.ok(Math.abs(p.down + p.flat + p.up - 1) < 1e-5, 'the probabilities sum to 1');
    t.ok(Date.now() - first.data.candleTime < 5000, 'the snapshot scores the last closed candle');
    const next = await c.next((f) => f.type === 'signal', 5000);
    const third = await c.next((f) => f.type === 'signal', 5000);
    t.equal(next.data.candleTime, first.data.candleTime + 1000, 'the next candle');
    t.equal(third.data.candleTime, next.data.candleTime + 1000);
    t.ok((next.seq as number) > (first.seq as number));
    // The default interval of signals:SYM is the first configured (1s here).
    c.subscribe('signals:ETHUSDT');
    t.match(await c.next((f) => f.type === 'signal' && f.channel === 'signals:ETHUSDT', 5000), { data: { symbol: 'ETHUSDT', interval: '1s' } });
    c.subscribe('signals:BTCUSDT:5m');
    t.match(await c.next((f) => f.type === 'error' && f.channel === 'signals:BTCUSDT:5m'), { data: { code: 'TG_ERR_INVALID_INTERVAL', message: /1s, 1m/ } });
    const stats = await json(`${s.httpUrl}/api/v1/ws/stats`);
    t.equal(stats.body.data.signalStreams, 2);
    // The model per shard and the inference time per candle (the shard's status reaches /health within a second).
    await new Promise((r) => setTimeout(r, 1000));
    const later = await json(`${s.httpUrl}/health`);
    const shards = later.body.shards.map((x: any) => x.plugins.signals);
    t.equal(shards.length, 2);
    for (const st of shards) t.match(st, { model: 'test-model@1', error: null, streams: Number, inference: { count: Number } });
    t.equal(shards[0].streams + shards[1].streams, 2, 'the two streams, wherever their symbols live');
    const busy = shards.find((x: any) => x.inference.count >= 3);
    t.match(busy?.inference, { p50Us: Number, p99Us: Number, maxUs: Number }, 'inference time per candle');
  });

  await t.test('history equals the live path for the same candles', async (t) => {
    const c = await TestClient.connect(s.wsUrl);
    t.teardown(() => c.close());
    c.subscribe('signals:SOLUSDT:1s');
    const live: Frame[] = [];
    for (let i = 0; i < 4; i++) live.push(await c.next((f) => f.type === 'signal', 5000));
    const h = await json(`${s.httpUrl}/api/v1/signals/SOLUSDT/history?interval=1s&limit=50`);
    t.equal(h.status, 200);
    t.match(h.body.data, { symbol: 'SOLUSDT', interval: '1s', model: 'test-model@1' });
    const byTime = new Map<number, any>(h.body.data.signals.map((x: any) => [x.candleTime, x]));
    let compared = 0;
    for (const f of live) {
      const hist = byTime.get(f.data.candleTime);
      if (!hist) continue;
      compared++;
      for (const k of ['down', 'flat', 'up']) t.ok(Math.abs(hist.probabilities[k] - f.data.probabilities[k]) <= 2e-6, `${k} at ${f.data.candleTime}: ${hist.probabilities[k]} vs ${f.data.probabilities[k]}`);
      t.equal(hist.action, f.data.action);
    }
    t.ok(compared >= 3, `compared ${compared} candles`);
    const times = h.body.data.signals.map((x: any) => x.candleTime);
    t.same(times, [...times].sort((a: number, b: number) => a - b), 'oldest first');
    t.ok(times.every((x: number, i: number) => i === 0 || x - times[i - 1] === 1000), 'consecutive candles');
    t.equal(times.length, 50);
    // The latest signal over REST is the live one.
    const latest = await json(`${s.httpUrl}/api/v1/signals/SOLUSDT?interval=1s`);
    t.match(latest.body.data, { symbol: 'SOLUSDT', interval: '1s', model: 'test-model@1' });
    // A full 1000-candle history: two exchange pages.
    const big = await json(`${s.httpUrl}/api/v1/signals/BTCUSDT/history?interval=1m&limit=1000`);
    t.equal(big.body.data.count, 1000);
    t.match(await json(`${s.httpUrl}/api/v1/signals/BTCUSDT/history?limit=1001`), { status: 400, body: { error: { code: 'TG_ERR_INVALID_ARGUMENT', message: /1 to 1000/ } } });
    t.match(await json(`${s.httpUrl}/api/v1/signals/NOPEUSDT/history`), { status: 404, body: { error: { code: 'TG_ERR_UNKNOWN_SYMBOL' } } });
    t.match(await json(`${s.httpUrl}/api/v1/signals/BTCUSDT?interval=4h`), { status: 400, body: { error: { code: 'TG_ERR_INVALID_INTERVAL' } } });
  });

  await t.test('hot reload: a replaced file and the admin route swap the model under live subscribers', async (t) => {
    const subs = await Promise.all([0, 1, 2].map(() => TestClient.connect(s.wsUrl)));
    t.teardown(() => subs.forEach((c) => c.close()));
    for (const c of subs) {
      c.subscribe('signals:BTCUSDT:1s');
      await c.next((f) => f.type === 'signal', 5000);
    }
    installModel(modelFile, trainedModel({ version: '2', seed: 8 }).bytes);
    for (const c of subs) t.match(await c.next((f) => f.type === 'signal' && f.data.model === 'test-model@2', 8000), { channel: 'signals:BTCUSDT:1s' });
    t.match((await json(`${s.httpUrl}/api/v1/signals/model`)).body.data, { model: 'test-model@2' });

    // A corrupt file is refused by the watcher; the old model keeps serving.
    writeFileSync(modelFile, Buffer.from('not an onnx model at all'));
    await new Promise((r) => setTimeout(r, 1500));
    t.match((await json(`${s.httpUrl}/api/v1/signals/model`)).body.data, { model: 'test-model@2', lastRefused: { at: String, reason: /was refused: not an ONNX model/ } }, 'the watcher refused the file, and says why');
    const after = Date.now();
    const newer = (f: Frame) => f.type === 'signal' && f.data.timestamp > after;
    for (const c of subs) t.match(await c.next(newer, 5000), { data: { model: 'test-model@2' } });

    // The admin route: refused for anonymous and plain users; for an admin it names what is wrong with the file.
    const register = (who: string) => json(`${s.httpUrl}/api/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `${who}-${Date.now()}@example.com`, password: PASSWORD }) });
    const plain = (await register('plain')).body.data.accessToken as string;
    const reg = await register('admin');
    t.match(await json(`${s.httpUrl}/api/v1/admin/models/reload`, { method: 'POST' }), { status: 401, body: { error: { code: 'TG_ERR_AUTH_REQUIRED' } } });
    t.match(await json(`${s.httpUrl}/api/v1/admin/models/reload`, { method: 'POST', headers: { authorization: `Bearer ${plain}` } }), { status: 403, body: { error: { code: 'TG_ERR_FORBIDDEN' } } });
    await makeAdmin(db, reg.body.data.user.id);
    const login = await json(`${s.httpUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: reg.body.data.user.email, password: PASSWORD }) });
    const admin = { authorization: `Bearer ${login.body.data.accessToken}` };
    const refused = await json(`${s.httpUrl}/api/v1/admin/models/reload`, { method: 'POST', headers: admin });
    t.match(refused, { status: 422, body: { error: { code: 'TG_ERR_MODEL_INVALID', message: /was refused: not an ONNX model.*keeps serving/ } } });
    // A model for other intervals is refused naming them.
    installModel(modelFile, trainedModel({ version: '3', intervals: ['5m'] }).bytes);
    const wrong = await json(`${s.httpUrl}/api/v1/admin/models/reload`, { method: 'POST', headers: admin });
    t.match(wrong, { status: 422, body: { error: { code: 'TG_ERR_MODEL_INVALID', message: /interval\(s\) 1s, 1m are not among the model's \(5m\)/ } } });
    const since = Date.now();
    t.match(await subs[0]!.next((f) => f.type === 'signal' && f.data.timestamp > since, 5000), { data: { model: 'test-model@2' } });

    installModel(modelFile, trainedModel({ version: '4', seed: 9 }).bytes);
    const ok = await json(`${s.httpUrl}/api/v1/admin/models/reload`, { method: 'POST', headers: admin });
    t.match(ok, { status: 200, body: { data: { model: 'test-model@4' } } });
    for (const c of subs) {
      t.match(await c.next((f) => f.type === 'signal' && f.data.model === 'test-model@4', 8000), { channel: 'signals:BTCUSDT:1s' });
      t.notOk(c.frames.some((f) => f.type === 'unsubscribed' || f.type === 'error'), 'no subscriber was dropped or sent an error');
      t.equal(c.closed, undefined);
    }
    // /health has each shard's status within a second.
    let health = await json(`${s.httpUrl}/health`);
    for (let i = 0; i < 20 && health.body.shards.some((x: any) => x.plugins.signals.model !== 'test-model@4'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await json(`${s.httpUrl}/health`);
    }
    for (const shard of health.body.shards) t.match(shard.plugins.signals, { model: 'test-model@4' }, `shard ${shard.shard} serves the new model`);
  });
});

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
