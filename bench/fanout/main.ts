// `npm run bench:fanout -- --clients 1000 --symbols 20 --rate 5 --seconds 20`: one fan-out scenario against tickgate, JSON out.
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runFanout } from './fanout.js';
import { cpus } from 'node:os';
import { MIN_CORES, pinProcess } from '../processes.js';
import { LOAD_CPUS, SERVER_CPUS } from '../saturation/saturation.js';
import { fanoutTable } from '../report.js';
import { BENCH_SYMBOLS as SYMBOLS, TARGETS, checkServed, type Target } from '../targets.js';


const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    symbols: { type: 'string', default: '20' },
    kinds: { type: 'string', default: 'price' },
    rate: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    workers: { type: 'string' },
    shards: { type: 'string' },
    'source-addresses': { type: 'string', default: '0' },
    targets: { type: 'string', default: 'tickgate' },
    'ping-every': { type: 'string', default: '0' },
    focus: { type: 'string', default: '' },
    profile: { type: 'string' },
    settle: { type: 'string', default: '0' },
    'connect-seconds': { type: 'string', default: '60' },
    'sample-every': { type: 'string', default: '97' },
    // Count the target's write syscalls of every kind with perf (frames per write in the output).
    syscalls: { type: 'boolean', default: false },
    // Sample the target's CPU, native code included, with perf record over the window; perf's files go here.
    perf: { type: 'string' },
    // Pin the target to core 0 (and this process to core 1) and cap it at this much CPU (cores), as bench:saturation does.
    'server-cores': { type: 'string' },
  },
});
const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const symbols = n(values.symbols)!;
if (symbols < 1 || symbols > SYMBOLS.length) {
  process.stderr.write(`--symbols must be 1..${SYMBOLS.length}\n`);
  process.exit(2);
}
for (const key of ['clients', 'rate', 'seconds', 'sample-every'] as const) {
  const v = Number(values[key]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`--${key} must be a number above 0, not "${values[key]}"\n`);
    process.exit(2);
  }
}
for (const key of ['warmup', 'settle', 'ping-every', 'source-addresses'] as const) {
  const v = Number(values[key]);
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`--${key} must be a number of 0 or more, not "${values[key]}"\n`);
    process.exit(2);
  }
}
const serverCores = values['server-cores'] === undefined ? undefined : Number(values['server-cores']);
if (serverCores !== undefined && !(serverCores >= MIN_CORES && serverCores <= 1)) {
  process.stderr.write(`--server-cores must be ${MIN_CORES} to 1 (of the one core the target runs on), not "${values['server-cores']}"\n`);
  process.exit(2);
}
if (serverCores && cpus().length < 2) {
  process.stderr.write('--server-cores needs two cores: one for the target, one for the clients\n');
  process.exit(2);
}
// Capped, the target runs on core 0 and this process (the clients, and the exchange it starts) on core 1.
if (serverCores) pinProcess(process.pid, LOAD_CPUS);
if (values.perf) mkdirSync(values.perf, { recursive: true });
const targets = values.targets!.split(',') as Target[];
const unknown = targets.filter((t) => !TARGETS.includes(t));
if (unknown.length) {
  process.stderr.write(`--targets: unknown ${unknown.join(', ')} (use ${TARGETS.join(', ')})\n`);
  process.exit(2);
}
const kinds = values.kinds === 'none' ? [] : values.kinds!.split(',');
const focusKinds = values.focus ? values.focus.split(',') : [];
// Every target is checked before the first runs: a refusal after a long run would lose that run's figures.
for (const target of targets) {
  try {
    checkServed(target, [...kinds, ...focusKinds]);
    if (serverCores && target === 'tickgate-cluster') throw new Error('--server-cores caps one server process; the cluster target runs three');
  } catch (err) {
    process.stderr.write(`--targets: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
const results = [];
// Targets run one after the other in the same command, so their figures come from the same machine state.
for (const target of targets) {
  results.push(await runFanout({
    name: 'cli',
    target,
    clients: n(values.clients)!,
    symbols: SYMBOLS.slice(0, symbols),
    kinds,
    profileDir: values.profile,
    countSyscalls: values.syscalls,
    ...(values.perf ? { nativeProfileDir: values.perf } : {}),
    ...(serverCores ? { serverCpus: SERVER_CPUS, serverCores } : {}),
    settleSeconds: n(values.settle),
    connectSeconds: n(values['connect-seconds']),
    focusKinds,
    pingEverySeconds: n(values['ping-every']),
    rate: n(values.rate)!,
    warmupSeconds: n(values.warmup)!,
    seconds: n(values.seconds)!,
    // Capped: two client threads on the one load core, as bench:saturation runs them.
    workers: n(values.workers) ?? (serverCores ? 2 : undefined),
    shards: n(values.shards),
    sourceAddresses: n(values['source-addresses']),
    sampleEvery: Math.max(1, Math.round(n(values['sample-every'])!)),
  }));
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n\n${fanoutTable(results)}`);
for (const r of results) {
  const n = r.server.native;
  if (!n) continue;
  process.stdout.write(`\nWhere ${r.scenario.target}'s CPU went (perf, ${n.samples} samples, ${n.file}):\n`);
  for (const b of n.byBinary) process.stdout.write(`  ${b.percent.toFixed(1).padStart(5)} %  ${b.what}\n`);
  process.stdout.write('  top functions:\n');
  for (const f of n.top) process.stdout.write(`  ${f.percent.toFixed(1).padStart(5)} %  ${f.what}\n`);
}
