// Process-level behaviour: graceful shutdown, config errors, the native-binding check, shard restart, no tokens in logs.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../../core/config.js';
import { SimExchange } from '../../sim/exchange.js';
import { startStack, getJson, until } from '../helpers/stack.js';
import { TestClient, refusedUpgrade } from '../helpers/ws-client.js';
import { embeddedTemplate, seededDataDir } from '../helpers/database.js';

// Longer than the suite's per-file 60 s: it starts about ten gateways as shipped (embedded database, onnxruntime
// for signals), which takes a while on a loaded two-core machine.
t.setTimeout(150_000);

const MAIN = join(PACKAGE_ROOT, 'dist/core/main.js');

interface Child {
  exit: Promise<number | null>;
  out: () => string;
  err: () => string;
  kill(signal: NodeJS.Signals): void;
}

/** Data directories of the runs (the shipped config.yaml keeps accounts in an embedded database), removed at the end. */
const dataDirs: string[] = [];
t.teardown(() => {
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
});

// Each run's embedded database starts as a copy of one made once: creating one takes seconds, and these tests are
// about the process, not the database.
const template = await embeddedTemplate();

function run(args: string[], env: Record<string, string>): Child {
  const dataDir = seededDataDir(template, 'tickgate-lifecycle-data-');
  dataDirs.push(dataDir);
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', TICKGATE_DATA_DIR: dataDir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // 'close', not 'exit': by then the child's output has been read to its end.
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { exit, out: () => out, err: () => err, kill: (s) => child.kill(s) };
}

t.test('SIGTERM drains: clients closed with 1001, upstream closed, shards stopped, exit 0; no token in logs', async (t) => {
  const sim = await new SimExchange({ port: 0, tickerIntervalMs: 200 }).start();
  t.teardown(() => sim.close());
  const child = run([MAIN], { PORT: '0', HOST: '127.0.0.1', BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl, SHARDS: '2', LOG_LEVEL: 'debug' });
  await until(() => /listening on 127\.0\.0\.1:\d+/.test(child.out()), 'server listening', 20_000);
  const port = /listening on 127\.0\.0\.1:(\d+)/.exec(child.out())![1];
  await until(async () => (await getJson(`http://127.0.0.1:${port}/health`)).status === 200, 'healthy');
  // A token in the upgrade URL is refused (it is not a valid one), and never logged.
  const refused = await refusedUpgrade(`ws://127.0.0.1:${port}/ws?token=super-secret-token-123`);
  t.equal(refused.status, 401);
  const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
  c.subscribe('price:BTCUSDT', 'trades:ETHUSDT');
  await c.next((f) => f.type === 'price');
  t.equal(sim.getStats().connections > 0, true, 'upstream connected');
  child.kill('SIGTERM');
  const closed = await c.waitClose();
  t.equal(closed.code, 1001, 'client closed with 1001 going away');
  t.equal(closed.reason, 'server shutting down');
  t.equal(await child.exit, 0, 'exit code 0');
  await until(() => sim.getStats().connections === 0, 'upstream connections closed');
  t.match(child.out(), /shutting down/);
  t.match(child.out(), /tickgate stopped/);
  t.notMatch(child.out() + child.err(), /super-secret-token-123/, 'the token never reaches the logs');
});

t.test('Ctrl-C on npm start (SIGINT to the whole process group, npm forwarding its copy) drains once and exits 0', async (t) => {
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  // The shipped config.yaml stores accounts in an embedded database: this run's goes to a directory of its own.
  const dataDir = seededDataDir(template, 'tickgate-lifecycle-data-');
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  // A terminal sends Ctrl-C's SIGINT to every process of its foreground group: npm and the gateway it runs.
  const child = spawn('npm', ['start'], { cwd: PACKAGE_ROOT, detached: true, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SHARDS: '1', BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl, TICKGATE_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  await until(() => /listening on 127\.0\.0\.1:\d+/.test(out), 'server listening', 20_000);
  process.kill(-child.pid!, 'SIGINT');
  t.equal(await exit, 0, 'npm exits 0');
  t.match(out, /tickgate stopped/, 'the drain finished');
  t.notMatch(out, /second signal/, 'the forwarded copy is not taken for an impatient second Ctrl-C');
});

t.test('a second signal given later exits at once with 1', async (t) => {
  // An acceptor half whose teardown never ends keeps the drain waiting until the second signal.
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-stuck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'stuck.mjs'), "export default { name: 'stuck', acceptor(api) { api.onClose(() => new Promise(() => {})); } };\n");
  writeFileSync(join(dir, 'config.yaml'), 'server: { drainTimeoutMs: 60000 }\nplugins: [market, { path: ./stuck.mjs }]\n');
  const child = run([MAIN], { PORT: '0', HOST: '127.0.0.1', TICKGATE_CONFIG: join(dir, 'config.yaml'), BINANCE_WS_URL: 'ws://127.0.0.1:9', BINANCE_REST_URL: 'http://127.0.0.1:9' });
  await until(() => /listening on 127\.0\.0\.1:\d+/.test(child.out()), 'server listening', 20_000);
  child.kill('SIGTERM');
  await until(() => /shutting down/.test(child.out()), 'drain started');
  await new Promise((r) => setTimeout(r, 1200));
  child.kill('SIGTERM');
  t.equal(await child.exit, 1);
  t.match(child.out(), /second signal: exiting without finishing the drain/);
});

