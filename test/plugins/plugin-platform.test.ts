// The plugin platform: plugin-owned error codes on every path, market data by meaning, answers told their symbol,
// symbol filters, namespaced routes and services, teardown in both halves, and load failures that stop the start.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, getJson, testConfig, until } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { TickgateServer } from '../../core/server.js';
import { PACKAGE_ROOT } from '../../core/config.js';
import { SimExchange } from '../../sim/exchange.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}/index.js`, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'tickgate-platform-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
let markers = 0;
const platform = () => ({ path: fixture('platform-plugin'), config: { marker: join(tmp, `marker-${++markers}`) } });

t.test('a plugin-owned error code crosses from a route and from a shard answer with its status and message', async (t) => {
  const { httpUrl, server } = await startStack(t, { config: { shards: 2, plugins: ['market', platform()] } });
  const route = await getJson(`${httpUrl}/api/v1/platform/refuse`);
  t.equal(route.status, 409, 'the status the plugin registered');
  t.same(route.body, { success: false, error: { code: 'PLAT_REFUSED', message: 'The platform fixture refused this on purpose: nothing to do' } });
  const answer = await getJson(`${httpUrl}/api/v1/platform/ask/BTCUSDT?q=refuse`);
  t.equal(answer.status, 409, 'from the shard, across the thread boundary');
  t.same(answer.body.error, { code: 'PLAT_REFUSED', message: 'refused in the shard' });
  const core = await getJson(`${httpUrl}/api/v1/platform/ask/BTCUSDT?q=core-code`);
  t.equal(core.status, 503);
  t.equal(core.body.error.code, 'TG_ERR_DATA_UNAVAILABLE', 'a core code thrown by a plugin keeps its status too');
  const unregistered = await getJson(`${httpUrl}/api/v1/platform/ask/BTCUSDT?q=unregistered`);
  t.equal(unregistered.status, 500, 'a code nobody registered is not passed on');
  t.equal(unregistered.body.error.code, 'TG_ERR_INTERNAL');
  t.same(server.errors.get('PLAT_OPEN_FAILED'), { status: 422, message: 'The platform fixture cannot open this channel: subscribe to plat:SYM instead', owner: 'platform' }, 'in the gateway\'s one table');
});

t.test('answer() is told the symbol ask() was routed by, in the shard that owns it; symbol filters in both halves', async (t) => {
  const { httpUrl } = await startStack(t, { config: { shards: 3, plugins: ['market', platform()] } });
  const { shardFor } = await import('../../core/shard-hash.js');
  for (const symbol of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT']) {
    const r = await getJson(`${httpUrl}/api/v1/platform/ask/${symbol}`);
    t.same(r.body.data, { symbol, shard: shardFor(symbol, 3), params: { from: 'route' }, plugin: 'platform' }, symbol);
  }
  const filters = (await getJson(`${httpUrl}/api/v1/platform/ask/BTCUSDT?q=filters`)).body.data;
  t.equal(filters.tickSize, 0.01, 'tick size from the exchange\'s PRICE_FILTER');
  t.equal(filters.priceDecimals, 2);
  t.equal(filters.minNotional, 5, 'minimum notional from the NOTIONAL filter');
  t.ok(filters.stepSize > 0 && filters.minQty > 0, 'LOT_SIZE');
  const acceptorSide = (await getJson(`${httpUrl}/api/v1/platform/symbol/BTCUSDT`)).body.data;
  t.same(acceptorSide.filters, filters, 'the acceptor half sees the same filters');
  t.equal(acceptorSide.baseAsset, 'BTC');
  t.equal((await getJson(`${httpUrl}/api/v1/platform/symbol/NOPEUSDT`)).body.data, null, 'no info for a symbol not served');
  const unknown = await getJson(`${httpUrl}/api/v1/platform/ask/NOPEUSDT`);
  t.equal(unknown.status, 404, 'ask() checks the symbol before routing');
  t.equal(unknown.body.error.code, 'TG_ERR_UNKNOWN_SYMBOL');
  t.match(unknown.body.error.hint, /does not list this symbol/);
  const listener = await getJson(`${httpUrl}/api/v1/platform/ask/BTCUSDT?q=listen-unknown`);
  t.equal(listener.body.error.code, 'TG_ERR_UNKNOWN_SYMBOL', 'listening to a symbol not served is refused with a coded error');
});

