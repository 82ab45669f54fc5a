// A short run of the fuzzer (test/fuzz): random messages, raw frames and HTTP requests against a real gateway.
// A fixed seed, so a failure here replays (npm run fuzz -- --cases 300 --seed 20261201); long runs pick their own:
// npm run fuzz -- --cases 100000.
import t from 'tap';
import { runFuzz } from '../fuzz/fuzzer.js';

t.test('300 fuzzed inputs: the server stays up, answers or closes with documented codes, the canary is undisturbed', async (t) => {
  const report = await runFuzz({ cases: 300, seed: 20261201 });
  t.equal(report.failure, undefined, report.failure ?? '');
  t.equal(report.cases, 300);
  t.ok(report.byKind.message! > 0 && report.byKind.frame! > 0 && report.byKind.http! > 0, `every kind of input was tried: ${JSON.stringify(report.byKind)} (seed ${report.seed})`);
  t.ok(report.canaryFrames > 1, 'the canary kept getting frames');
});
