// `npm run bench:cluster`: tickgate standalone against a cluster on this machine (one ingest node, two gateways, the
// local NATS server), the same load on each, one after the other in this command: delivered frames, latency, the
// extra hop's cost (cluster minus standalone, per percentile), CPU of all processes, and NATS traffic per channel.
import { parseArgs } from 'node:util';
import { runFanout, type FanoutResult } from '../fanout/fanout.js';
import { BENCH_SYMBOLS } from '../targets.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    symbols: { type: 'string', default: '20' },
    rate: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '15' },
    // Kinds of the mixed run's focus channels (besides the watchlist's price frames); empty: a price-only run.
    focus: { type: 'string', default: 'ticker,trades,depth,klines:1m' },
  },
});
const num = (k: 'clients' | 'symbols' | 'rate' | 'warmup' | 'seconds') => {
  const v = Number(values[k]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`--${k} must be a positive number, not "${values[k]}"\n`);
    process.exit(2);
  }
  return v;
};
const clients = num('clients');
const symbols = BENCH_SYMBOLS.slice(0, num('symbols'));
const focusKinds = values.focus ? values.focus.split(',') : [];
const base = { clients, symbols, kinds: ['price'], rate: num('rate'), warmupSeconds: num('warmup'), seconds: num('seconds') };

const runs: Array<{ name: string; standalone: FanoutResult; cluster: FanoutResult }> = [];
for (const [name, options] of [
  [`price ${clients}×${symbols.length} @${base.rate}/s`, base],
  ...(focusKinds.length ? [[`mixed ${clients} (watchlist + ${focusKinds.join(' ')})`, { ...base, focusKinds }] as const] : []),
] as const) {
  process.stderr.write(`[bench:cluster] ${name}: standalone\n`);
  const standalone = await runFanout({ ...options, name, target: 'tickgate' });
  process.stderr.write(`[bench:cluster] ${name}: cluster (1 ingest node, 2 gateways, NATS)\n`);
  const cluster = await runFanout({ ...options, name, target: 'tickgate-cluster' });
  runs.push({ name, standalone, cluster });
}

const fmt = (n: number) => n.toLocaleString('en-US');
const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |\n`;
let out = line(['scenario', 'target', 'clients held', 'frames/s', 'missing + repeated', 'p50 ms', 'p90 ms', 'p99 ms', 'CPU (all processes)', 'NATS frames/s', 'NATS bytes per frame', 'channels']);
out += line(Array(12).fill('---'));
for (const r of runs) {
  for (const [target, x] of [['standalone', r.standalone], ['cluster', r.cluster]] as const) {
    out += line([r.name, target, `${fmt(x.held)}/${fmt(x.scenario.clients)}`, fmt(x.framesPerSecond), fmt(x.missing + x.duplicated), x.latencyMs.p50, x.latencyMs.p90, x.latencyMs.p99, `${x.server.cpuPercent} %`,
      x.nats ? fmt(x.nats.framesPerSecond) : '-', x.nats && x.nats.framesPerSecond ? Math.round(x.nats.bytesPerSecond / x.nats.framesPerSecond) : '-', x.nats ? x.nats.channels : '-']);
  }
}
out += '\n' + line(['scenario', 'frames/s cluster ÷ standalone', 'extra hop p50 ms', 'extra hop p90 ms', 'extra hop p99 ms', 'CPU cluster ÷ standalone']);
out += line(Array(6).fill('---'));
for (const r of runs) {
  const s = r.standalone;
  const c = r.cluster;
  out += line([r.name, (c.framesPerSecond / s.framesPerSecond).toFixed(3), c.latencyMs.p50 - s.latencyMs.p50, c.latencyMs.p90 - s.latencyMs.p90, c.latencyMs.p99 - s.latencyMs.p99, s.server.cpuPercent ? (c.server.cpuPercent / s.server.cpuPercent).toFixed(2) : '-']);
}
process.stdout.write(out);