t.test('a plugin asks for a book by meaning: held without a channel or a listener, read with latest()', async (t) => {
  const { httpUrl } = await startStack(t, { config: { plugins: ['market', platform()] } });
  const r = await getJson(`${httpUrl}/api/v1/platform/ask/SOLUSDT?q=book`);
  t.equal(r.status, 200, 'the book arrives without the plugin naming a stream');
  t.equal(r.body.data.bids, 100, 'top 100 levels');
  t.ok(r.body.data.best[0] < r.body.data.best[1], 'not crossed');
  const stats = (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data;
  t.ok(stats.binanceActiveStreams.includes('solusdt@depth@100ms'), 'the exchange adapter chose the stream');
});

t.test('a shard half\'s setup opens market data once the symbol list is there (whenLoaded), and is told so before', async (t) => {
  const { httpUrl } = await startStack(t, { config: { plugins: ['market', platform()] } });
  let r = await getJson(`${httpUrl}/api/v1/platform/ask/BTCUSDT?q=setup`);
  t.equal(r.body.data.setupError.code, 'TG_ERR_SYMBOLS_UNAVAILABLE', 'at setup the list is not there: a coded error, not a hang');
  t.match(r.body.data.setupError.hint, /api\.symbols\.whenLoaded\(\)/, 'whose hint says what to do');
  await until(async () => {
    r = await getJson(`${httpUrl}/api/v1/platform/ask/BTCUSDT?q=setup`);
    return r.body.data.tickersSinceLoad > 0;
  }, 'tickers reach the listener opened in whenLoaded()');
  t.pass('data opened after whenLoaded() flows');
});

t.test('channels: needs open the data, a producer\'s coded error and out.error with a plugin code reach subscribers', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { plugins: ['market', platform()] } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('plat:ETHUSDT');
  await c.next((f) => f.type === 'plat');
  const warn = await c.next((f) => f.type === 'error' && f.channel === 'plat:ETHUSDT');
  t.same(warn.data, { code: 'PLAT_REFUSED', message: 'a warning in the plugin\'s own code; updates continue' });
  const undeclared = await c.next((f) => f.type === 'error' && f.channel === 'plat:ETHUSDT');
  t.equal(undeclared.data.code, 'TG_ERR_CHANNEL_FAILED', 'an undeclared code is not sent as is');
  // Shards report their streams 20 ms after a change.
  const eth = async () => ((await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.binanceActiveStreams as string[]).filter((s) => s.startsWith('ethusdt@'));
  await until(async () => (await eth()).length === 2, 'the streams reported');
  t.same(await eth(), ['ethusdt@kline_1m', 'ethusdt@ticker'], 'needs may depend on the channel');
  c.subscribe('platfail:BTCUSDT');
  const failed = await c.next((f) => f.type === 'error' && f.channel === 'platfail:BTCUSDT');
  t.same(failed.data, { code: 'PLAT_OPEN_FAILED', message: 'The platform fixture cannot open this channel: subscribe to plat:SYM instead' }, 'the producer\'s own code');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === 'platfail:BTCUSDT');
  c.subscribe('platwarn:BTCUSDT:c');
  const arg = await c.next((f) => f.type === 'error' && f.channel === 'platwarn:BTCUSDT:c');
  t.equal(arg.data.code, 'PLAT_REFUSED', 'a channel family\'s argErrorCode may be the plugin\'s own');
  c.subscribe('platwarn:BTCUSDT:a');
  const bad = await c.next((f) => f.type === 'error' && f.channel === 'platwarn:BTCUSDT:a');
  t.equal(bad.data.code, 'TG_ERR_CHANNEL_FAILED', 'an unknown need fails the channel');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === 'platwarn:BTCUSDT:a');
});

t.test('teardown: both halves\' onClose hooks run at shutdown, last registered first', async (t) => {
  const entry = platform();
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  const server = await TickgateServer.start(testConfig({ shards: 2, plugins: ['market', entry] }, { wsUrl: sim.wsUrl, restUrl: sim.restUrl }));
  await server.close();
  const lines = readFileSync(entry.config.marker, 'utf8').trim().split('\n');
  t.same(lines.slice(0, 2).sort(), ['shard-0', 'shard-1'], 'each shard ran its half\'s teardown');
  t.same(lines.slice(2), ['acceptor-second', 'acceptor-first'], 'then the acceptor half\'s, in reverse order, awaited');
});

