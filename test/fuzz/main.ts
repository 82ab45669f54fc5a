// `npm run fuzz -- --cases 100000 [--seed N]`: the property-based fuzzer against a real gateway; one JSON line out,
// exit 1 on the first failure (with its shrunk input and the seed that replays it).
import { parseArgs } from 'node:util';
import { runFuzz } from './fuzzer.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string' } } });
const cases = Number(values.cases);
if (!Number.isInteger(cases) || cases < 1) {
  process.stderr.write(`--cases must be a whole number above 0, not "${values.cases}"\n`);
  process.exit(2);
}
const seed = values.seed === undefined ? undefined : Number(values.seed);
const started = Date.now();
const report = await runFuzz({
  cases,
  ...(seed === undefined ? {} : { seed }),
  progress: (done) => process.stderr.write(`[fuzz] ${done}/${cases} cases, ${Math.round((Date.now() - started) / 1000)} s\n`),
});
process.stdout.write(JSON.stringify({ ...report, failures: report.failure ? 1 : 0, seconds: Math.round((Date.now() - started) / 1000) }) + '\n');
if (report.failure) {
  process.stderr.write(`[fuzz] FAILED\n${report.failure}\n`);
  process.exit(1);
}
