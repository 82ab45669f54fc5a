// A production install: the checkout's files in an empty folder, `npm ci --omit=dev`, `npm start`, /health, SIGTERM.
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect } from 'node:net';
import { PACKAGE_ROOT } from '../../core/config.js';
import { SimExchange } from '../../sim/exchange.js';
import { getJson, until } from '../helpers/stack.js';

// Longer than the suite's per-file 60 s: a production install copies onnxruntime-node (about 290 MB, every platform's binaries) from the cache.
t.setTimeout(150_000);

const dir = mkdtempSync(join(tmpdir(), 'tickgate-prod-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** The files a clone of this checkout has: tracked ones and new ones not ignored (nothing built, nothing installed). */
function copyCheckout(to: string): void {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: PACKAGE_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(PACKAGE_ROOT, f))) continue;
    mkdirSync(dirname(join(to, f)), { recursive: true });
    cpSync(join(PACKAGE_ROOT, f), join(to, f));
  }
}

t.test('npm ci --omit=dev builds and installs a runnable gateway; npm start serves and drains on SIGTERM', async (t) => {
  copyCheckout(dir);
  t.notOk(existsSync(join(dir, 'dist')), 'nothing built yet');
  const ci = spawnSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(ci.status, 0, `npm ci --omit=dev succeeds${ci.status === 0 ? '' : `: ${ci.stderr.slice(-2000)}`}`);
  // npm writes its warnings to stderr: a production install has none (allowScripts covers every install script).
  const install = `${ci.stdout}\n${ci.stderr}`;
  t.ok(existsSync(join(dir, 'dist/core/main.js')), 'the prepare script compiled the product without devDependencies');
  t.ok(existsSync(join(dir, 'dist/sdk/plugin.d.ts')), 'with the plugin SDK\'s declarations');
  t.notOk(existsSync(join(dir, 'dist/bench')), 'the benchmarks are not part of the product build');
  t.notOk(existsSync(join(dir, 'node_modules/tap')), 'no devDependency installed');
  t.notMatch(install, /Unknown (project|env) config/, 'no stray npm setting warns');
  t.notMatch(install, /npm warn/i, 'no npm warning at all (install scripts not covered by allowScripts, engines…)');

  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  // The environment of a plain install: without the test runner's own instrumentation (its NODE_OPTIONS and TAP
  // variables), which would otherwise run inside the gateway too.
  const plainEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_OPTIONS|TAP|_TAPJS)/.test(k)));
  const start = spawn('npm', ['start'], { cwd: dir, env: { ...plainEnv, PORT: '0', HOST: '127.0.0.1', SHARDS: '1', BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  start.stdout.on('data', (d: Buffer) => (out += d.toString()));
  start.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => start.on('exit', resolve));
  t.teardown(() => {
    if (start.exitCode === null) start.kill('SIGKILL');
  });
  const listening = /tickgate listening on 127\.0\.0\.1:(\d+)/;
  await until(() => listening.test(out) || start.exitCode !== null, 'tickgate listening', 30_000);
  const port = Number(listening.exec(out)?.[1]);
  t.ok(port > 0, 'listening');
  await until(async () => (await getJson(`http://127.0.0.1:${port}/health`)).status === 200, '/health 200', 20_000);
  t.pass('/health answers 200 once the exchange delivers');

  start.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM to npm start drains and exits 0');
  t.match(out, /tickgate stopped/, 'the gateway drained (not killed with npm)');
  const refused = await new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
  t.ok(refused, 'the port is released: no orphaned node process holds it');
});
