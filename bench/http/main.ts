// `npm run bench:http -- --targets tickgate,nestjs`: autocannon against each target's HTTP routes, JSON and a table out.
import { parseArgs } from 'node:util';
import { runHttp, type HttpResult } from './http.js';
import { httpTable } from '../report.js';
import { TARGETS, type Target } from '../targets.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    paths: { type: 'string', default: '/health,/api/v1/ws/stats,/api/v1/market/ticker/BTCUSDT' },
    targets: { type: 'string', default: 'tickgate' },
  },
});
const targets = values.targets!.split(',') as Target[];
const unknown = targets.filter((t) => !TARGETS.includes(t) || t === 'uws-ceiling');
if (unknown.length) {
  process.stderr.write(`--targets: unknown or without HTTP routes: ${unknown.join(', ')} (use tickgate, nestjs)\n`);
  process.exit(2);
}
const runs: HttpResult[] = [];
for (const target of targets) {
  runs.push(await runHttp({ target, paths: values.paths!.split(','), connections: Number(values.connections), seconds: Number(values.seconds) }));
}
process.stdout.write(`${JSON.stringify(runs, null, 2)}\n\n${httpTable(runs)}`);
