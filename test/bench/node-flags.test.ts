// The node flags tickgate starts with: the benchmarks use npm start's, and the start log says when the cap is missing.
import t from 'tap';
import { nodeFlagsOf, tickgateNodeFlags } from '../../bench/targets.js';
import { youngGenerationHint } from '../../core/node-flags.js';

t.test('the node flags before the script are read from a start command', async (t) => {
  t.same(nodeFlagsOf('node --a=1 --b dist/core/main.js --not-mine'), ['--a=1', '--b']);
  t.same(nodeFlagsOf('node dist/core/main.js'), []);
  t.throws(() => nodeFlagsOf('tsx core/main.ts'), /expected a "node …" command/);
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
  t.equal(youngGenerationHint(['--max-semi-space-size', '2'], ''), undefined, 'value as the next argument');
});
