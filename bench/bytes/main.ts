// `npm run bench:bytes`: what each client costs in bandwidth, per way of asking for the same feed (full, conflated, delta).
import { parseArgs } from 'node:util';
import { runFanout, type FanoutResult } from '../fanout/fanout.js';
import { BENCH_SYMBOLS } from '../targets.js';
import { channelName } from '../fanout/channels.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    symbols: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '5' },
  },
});
const clients = Number(values.clients);
const symbolsN = Number(values.symbols);
const seconds = Number(values.seconds);
const rate = Number(values.rate);
if (![clients, symbolsN, seconds, rate].every((n) => Number.isFinite(n) && n > 0) || symbolsN > BENCH_SYMBOLS.length) {
  process.stderr.write(`--clients, --seconds and --rate must be numbers above 0, --symbols 1..${BENCH_SYMBOLS.length}\n`);
  process.exit(2);
}

/** Each group: the full feed first (the baseline), then the ways to ask for less of it. */
const GROUPS: Array<{ feed: string; variants: string[] }> = [
  { feed: 'price', variants: ['price', 'price@1s', 'price@5s'] },
  { feed: 'ticker', variants: ['ticker', 'ticker@1s'] },
  { feed: 'depth (10 levels)', variants: ['depth', 'depthDelta', 'depth@1s'] },
  { feed: 'depth (100 levels)', variants: ['depth:100', 'depthDelta:100', 'depth:100@1s'] },
];

const symbols = BENCH_SYMBOLS.slice(0, symbolsN);
const rows: Array<{ feed: string; kind: string; r: FanoutResult; base: FanoutResult }> = [];
for (const g of GROUPS) {
  let base: FanoutResult | undefined;
  for (const kind of g.variants) {
    process.stderr.write(`[bench:bytes] ${kind}\n`);
    const r = await runFanout({ name: `bytes ${kind}`, target: 'tickgate', clients, symbols, kinds: [kind], rate, warmupSeconds: 3, seconds });
    base ??= r;
    rows.push({ feed: g.feed, kind, r, base });
  }
}

const perClient = (r: FanoutResult, n: number) => (r.held ? n / r.held : 0);
const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |\n`;
let out = `\n## Bytes per client (${clients} clients × ${symbolsN} symbols, exchange ticker every ${Math.round(1000 / rate)} ms, ${seconds} s windows)\n\n`;
out += line(['feed', 'channels', 'frames/s per client', 'bytes per frame', 'KB/s per client', '÷ full feed', 'missing + repeated', 'p99 ms']);
out += line(['---', '---', '---', '---', '---', '---', '---', '---']);
for (const { feed, kind, r, base } of rows) {
  const bps = perClient(r, r.bytesPerSecond);
  out += line([
    feed, `\`${channelName(kind, 'SYM')}\``, perClient(r, r.framesPerSecond).toFixed(1),
    r.framesPerSecond ? Math.round(r.bytesPerSecond / r.framesPerSecond) : '-', (bps / 1024).toFixed(2),
    r === base ? '1 (baseline)' : bps ? `${(perClient(base, base.bytesPerSecond) / bps).toFixed(1)}× less` : '-',
    r.missing + r.duplicated, r.latencyMs.p99,
  ]);
}
process.stdout.write(`${JSON.stringify(rows.map(({ feed, kind, r }) => ({ feed, kind, framesPerSecond: r.framesPerSecond, bytesPerSecond: r.bytesPerSecond, held: r.held, missing: r.missing, duplicated: r.duplicated, p99: r.latencyMs.p99 })), null, 2)}\n${out}`);
