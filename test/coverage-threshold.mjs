// Fails the test run when coverage of the product code (not tests) falls under the project's thresholds.
// tap itself only knows "100 % or anything goes"; these numbers are the deliberate floor, raised as tests grow.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const THRESHOLDS = { lines: 90, branches: 80, functions: 85 };
const PRODUCT = /^(core|shards|plugins|sim|bench)\//;
// The cluster's code is tested by `npm run test:e2e` against a NATS server (test/e2e/cluster/); `npm test` runs on
// machines where none answers, so its floor would otherwise depend on the machine.
const E2E_ONLY = /^core\/cluster\//;

const summary = JSON.parse(readFileSync(new URL('../.tap/report/coverage-summary.json', import.meta.url), 'utf8'));
const totals = { lines: [0, 0], branches: [0, 0], functions: [0, 0] };
for (const [file, data] of Object.entries(summary)) {
  const path = relative(process.cwd(), file);
  if (file === 'total' || !PRODUCT.test(path) || E2E_ONLY.test(path)) continue;
  for (const k of Object.keys(totals)) {
    totals[k][0] += data[k].covered;
    totals[k][1] += data[k].total;
  }
}
let failed = false;
for (const [k, [covered, total]] of Object.entries(totals)) {
  const pct = total ? (100 * covered) / total : 100;
  const ok = pct >= THRESHOLDS[k];
  failed ||= !ok;
  console.log(`coverage of product code (core/cluster/ left to test:e2e), ${k}: ${pct.toFixed(2)} % (threshold ${THRESHOLDS[k]} %) ${ok ? 'ok' : 'TOO LOW'}`);
}
process.exit(failed ? 1 : 0);
