// `npm run bench:sweep`: how CPU, RSS and p99 grow with connections (idle and active) and with channels per client.
// Writes bench/results/sweep-<time>.json and .svg, and bench/sweep.svg (the plot BENCHMARKS.md shows) on a full run;
// --replot FILE draws a saved sweep again.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../../core/config.js';
import { runFanout } from '../fanout/fanout.js';
import { sweepTable } from '../report.js';
import { TARGETS, type Target } from '../targets.js';
import { sweepPanels, type SweepRun } from './panels.js';
import { chartSvg } from './plot.js';
import { sweepPoints, type Sweep } from './points.js';
import { commitId, machineInfo, resultsDir } from '../run-info.js';

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: 'tickgate,uws-ceiling' },
    connections: { type: 'string', default: '1000,5000,10000,19000' },
    'channel-clients': { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '8' },
    // A fresh Node process gives back its start-up garbage about 8 s in: the idle baseline waits for it.
    settle: { type: 'string', default: '8' },
    only: { type: 'string' },
    // --replot FILE: the plot and table again from a sweep's JSON, without running anything.
    replot: { type: 'string' },
    // --quick: a tenth of the clients and a few seconds a point, to check the sweep runs (bench/sweep.svg is left alone).
    quick: { type: 'boolean', default: false },
  },
});
const fail = (message: string): never => {
  process.stderr.write(`${message}\n`);
  process.exit(2);
};
const quick = values.quick!;
const targets = values.targets!.split(',') as Target[];
for (const t of targets) if (!TARGETS.includes(t)) fail(`--targets: unknown ${t} (use ${TARGETS.join(', ')})`);
if (values.only && values.only !== 'connections' && values.only !== 'channels') fail('--only: connections or channels');
const numbers = (v: string, name: string) => v.split(',').map((x) => (Number(x) > 0 ? Number(x) : fail(`--${name}: positive numbers, not "${v}"`)));
const scale = (n: number) => (quick ? Math.max(10, Math.round(n / 10)) : n);
const points = sweepPoints({
  targets,
  connections: numbers(values.connections!, 'connections').map(scale),
  channelClients: scale(numbers(values['channel-clients']!, 'channel-clients')[0]!),
  warmupSeconds: quick ? 1 : numbers(values.warmup!, 'warmup')[0]!,
  seconds: quick ? 2 : numbers(values.seconds!, 'seconds')[0]!,
  settleSeconds: quick ? 0 : Number(values.settle),
  ...(values.only ? { only: values.only as Sweep } : {}),
});

const publish = (svg: string) => writeFileSync(join(PACKAGE_ROOT, 'bench', 'sweep.svg'), svg);
if (values.replot) {
  const saved = JSON.parse(readFileSync(values.replot, 'utf8')) as { commit: string; machine: { cpus: number; cpuModel: string; node: string }; runs: SweepRun[]; quick: boolean };
  const { panels, columns } = sweepPanels(saved.runs);
  const svg = chartSvg(`tickgate cost growth (${saved.machine.cpus} × ${saved.machine.cpuModel}, commit ${saved.commit})`, panels, columns);
  writeFileSync(values.replot.replace(/\.json$/, '.svg'), svg);
  if (!saved.quick) publish(svg);
  process.stdout.write(`${sweepTable(saved.runs)}\nPlot: ${values.replot.replace(/\.json$/, '.svg')}${saved.quick ? '' : ' (copied to bench/sweep.svg)'}\n`);
  process.exit(0);
}

const started = new Date();
const commit = commitId();
const machine = machineInfo();
const dir = resultsDir();
const base = join(dir, `sweep-${started.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}`);
const runs: SweepRun[] = [];
const failures: Array<{ sweep: Sweep; x: number; line: string; target: Target; error: string }> = [];
// Written after every run, so a sweep stopped half-way keeps what it measured.
const save = () => writeFileSync(`${base}.json`, `${JSON.stringify({ started: started.toISOString(), seconds: Math.round((Date.now() - started.getTime()) / 1000), quick, commit, machine, runs, failures }, null, 2)}\n`);
for (const [i, p] of points.entries()) {
  const label = `${p.sweep} ${p.x} ${p.line}: ${p.target}`;
  process.stderr.write(`[sweep ${i + 1}/${points.length}] ${label}\n`);
  try {
    const result = await runFanout({ ...p.options, name: `sweep ${p.sweep} ${p.x} ${p.line}`, target: p.target });
    runs.push({ sweep: p.sweep, line: p.line, x: p.x, target: p.target, result });
  } catch (err) {
    process.stderr.write(`[sweep] ${label} failed: ${(err as Error).message}\n`);
    failures.push({ sweep: p.sweep, x: p.x, line: p.line, target: p.target, error: (err as Error).message });
  }
  save();
}
const { panels, columns } = sweepPanels(runs);
const svg = chartSvg(`tickgate cost growth (${machine.cpus} × ${machine.cpuModel}, commit ${commit})`, panels, columns);
writeFileSync(`${base}.svg`, svg);
if (!quick && !values.only) publish(svg);
process.stdout.write(`\n## Cost growth (${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, commit ${commit})\n\n${sweepTable(runs)}\n`);
for (const f of failures) process.stdout.write(`FAILED ${f.sweep} ${f.x} ${f.line}: ${f.target}: ${f.error}\n`);
process.stdout.write(`Results: ${base}.json\nPlot: ${base}.svg${!quick && !values.only ? ' (copied to bench/sweep.svg)' : ''}\n`);
