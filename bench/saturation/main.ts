// `npm run bench:saturation`: saturation per core for the price fan-out and the two mixes, against tickgate, the ceiling and NestJS.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../../core/config.js';
import { TARGETS, type Target } from '../targets.js';
import { MIXES, runSaturation, serves, type SaturationResult } from './saturation.js';
import { saturationTable } from './table.js';
import { MIN_CORES } from '../processes.js';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    mixes: { type: 'string', default: Object.keys(MIXES).join(',') },
    targets: { type: 'string', default: 'tickgate,uws-ceiling,nestjs' },
    warmup: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '6' },
    // A ladder of your own for every mix (rates or clients, as the mix raises its load), e.g. --ladder 20,30,40.
    ladder: { type: 'string' },
    bisect: { type: 'boolean', default: true },
    profile: { type: 'string' },
    // Caps the server at this much CPU (cores, e.g. 0.3) with a cgroup quota, so it saturates before the clients' core.
    'server-cores': { type: 'string' },
    // The p99 bar in ms (the is 50); a large value finds where delivery alone fails.
    'max-p99': { type: 'string', default: '50' },
    // perf counts the server's write syscalls of every kind (--no-syscalls: /proc's syscw only).
    syscalls: { type: 'boolean', default: true },
  },
});
const mixes = values.mixes!.split(',');
const unknownMix = mixes.filter((m) => !MIXES[m]);
const targets = values.targets!.split(',') as Target[];
const unknownTarget = targets.filter((t) => !TARGETS.includes(t));
if (unknownMix.length || unknownTarget.length) {
  process.stderr.write(`unknown ${[...unknownMix, ...unknownTarget].join(', ')}: mixes are ${Object.keys(MIXES).join(', ')}; targets ${TARGETS.join(', ')}\n`);
  process.exit(2);
}
const ladder = values.ladder ? values.ladder.split(',').map(Number) : undefined;
if (ladder && ladder.some((n, i) => !(n > 0) || (i > 0 && n <= ladder[i - 1]!))) {
  process.stderr.write('--ladder must be rising numbers above 0\n');
  process.exit(2);
}
const serverCores = values['server-cores'] === undefined ? undefined : Number(values['server-cores']);
if (serverCores !== undefined && !(serverCores >= MIN_CORES && serverCores <= 1)) {
  process.stderr.write(`--server-cores must be ${MIN_CORES} to 1 (of the one core the server runs on), not "${values['server-cores']}"\n`);
  process.exit(2);
}
if (serverCores && targets.includes('tickgate-cluster')) {
  process.stderr.write('--server-cores caps one server process; the cluster target runs three\n');
  process.exit(2);
}
const results: SaturationResult[] = [];
const skipped: Array<{ mix: string; target: Target }> = [];
const file = join(PACKAGE_ROOT, 'bench', 'results', `saturation-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(join(PACKAGE_ROOT, 'bench', 'results'), { recursive: true });
for (const key of mixes) {
  const mix = MIXES[key]!;
  for (const target of targets) {
    if (!serves(target, mix)) {
      skipped.push({ mix: mix.name, target });
      continue;
    }
    process.stderr.write(`[saturation] ${mix.name}: ${target}\n`);
    results.push(await runSaturation(mix, target, {
      warmupSeconds: Number(values.warmup), seconds: Number(values.seconds), bisect: values.bisect!, countSyscalls: values.syscalls!, limits: { minDelivered: 0.99, maxP99Ms: Number(values['max-p99']) }, ...(ladder ? { ladder } : {}),
      ...(values.profile ? { profileDir: join(values.profile, `${key}-${target}`) } : {}),
      ...(serverCores ? { serverCores } : {}),
      log: (l) => process.stderr.write(`${l}\n`),
    }));
    // Written after every search, so a run stopped half-way keeps what it measured.
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  }
}
const cap = serverCores ? `, capped at ${serverCores} of it` : '';
process.stdout.write(`\n## Saturation per core (server on core 0${cap}, clients and exchange on core 1; bar: 99 % delivered, p99 ≤ ${values['max-p99']} ms)\n\n${saturationTable(results, skipped)}\nResults: ${file}\n`);
