// The worked examples, built the way a plugin author builds them (their own folder, npm install, tsc) and run in the demo.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../core/config.js';
import { buildExample, npm } from './build-example.js';
import { TestClient } from '../helpers/ws-client.js';
import { getJson, until } from '../helpers/stack.js';

// Longer than the suite's per-file 60 s: two out-of-tree builds with their own tsc, then a demo with every default plugin.
t.setTimeout(150_000);

const tmp = mkdtempSync(join(tmpdir(), 'tickgate-examples-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('the examples build out of the tree with their own tsc and run in the demo', async (t) => {
  const spread = buildExample(t, tmp, 'spread');
  const vwap = buildExample(t, tmp, 'vwap');
  t.ok(existsSync(join(spread, 'dist/index.js')) && existsSync(join(spread, 'dist/shard.js')), 'spread compiled');
  t.ok(existsSync(join(vwap, 'dist/index.js')) && existsSync(join(vwap, 'dist/shard.js')), 'vwap compiled');
  t.notOk(existsSync(join(PACKAGE_ROOT, 'examples/spread/src/index.js')), 'nothing written into the tickgate checkout');
  const own = npm(['test'], spread);
  t.match(own, /# pass 1/, 'the example\'s own test passes, with tickgate/testing');

  writeFileSync(join(tmp, 'config.yaml'), [
    'server: { host: 127.0.0.1, port: 0 }',
    'shards: 2',
    'plugins:',
    '  - market',
    '  - path: ./spread/dist/index.js',
    '    config: { waitMs: 0 }',
    '  - name: vwap',
    '    path: ./vwap/dist/index.js',
    '    config: { window: 5 }',
    '',
  ].join('\n'));
  const demo: ChildProcess = spawn('npm', ['run', 'demo'], { cwd: PACKAGE_ROOT, env: { ...process.env, TICKGATE_CONFIG: join(tmp, 'config.yaml') }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  demo.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  demo.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => demo.on('exit', resolve));
  t.teardown(() => {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  });
  await until(() => /WebSocket: ws:\/\/[^:]+:(\d+)\/ws/.test(out) || demo.exitCode !== null, 'the demo banner', 30_000);
  const port = Number(/WebSocket: ws:\/\/[^:]+:(\d+)\/ws/.exec(out)?.[1]);
  t.ok(port > 0, `demo listening on ${port}`);
  const http = `http://127.0.0.1:${port}`;
  await until(async () => (await getJson(`${http}/api/v1/market/symbols`)).status === 200, 'symbol list');

  const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
  c.subscribe('spread:BTCUSDT', 'vwap:ETHUSDT');
  const s = await c.next((f) => f.type === 'spread');
  const later = [s];
  while (later.length < 12) later.push(await c.next((f) => f.type === 'spread'));
  t.ok(later.every((f, i) => i === 0 || (f.data.timestamp >= later[i - 1]!.data.timestamp && f.seq === (later[i - 1]!.seq as number) + 1)), 'spread frames in book order, seq without gaps');
  t.equal(s.data.symbol, 'BTCUSDT');
  t.ok(s.data.ask > s.data.bid, 'best ask above best bid');
  t.equal(s.data.spread, Number((s.data.ask - s.data.bid).toFixed(2)), 'spread rounded to the symbol\'s tick size');
  t.ok(s.data.imbalance >= -1 && s.data.imbalance <= 1);
  let v;
  do v = await c.next((f) => f.type === 'vwap');
  while (v.data.trades < 5);
  t.equal(v.data.trades, 5, 'the window from the plugin\'s config section');
  const next = await c.next((f) => f.type === 'vwap');
  t.equal(next.data.trades, 5, 'and it stays at the window');

  const first = await getJson(`${http}/api/v1/spread/SOLUSDT`);
  t.equal(first.status, 503, 'an idle symbol\'s book is not built yet: the plugin\'s own code, from its shard half');
  t.equal(first.body.error.code, 'SPREAD_NO_BOOK');
  t.equal(first.body.error.message, 'The order book of SOLUSDT is not in sync yet: retry in a few seconds');
  await until(async () => (await getJson(`${http}/api/v1/spread/SOLUSDT`)).status === 200, 'the held book is in sync', 15_000);
  const ok = await getJson(`${http}/api/v1/spread/SOLUSDT?levels=3`);
  t.equal(ok.body.data.levels, 3);
  const bad = await getJson(`${http}/api/v1/spread/SOLUSDT?levels=0`);
  t.equal(bad.status, 400, 'the plugin\'s own code, from its route');
  t.same(bad.body.error, { code: 'SPREAD_BAD_LEVELS', message: 'levels must be an integer from 1 to 100' });
  const unknown = await getJson(`${http}/api/v1/spread/NOPEUSDT`);
  t.equal(unknown.body.error.code, 'TG_ERR_UNKNOWN_SYMBOL', 'the core checks the symbol for the plugin');
  // The plugin's schema comes from its own copy of zod: the document has it all the same.
  const op = (await getJson(`${http}/openapi.json`)).body.paths['/api/v1/spread/{symbol}']?.get;
  t.ok(op?.summary, 'the plugin\'s route is in GET /openapi.json with its summary');
  t.ok(op?.parameters?.some((p: { in: string; name: string }) => p.in === 'query' && p.name === 'levels'), 'and its query parameter, from the plugin\'s own zod');

  demo.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM to npm run demo drains and exits 0');
  t.match(out, /vwap shard half stopped/, 'the shard half\'s teardown ran');
  t.match(out, /vwap plugin stopped/, 'the acceptor half\'s teardown ran');
});

t.test('the README walks through the spread example as it is: every file of it appears there in full', async (t) => {
  const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### A plugin from an empty folder'), readme.indexOf('### The API'));
  const blocks = [...section.matchAll(/```(?:ts|json)\n([\s\S]*?)\n```/g)].map((m) => m[1]);
  for (const file of ['tsconfig.json', 'src/errors.ts', 'src/index.ts', 'src/shard.ts']) {
    const text = readFileSync(join(PACKAGE_ROOT, 'examples/spread', file), 'utf8').replace(/\n$/, '');
    t.ok(blocks.includes(text), `${file} is in the README as it is in examples/spread`);
  }
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'examples/spread/package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  for (const dep of [...Object.keys(pkg.dependencies).filter((d) => d !== 'tickgate'), ...Object.keys(pkg.devDependencies)]) {
    t.match(section, new RegExp(`npm install[^\\n]* ${dep.replace('/', '\\/')}\\b`), `the walkthrough installs ${dep}`);
  }
});

