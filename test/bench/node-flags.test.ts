// The node flags tickgate starts with: the benchmarks use npm start's, and the start log says when the cap is missing.
import t from 'tap';
import { checkServed, nodeFlagsOf, tickgateNodeFlags } from '../../bench/targets.js';
import { youngGenerationHint } from '../../core/node-flags.js';

t.test('the node options before the script are read from a start command, values included', async (t) => {
  const script = 'dist/core/main.js';
  t.same(nodeFlagsOf('node --a=1 --b dist/core/main.js --not-mine', script), ['--a=1', '--b']);
  t.same(nodeFlagsOf('node --max-semi-space-size=2 --import ./otel.mjs -r dotenv/config dist/core/main.js', script), ['--max-semi-space-size=2', '--import', './otel.mjs', '-r', 'dotenv/config']);
  t.same(nodeFlagsOf('node dist/core/main.js', script), []);
  t.same(nodeFlagsOf('exec node --max-semi-space-size=2 dist/core/main.js', script), ['--max-semi-space-size=2'], 'npm start execs node, so signals reach it');
  t.throws(() => nodeFlagsOf('tsx core/main.ts', script), /expected a "node … dist\/core\/main.js" command/);
  t.throws(() => nodeFlagsOf('node dist/other.js', script), /expected a "node … dist\/core\/main.js" command/);
});

t.test('a target is refused the channel kinds it does not serve, each named', async (t) => {
  t.doesNotThrow(() => checkServed('tickgate', ['price', 'depth:5', 'klines:4h', 'signals:BTCUSDT']));
  t.doesNotThrow(() => checkServed('uws-ceiling', ['price', 'ticker', 'trades', 'depth', 'klines:1m']));
  t.throws(() => checkServed('uws-ceiling', ['price', 'klines:5m', 'depth:5']), /the uws-ceiling target does not serve klines:5m, depth:5: it serves price, ticker/);
  t.throws(() => checkServed('nestjs', ['depth']), /the nestjs target does not serve depth/);
  // The feed alone: every market kind, with its arguments and rates, but not the signals plugin's channel.
  t.doesNotThrow(() => checkServed('tickgate-market', ['price', 'depth:5', 'depthDelta:100', 'price@1s', 'klines:4h']));
  t.throws(() => checkServed('tickgate-market', ['price', 'signals', 'signals@1s']), /the tickgate-market target does not serve signals, signals@1s: it serves every kind but signals/);
});

t.test('the benchmarks run tickgate with npm start\'s young-generation cap', async (t) => {
  const flags = tickgateNodeFlags();
  t.ok(flags.some((f) => /^--max-semi-space-size=\d+$/.test(f)), `npm start passes ${flags.join(' ')}`);
  t.equal(youngGenerationHint(flags, undefined), undefined, 'and with them the start log has no hint');
});

t.test('the start log hints at the cap only when neither the command line nor NODE_OPTIONS sets it', async (t) => {
  t.match(youngGenerationHint([], undefined), /runs without --max-semi-space-size.*npm start passes --max-semi-space-size=2/);
  t.match(youngGenerationHint(['--expose-gc'], '--max-old-space-size=512'), /runs without/);
  t.equal(youngGenerationHint(['--max-semi-space-size=4'], undefined), undefined);
  t.equal(youngGenerationHint([], '--enable-source-maps --max_semi_space_size=1'), undefined, 'V8 spelling with underscores');
});
