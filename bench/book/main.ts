// `npm run bench:book`: what the shard's local order book costs per diff-depth event (apply the diff, build the top
// levels a depth frame is made from), on the diffs the simulated exchange sends. `--against FILE` runs another
// compiled order-book.js beside it, alternating, so that two versions are compared in one command.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { DEFAULT_SYMBOLS, SymbolMarket, prng } from '../../sim/market-model.js';
import * as current from '../../shards/market/order-book.js';
import type { DepthDiff, DepthSnapshot } from '../../shards/market/order-book.js';
import { BOOK_LEVELS } from '../../shards/market/market-events.js';

const { values } = parseArgs({
  options: {
    diffs: { type: 'string', default: '20000' },
    'trades-per-diff': { type: 'string', default: '0.5' },
    rounds: { type: 'string', default: '6' },
    against: { type: 'string' },
  },
});
const count = Number(values.diffs);
const tradesPerDiff = Number(values['trades-per-diff']);
const rounds = Number(values.rounds);
if (!(Number.isInteger(count) && count >= 2 && tradesPerDiff >= 0 && Number.isInteger(rounds) && rounds >= 1)) {
  process.stderr.write('--diffs must be a whole number of at least 2, --rounds one of at least 1, --trades-per-diff a number of at least 0\n');
  process.exit(2);
}

type BookModule = typeof current;
const versions: Array<{ name: string; mod: BookModule }> = [{ name: 'this build', mod: current }];
if (values.against) {
  const file = resolve(values.against);
  let mod: BookModule | undefined;
  try {
    mod = (await import(pathToFileURL(file).href)) as BookModule;
  } catch (err) {
    process.stderr.write(`--against ${values.against}: cannot load it (${(err as Error).message}); give a compiled order-book.js\n`);
    process.exit(2);
  }
  if (typeof mod.BookSync !== 'function') {
    process.stderr.write(`--against ${values.against}: it has no BookSync; give a compiled order-book.js\n`);
    process.exit(2);
  }
  versions.push({ name: values.against, mod });
}

// The simulated exchange's book for one symbol: the default 5 trades a second and a diff every 100 ms make 0.5
// trades a diff, each trade moving the price and with it the levels around it.
const rand = prng(7);
// A fixed start: the same diffs on every run.
const START = Date.UTC(2026, 0, 1);
const market = new SymbolMarket(DEFAULT_SYMBOLS[0]!, rand, START);
const str = (levels: Array<[number, number]>): Array<[string, string]> => levels.map(([p, q]) => [String(p), String(q)]);
// The book the exchange's REST snapshot gives just before the first diff.
const before = market.topOfBook(Number.MAX_SAFE_INTEGER);
const diffs: DepthDiff[] = [];
let now = START;
while (diffs.length < count) {
  now += 100;
  for (let k = tradesPerDiff; k > 0; k--) if (k >= 1 || rand() < k) market.trade(now);
  const d = market.bookStep();
  if (d) diffs.push({ U: d.firstUpdateId, u: d.finalUpdateId, bids: str(d.bids), asks: str(d.asks) });
}
const first = diffs[0]!;
// The exchange's book after the last diff: each version must end with exactly it.
const after = JSON.stringify(market.topOfBook(Number.MAX_SAFE_INTEGER));
const snapshot: DepthSnapshot = { lastUpdateId: first.U - 1, bids: str(before.bids), asks: str(before.asks) };
const sizes = diffs.map((d) => d.bids.length + d.asks.length).sort((a, b) => a - b);
const levelsPerDiff = sizes.reduce((a, n) => a + n, 0) / sizes.length;

function run(mod: BookModule, name: string): number {
  const sync = new mod.BookSync();
  sync.onDiff(first);
  if (sync.onSnapshot(snapshot).kind !== 'live') throw new Error(`${name}: the book did not go live on the first snapshot`);
  const t0 = process.hrtime.bigint();
  for (let i = 1; i < diffs.length; i++) {
    const r = sync.onDiff(diffs[i]!);
    if (r?.kind !== 'updated') throw new Error(`${name}, diff ${i}: ${r ? r.kind : 'ignored'}${r?.kind === 'resync' ? ` (${r.reason})` : ''}`);
    // What the exchange adapter does on every update while someone listens to the book.
    sync.book.top(BOOK_LEVELS);
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000 / (diffs.length - 1);
  if (JSON.stringify(sync.book.top(Number.MAX_SAFE_INTEGER)) !== after) throw new Error(`${name}: the book after the last diff is not the exchange's`);
  return us;
}

const pct = (q: number): number => sizes[Math.min(sizes.length - 1, Math.floor(q * sizes.length))]!;
process.stdout.write(`${diffs.length} diffs of ${DEFAULT_SYMBOLS[0]!.symbol}: levels per diff ${levelsPerDiff.toFixed(0)} on average, ` +
  `median ${pct(0.5)}, p90 ${pct(0.9)}, max ${sizes[sizes.length - 1]}; the top ${BOOK_LEVELS} built after each\n`);
// One round unmeasured (the code is cold), then the versions alternate which goes first.
for (const v of versions) run(v.mod, v.name);
const results = versions.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? versions.map((_, i) => i) : versions.map((_, i) => versions.length - 1 - i);
  for (const i of order) results[i]!.push(run(versions[i]!.mod, versions[i]!.name));
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
process.stdout.write('\n| version | µs per diff, each round | median |\n| --- | --- | --- |\n');
versions.forEach((v, i) => process.stdout.write(`| ${v.name} | ${results[i]!.map((x) => x.toFixed(1)).join(', ')} | ${median(results[i]!).toFixed(1)} |\n`));
if (versions.length > 1) process.stdout.write(`\nthis build ÷ ${versions[1]!.name}, median: ${(median(results[0]!) / median(results[1]!)).toFixed(2)}\n`);
