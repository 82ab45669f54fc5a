// `npm run bench`: the standard suite. Every scenario runs against its targets one after the other in this one command,
// so ratios compare runs on the same machine state. Writes bench/results/<time>.json and prints the fan-out and HTTP tables, then one summary table.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runFanout, type FanoutOptions, type FanoutResult } from './fanout/fanout.js';
import { runHttp, type HttpResult } from './http/http.js';
import { fanoutTable, httpTable, summaryTable } from './report.js';
import { MIXES, runSaturation, type SaturationResult } from './saturation/saturation.js';
import { saturationTable } from './saturation/table.js';
import { BENCH_SYMBOLS, type Target } from './targets.js';
import { commitId, machineInfo, resultsDir } from './run-info.js';

const { values } = parseArgs({
  options: {
    // --quick: every scenario at a tenth of its size and a few seconds, to check the suite itself runs.
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const quick = values.quick!;
const scale = (n: number) => (quick ? Math.max(10, Math.round(n / 10)) : n);
const seconds = quick ? 3 : 10;
const warmupSeconds = quick ? 1 : 3;

interface Scenario {
  name: string;
  targets: Target[];
  options: Omit<FanoutOptions, 'target' | 'name'>;
}

const symbols20 = BENCH_SYMBOLS.slice(0, 20);
const scenarios: Scenario[] = [
  {
    // The issue's headline load: ~100k frames/s of price frames. tickgate-cluster: one ingest node and two gateways on
    // the local NATS server (NATS_URL), the same clients spread over the two (npm run bench:cluster compares in detail).
    name: `price ${scale(1000)}×20 @5/s`,
    // (History off and deflate: npm run bench:fanout -- --targets tickgate,tickgate-no-history,tickgate-deflate.)
    targets: ['tickgate', 'uws-ceiling', 'nestjs', 'tickgate-cluster'],
    options: { clients: scale(1000), symbols: symbols20, kinds: ['price'], rate: 5, warmupSeconds, seconds },
  },
  {
    // Twice the load (~200k frames/s): where the NestJS peer stops keeping up on a machine where it holds 1000.
    name: `price ${scale(2000)}×20 @5/s`,
    targets: ['tickgate', 'uws-ceiling', 'nestjs'],
    options: { clients: scale(2000), symbols: symbols20, kinds: ['price'], rate: 5, warmupSeconds, seconds },
  },
  {
    // A trading screen per client: prices for a 20-symbol watchlist, plus ticker, trades, depth and 1m klines of one
    // symbol of its own (client i: symbol i mod 20). The ceiling relays the same kinds (depth: the exchange's own top 10).
    name: `mixed ${scale(1000)} (watchlist + focus)`,
    // (History off and deflate: see the first scenario; their mixed figures are in BENCHMARKS.md.)
    targets: ['tickgate', 'uws-ceiling'],
    // It settles before its idle baseline, so RSS per connection is readable (a fresh start's heap noise is gone).
    options: { clients: scale(1000), symbols: symbols20, kinds: ['price'], focusKinds: ['ticker', 'trades', 'depth', 'klines:1m'], rate: 5, warmupSeconds, seconds, settleSeconds: quick ? 0 : 12 },
  },
  {
    // The same ~100k frames/s on average (in bursts of 200k every 2 s) over ten times the connections: memory per
    // subscribed connection under load, where connections outweigh heap noise (at 1000 they do not).
    name: `price ${scale(10000)}×20 @0.5/s`,
    targets: ['tickgate', 'uws-ceiling'],
    options: { clients: scale(10000), symbols: symbols20, kinds: ['price'], rate: 0.5, warmupSeconds, seconds: quick ? 3 : 10, sourceAddresses: 2, settleSeconds: quick ? 0 : 12 },
  },
  {
    // Connection scale: idle clients with heartbeats, from four loopback source addresses.
    name: `idle ${scale(15000)} + pings`,
    targets: ['tickgate', 'uws-ceiling', 'nestjs'],
    options: { clients: scale(15000), symbols: symbols20.slice(0, 1), kinds: [], rate: 1, warmupSeconds: quick ? 1 : 5, seconds: quick ? 3 : 10, pingEverySeconds: 10, sourceAddresses: 4, settleSeconds: quick ? 0 : 12 },
  },
];

const started = new Date();
const commit = commitId();
const machine = machineInfo();
const dir = resultsDir();
const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
const fanout: FanoutResult[] = [];
const http: HttpResult[] = [];
/** Runs that failed: the suite reports them and goes on. */
const failures: Array<{ scenario: string; target: Target; error: string }> = [];
// Written after every run, so a suite stopped half-way keeps what it measured.
const saturation: SaturationResult[] = [];
const save = () => writeFileSync(file, `${JSON.stringify({ started: started.toISOString(), seconds: Math.round((Date.now() - started.getTime()) / 1000), quick, commit, machine, fanout, http, saturation, failures }, null, 2)}\n`);
const selected = scenarios.filter((s) => !values.only || s.name.startsWith(values.only));
const withHttp = !values.only || 'http'.startsWith(values.only);
const withSaturation = !values.only || 'saturation'.startsWith(values.only);
if (selected.length === 0 && !withHttp && !withSaturation) {
  process.stderr.write(`--only ${values.only}: no scenario name starts with it (${scenarios.map((s) => `"${s.name}"`).join(', ')}, "http", "saturation")\n`);
  process.exit(2);
}
for (const s of selected) {
  for (const target of s.targets) {
    process.stderr.write(`[bench] ${s.name}: ${target}\n`);
    try {
      fanout.push(await runFanout({ ...s.options, name: s.name, target }));
    } catch (err) {
      process.stderr.write(`[bench] ${s.name}: ${target} failed: ${(err as Error).message}\n`);
      failures.push({ scenario: s.name, target, error: (err as Error).message });
    }
    save();
  }
}
if (withHttp) {
  for (const target of ['tickgate', 'nestjs'] as const) {
    process.stderr.write(`[bench] http: ${target}\n`);
    try {
      http.push(await runHttp({ target, paths: ['/health', '/api/v1/ws/stats', '/api/v1/market/ticker/BTCUSDT'], connections: 100, seconds: quick ? 2 : 5 }));
    } catch (err) {
      process.stderr.write(`[bench] http: ${target} failed: ${(err as Error).message}\n`);
      failures.push({ scenario: 'http', target, error: (err as Error).message });
    }
    save();
  }
}
if (withSaturation) {
  // A short pass of npm run bench:saturation: the price fan-out only, a coarse ladder, short windows. It
  // runs last because it pins this process (the clients) to one core while it runs.
  for (const target of ['tickgate', 'uws-ceiling', 'nestjs'] as const) {
    process.stderr.write(`[bench] saturation: ${target}\n`);
    try {
      // Delivery alone: on two cores the clients share one core with the exchange, and draining the 20 symbols' ticks,
      // which arrive together, puts their p99 anywhere from 20 to 150 ms whatever the server (BENCHMARKS.md).
      saturation.push(await runSaturation(MIXES.price!, target, { warmupSeconds: 2, seconds: quick ? 2 : 4, ladder: quick ? [2, 5] : [2, 8, 40], limits: { minDelivered: 0.99, maxP99Ms: Number.MAX_SAFE_INTEGER }, log: (l) => process.stderr.write(`${l}\n`) }));
    } catch (err) {
      process.stderr.write(`[bench] saturation: ${target} failed: ${(err as Error).message}\n`);
      failures.push({ scenario: 'saturation', target, error: (err as Error).message });
    }
    save();
  }
}
process.stdout.write(`\n## Fan-out (${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, commit ${commit})\n\n${fanoutTable(fanout)}\n## HTTP\n\n${httpTable(http)}`);
process.stdout.write(`\n## Summary: tickgate against the ceiling and NestJS\n\n${summaryTable(fanout, http)}\n`);
if (saturation.length) process.stdout.write(`\n## Saturation per core (short pass, delivery bar only: 99 % delivered; npm run bench:saturation for the full search)\n\n${saturationTable(saturation)}`);
for (const f of failures) process.stdout.write(`FAILED ${f.scenario}: ${f.target}: ${f.error}\n`);
process.stdout.write(`Results: ${file}\n`);