t.test('a SIGTERM while the gateway starts lets the start finish, then drains and exits 0', async (t) => {
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  const child = run([MAIN], { PORT: '0', HOST: '127.0.0.1', SHARDS: '1', BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl });
  // The first line a plugin logs comes while the start goes on (the database opens, shards start, the port opens
  // last); before this signal handling, a signal then ended the process with the signal's default action.
  await until(() => /"plugin":/.test(child.out()), 'a plugin loaded', 20_000);
  t.notMatch(child.out(), /listening on/, 'the signal comes before the gateway listens');
  child.kill('SIGTERM');
  t.equal(await child.exit, 0, 'exit code 0, not death by the signal');
  t.match(child.out(), /shutting down/);
  t.match(child.out(), /tickgate stopped/, 'the drain ran once the start was done');
});

t.test('a second gateway on a port already taken exits with 1 instead of sharing it', async (t) => {
  const { server } = await startStack(t);
  const child = run([MAIN], { PORT: String(server.port), HOST: '127.0.0.1', BINANCE_WS_URL: 'ws://127.0.0.1:9', BINANCE_REST_URL: 'http://127.0.0.1:9' });
  t.equal(await child.exit, 1);
  t.match(child.out(), /cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
});

t.test('a bad config value names the key and exits non-zero', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.yaml'), 'server:\n  prot: 3000\n');
  // The four start side by side: each stops at its configuration, before anything listens.
  const port = run([MAIN], { PORT: 'abc' });
  const limit = run([MAIN], { TICKGATE__LIMITS__MAX_CHANNELS_PER_CLIENT: '0' });
  const file = run([MAIN], { TICKGATE_CONFIG: join(dir, 'bad.yaml') });
  const missing = run([MAIN], { TICKGATE_CONFIG: join(dir, 'nope.yaml') });
  t.equal(await port.exit, 2);
  t.match(port.err(), /server\.port/);
  t.equal(await limit.exit, 2);
  t.match(limit.err(), /limits\.maxChannelsPerClient/);
  t.equal(await file.exit, 2);
  t.match(file.err(), /server.*prot/, 'an unknown key is named');
  t.equal(await missing.exit, 2);
  t.match(missing.err(), /not found/);
});

t.test('refuses to start when the uWebSockets.js native binding does not load', async (t) => {
  const blocker = join(PACKAGE_ROOT, 'test/fixtures/block-native.cjs');
  const child = run(['--require', blocker, MAIN], { PORT: '0', HOST: '127.0.0.1' });
  t.equal(await child.exit, 1);
  t.match(child.out() + child.err(), /native binding did not load/);
  t.notMatch(child.out(), /listening/);
});

t.test('a shard that dies is restarted; its channels go stale, then live, and data resumes', async (t) => {
  const markerDir = mkdtempSync(join(tmpdir(), 'tickgate-crash-'));
  t.teardown(() => rmSync(markerDir, { recursive: true, force: true }));
  const marker = join(markerDir, 'crashed');
  const plugin = fileURLToPath(new URL('../fixtures/crashing-plugin/index.js', import.meta.url));
  const { wsUrl, httpUrl } = await startStack(t, { config: { plugins: ['market', { name: 'crashing', path: plugin, config: { marker } }] } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT');
  const before = await c.next((f) => f.type === 'price');
  c.subscribe('crash:BTCUSDT');
  const stale = await c.next((f) => f.type === 'status' && f.channel === 'price:BTCUSDT');
  t.equal(stale.data.state, 'stale', 'subscribers learn their shard is down');
  const live = await c.next((f) => f.type === 'status' && f.channel === 'price:BTCUSDT' && f.data.state === 'live');
  const after = await c.next((f) => f.type === 'price' && c.indexOf(f) > c.indexOf(live));
  t.ok((after.seq as number) > (before.seq as number), 'sequence numbers continue across the shard restart');
  await c.next((f) => f.type === 'crash');
  t.pass('both channels reopened on the restarted shard');
  const health = await getJson(`${httpUrl}/health`);
  t.equal(health.body.shards[0].restarts, 1);
  t.equal(health.body.shards[0].state, 'running');
});