t.test('names are namespaced per plugin: clashes and paths outside the namespace are refused, naming who holds them', async (t) => {
  const upstream = { wsUrl: 'ws://127.0.0.1:9', restUrl: 'http://127.0.0.1:9' };
  const start = (plugins: unknown[]) => TickgateServer.start(testConfig({ plugins: plugins as never }, upstream));
  const dir = mkdtempSync(join(tmp, 'names-'));
  const write = (name: string, body: string) => {
    const file = join(dir, `${name}.mjs`);
    writeFileSync(file, body);
    return file;
  };
  const plugin = (name: string, acceptor: string, extra = '') => write(name, `export default { name: ${JSON.stringify(name)}, ${extra} acceptor(api) { ${acceptor} } };`);
  await t.rejects(start([{ path: plugin('outside', `api.route('get', '/api/v1/other/x', () => ({ body: {} }));`) }]), /route \/api\/v1\/other\/x is outside its namespace: a plugin's routes live under \/api\/v1\/outside\//);
  await t.rejects(start([{ path: plugin('healthy', `api.route('get', '/health', () => ({ body: {} }), { outsideNamespace: true });`) }]), /route GET \/health is already registered by the core/);
  const a = plugin('alpha', `api.route('get', '/api/v3/order', () => ({ body: {} }), { outsideNamespace: true });`);
  const b = plugin('beta', `api.route('get', '/api/v3/order', () => ({ body: {} }), { outsideNamespace: true });`);
  await t.rejects(start([{ path: a }, { path: b }]), /plugin "beta".*route GET \/api\/v3\/order is already registered by plugin "alpha"/);
  await t.rejects(start([{ path: plugin('svc', `api.provide('users', {});`) }]), /service "users" is outside its namespace: call it "svc" or "svc.<name>"/);
  await t.rejects(start([{ path: plugin('needy', `api.use('nobody');`) }]), /needs service "nobody", which no plugin loaded before it provides/);
  await t.rejects(start([{ path: plugin('ws', '') }]), /its name "ws" must be .* not one of core, ws/);
  await t.rejects(start([{ path: plugin('Bad_Name', '') }]), /its name "Bad_Name" must be lowercase/);
  await t.rejects(start([{ path: plugin('coreprefix', '', `errors: { prefix: 'TG_ERR_X_', codes: { TG_ERR_X_Y: { status: 400, message: 'm' } } },`) }]), /the error prefix "TG_" belongs to tickgate itself/);
  const e1 = plugin('errone', '', `errors: { prefix: 'SAME_', codes: { SAME_A: { status: 400, message: 'm' } } },`);
  const e2 = plugin('errtwo', '', `errors: { prefix: 'SAME_', codes: { SAME_B: { status: 400, message: 'm' } } },`);
  await t.rejects(start([{ path: e1 }, { path: e2 }]), /the error prefix "SAME_" is already used by plugin "errone"/);
  await t.rejects(start([{ path: plugin('badcode', '', `errors: { prefix: 'BAD_', codes: { OTHER_A: { status: 400, message: 'm' } } },`) }]), /error code "OTHER_A" must start with the prefix "BAD_"/);
  await t.rejects(start([{ path: plugin('badstatus', '', `errors: { prefix: 'BS_', codes: { BS_A: { status: 200, message: 'm' } } },`) }]), /needs an HTTP status from 400 to 599/);
  await t.rejects(start([{ path: plugin('argcode', `api.channel('argc', { key: 'symbol', args: ['a'], argErrorCode: 'NOPE_X' });`) }]), /argErrorCode NOPE_X is not a registered error code/);
  const thiefShard = write('thief-shard', `export default (api) => api.produce('price', { needs: ['ticker'], open: () => undefined });`);
  const thief = write('thief', `export default { name: 'thief', acceptor(api) { api.channel('loot', { key: 'symbol' }); }, shard: new URL('./thief-shard.mjs', import.meta.url) };`);
  await t.rejects(TickgateServer.start(testConfig({ plugins: ['market', { path: thief }] }, upstream)), /plugin "thief".*produces "price", which its acceptor half does not declare \(it declares loot\)/, 'a shard half produces only its own kinds');
  t.ok(thiefShard);
});

t.test('a plugin that fails to load stops `npm start` with exit code 3 and a message naming it', async (t) => {
  const dir = mkdtempSync(join(tmp, 'exit-'));
  const shardHalf = join(dir, 'broken-shard.mjs');
  writeFileSync(shardHalf, 'throw new Error("broken on purpose");\n');
  writeFileSync(join(dir, 'broken.mjs'), `export default { name: 'broken', shard: new URL('./broken-shard.mjs', import.meta.url) };\n`);
  writeFileSync(join(dir, 'config.yaml'), 'plugins:\n  - market\n  - path: ./broken.mjs\nserver:\n  port: 0\n  host: 127.0.0.1\nshards: 1\n');
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  const marker = join(dir, 'marker');
  writeFileSync(join(dir, 'config.yaml'), `plugins:\n  - market\n  - path: ${fixture('platform-plugin')}\n    config: { marker: ${marker} }\n  - path: ./broken.mjs\nserver:\n  port: 0\n  host: 127.0.0.1\nshards: 1\n`);
  const child = spawn(process.execPath, ['dist/core/main.js'], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, TICKGATE_CONFIG: join(dir, 'config.yaml'), BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(code, 3, 'the documented exit code for a plugin that cannot load');
  t.match(out, /plugin \\"broken\\": its shard half failed to load: broken on purpose/);
  t.match(readFileSync(marker, 'utf8'), /shard-0/, 'the plugins set up before it in that shard were torn down');
});
