// Signals end to end against the simulated exchange, with 1s candles: a snapshot at once, a signal per closed candle,
// history equal to the live path, hot reload under live subscribers, corrupt files refused.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../../helpers/stack.js';
import { TestClient, type Frame } from '../../helpers/ws-client.js';
import { testDatabase } from '../../helpers/database.js';
import { PASSWORD, makeAdmin } from '../../helpers/accounts.js';
import { trainedModel } from './model-files.js';
import { installModel, json } from './e2e-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tickgate-signals-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

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
    // The gateway's record follows once every shard has answered (frames may come a few ms before).
    let served = await json(`${s.httpUrl}/api/v1/signals/model`);
    for (let i = 0; i < 20 && served.body.data.model !== 'test-model@2'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      served = await json(`${s.httpUrl}/api/v1/signals/model`);
    }
    t.match(served.body.data, { model: 'test-model@2' });

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

