// The strategy example, built as a plugin author builds it, run against signals: on 1-second candles: it follows the
// signals plugin's channel and places paper orders through the trading plugin's service.
import t from 'tap';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildExample } from './build-example.js';
import { until } from '../helpers/stack.js';

t.setTimeout(150_000);

const tmp = mkdtempSync(join(tmpdir(), 'tickgate-strategy-example-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('the strategy example follows signals: and places paper orders through the trading plugin\'s service', async (t) => {
  const { startStack } = await import('../helpers/stack.js');
  const { testDatabase } = await import('../helpers/database.js');
  const { trainedModel } = await import('../plugins/signals/model-files.js');
  const { installModel } = await import('../plugins/signals/e2e-helpers.js');
  const strategy = buildExample(t, tmp, 'strategy');
  t.ok(existsSync(join(strategy, 'dist/index.js')), 'strategy compiled');
  const modelFile = join(tmp, 'strategy-model.onnx');
  installModel(modelFile, trainedModel({ version: '1', intervals: ['1s'] }).bytes);
  const db = await testDatabase(t);
  const s = await startStack(t, {
    sim: { klineIntervalMs: 250 },
    config: {
      plugins: ['market', { name: 'db', config: db.config }, 'users', 'auth', { name: 'signals', config: { model: modelFile, intervals: ['1s'], watch: false } }, 'trading',
        { name: 'strategy', path: join(strategy, 'dist/index.js'), config: { symbols: ['BTCUSDT'], interval: '1s', minConfidence: 0, quantity: '0.001' } }],
    } as never,
  });
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(s.httpUrl + path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() as any };
  };
  const reg = await call('POST', '/api/v1/auth/register', undefined, { email: `strategy-${Date.now()}@example.com`, password: 'correct horse battery staple' });
  const token = reg.body.data.accessToken as string;
  t.equal((await call('GET', '/api/v1/strategy', token)).body.data.following, false);
  t.equal((await call('POST', '/api/v1/strategy/follow', token)).body.data.following, true, 'a user opts in');
  let orders: Array<{ clientOrderId: string; side: string; status: string }> = [];
  await until(async () => {
    orders = (await call('GET', '/api/v1/orders', token)).body.data.orders;
    return orders.filter((o) => o.status === 'FILLED').length >= 2;
  }, 'the strategy\'s orders fill', 30_000);
  t.ok(orders.every((o) => /^st-[0-9a-z]+-[BS]-BTCUSDT$/.test(o.clientOrderId)), 'placed by the strategy, with its client order id per candle');
  const state = (await call('GET', '/api/v1/strategy', token)).body.data;
  t.ok(state.placed >= 2, `the strategy counts what it placed (${state.placed}) and what was refused (${state.refused})`);
  t.equal((await call('DELETE', '/api/v1/strategy/follow', token)).body.data.following, false, 'and the user opts out');
});
