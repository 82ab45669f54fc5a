// `npm run bench:fanout -- --clients 1000 --symbols 20 --rate 5 --seconds 20`: one fan-out scenario against tickgate, JSON out.
import { parseArgs } from 'node:util';
import { runFanout } from './fanout.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'AVAXUSDT', 'LTCUSDT', 'DOTUSDT', 'LINKUSDT', 'TRXUSDT', 'ATOMUSDT', 'UNIUSDT', 'ETCUSDT', 'XLMUSDT', 'NEARUSDT', 'APTUSDT', 'FILUSDT', 'ARBUSDT', 'OPUSDT', 'INJUSDT', 'SUIUSDT', 'PEPEUSDT'];

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
  },
});
const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const symbols = n(values.symbols)!;
if (symbols < 1 || symbols > SYMBOLS.length) {
  process.stderr.write(`--symbols must be 1..${SYMBOLS.length}\n`);
  process.exit(2);
}
const targets = values.targets!.split(',') as Array<'tickgate' | 'uws-ceiling'>;
const results = [];
// Targets run one after the other in the same command, so their figures come from the same machine state.
for (const target of targets) {
  results.push(await runFanout({
    target,
    clients: n(values.clients)!,
    symbols: SYMBOLS.slice(0, symbols),
    kinds: values.kinds === 'none' ? [] : values.kinds!.split(','),
    pingEverySeconds: n(values['ping-every']),
    rate: n(values.rate)!,
    warmupSeconds: n(values.warmup)!,
    seconds: n(values.seconds)!,
    workers: n(values.workers),
    shards: n(values.shards),
    sourceAddresses: n(values['source-addresses']),
  }));
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
const base = results.find((r) => r.scenario.target === 'uws-ceiling');
const rows = results.map((r) => [
  r.scenario.target ?? 'tickgate', r.framesPerSecond, r.expectedFramesPerSecond, r.missing, r.latencyMs.p50, r.latencyMs.p99, r.server.cpuPercent,
  base ? (r.framesPerSecond / base.framesPerSecond).toFixed(2) : '-', base && base.latencyMs.p99 ? (r.latencyMs.p99 / base.latencyMs.p99).toFixed(2) : '-',
]);
process.stdout.write('\ntarget        frames/s  expected  missing  p50ms  p99ms  server%  ×ceiling(f/s)  ×ceiling(p99)\n');
for (const row of rows) process.stdout.write(`${String(row[0]).padEnd(12)}  ${row.slice(1).map((v) => String(v).padStart(8)).join(' ')}\n`);
