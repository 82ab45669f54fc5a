// `npm run bench:slow -- --clients 1000 --slow 200 --budget-mb 256`: clients that stop reading, beside clients that
// keep up. Three fan-out runs in one command: without the extra clients; with them reading everything (the same
// channels open, the same fan-out work); with them never reading. Reports the normal clients' latency in each, the
// gateway's RSS over the last run against limits.maxQueuedBytes, and what the budget closed.
import { parseArgs } from 'node:util';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { runFanout, type FanoutResult } from '../fanout/fanout.js';
import { BENCH_SYMBOLS } from '../targets.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    slow: { type: 'string', default: '200' },
    symbols: { type: 'string', default: '20' },
    rate: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '40' },
    'budget-mb': { type: 'string', default: '256' },
  },
});
const num = (k: keyof typeof values) => {
  const v = Number(values[k]);
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`--${k} must be a number of 0 or more, not "${values[k]}"\n`);
    process.exit(2);
  }
  return v;
};
const clients = num('clients');
const slowN = num('slow');
const symbols = BENCH_SYMBOLS.slice(0, num('symbols'));
const budgetBytes = num('budget-mb') * 2 ** 20;
/** What a slow client holds: every symbol's depth and trades besides the price (the heavy channels fill queues). */
const slowChannels = symbols.flatMap((s) => [`price:${s}`, `depth:${s}`, `trades:${s}`, `ticker:${s}`]);

/** A masked client text frame. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const key = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, key, Buffer.from(payload.map((b, i) => b ^ key[i % 4]!))]);
}

/** A client that subscribes to the heavy channels, then never reads again (or, `reads`, reads and drops everything). */
function heavyClient(port: number, reads: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('error', reject);
    s.once('data', () => {
      s.write(textFrame(JSON.stringify({ type: 'subscribe', channels: slowChannels })));
      if (reads) s.on('data', () => {});
      else s.pause();
      s.on('error', () => {});
      resolve(s);
    });
    s.write(`GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

/** `n` heavy clients, opened one after the other. */
async function heavyClients(port: number, n: number, reads: boolean): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) sockets.push(await heavyClient(port, reads));
  return sockets;
}

async function metric(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

interface SlowReport {
  slowClients: number;
  slowClosedByBudget: { client: number; total: number };
  rssMbMax: number;
  rssMbAtStart: number;
  queuedMbMax: number;
  budgetMb: number;
}

const env = {
  TICKGATE__LIMITS__MAX_QUEUED_BYTES: String(budgetBytes),
  TICKGATE__LIMITS__MAX_CHANNELS_PER_CLIENT: String(Math.max(50, slowChannels.length)),
};
const base = { clients, symbols, kinds: ['price'], rate: num('rate'), warmupSeconds: num('warmup'), seconds: num('seconds'), env, settleSeconds: 8 };

process.stderr.write(`[bench:slow] baseline: ${clients} clients, no others\n`);
const baseline = await runFanout({ ...base, name: 'baseline' });
process.stderr.write(`[bench:slow] ${clients} clients beside ${slowN} that read the heavy channels\n`);
const reading = await runFanout({
  ...base,
  name: `with ${slowN} reading`,
  background: async (port) => {
    const sockets = await heavyClients(port, slowN, true);
    return {
      async stop() {
        for (const s of sockets) s.destroy();
        return undefined;
      },
    };
  },
});
process.stderr.write(`[bench:slow] ${clients} clients beside ${slowN} that stop reading (budget ${values['budget-mb']} MiB)\n`);
const loaded = await runFanout({
  ...base,
  name: `with ${slowN} slow`,
  background: async (port) => {
    const sockets = await heavyClients(port, slowN, false);
    const report: SlowReport = { slowClients: slowN, slowClosedByBudget: { client: 0, total: 0 }, rssMbMax: 0, rssMbAtStart: 0, queuedMbMax: 0, budgetMb: budgetBytes / 2 ** 20 };
    report.rssMbAtStart = Math.round((await metric(port, 'tickgate_process_resident_memory_bytes')) / 2 ** 20);
    let running = true;
    const sampling = (async () => {
      while (running) {
        const rss = await metric(port, 'tickgate_process_resident_memory_bytes');
        const queued = await metric(port, 'tickgate_send_queue_bytes');
        report.rssMbMax = Math.max(report.rssMbMax, Math.round(rss / 2 ** 20));
        report.queuedMbMax = Math.max(report.queuedMbMax, Math.round((queued / 2 ** 20) * 10) / 10);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    return {
      async stop() {
        running = false;
        await sampling;
        report.slowClosedByBudget.client = await metric(port, 'tickgate_slow_clients_closed_total', '{reason="client"}');
        report.slowClosedByBudget.total = await metric(port, 'tickgate_slow_clients_closed_total', '{reason="total"}');
        for (const s of sockets) s.destroy();
        return report;
      },
    };
  },
});

const slow = loaded.background as SlowReport;
const row = (r: FanoutResult) => `| ${r.scenario.name} | ${r.held}/${r.scenario.clients} | ${r.framesPerSecond} | ${r.missing + r.duplicated} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.server.rssMbLoaded} |`;
process.stdout.write(`${JSON.stringify({ baseline, reading, loaded }, null, 2)}\n\n`);
process.stdout.write('| run | normal clients held | frames/s | missing + repeated | p50 ms | p99 ms | RSS MB (median) |\n|---|---|---|---|---|---|---|\n');
process.stdout.write(`${row(baseline)}\n${row(reading)}\n${row(loaded)}\n\n`);
process.stdout.write(`normal clients' p99 with ${slowN} slow clients: ${(loaded.latencyMs.p99 / reading.latencyMs.p99).toFixed(2)} × with the same clients reading, ${(loaded.latencyMs.p99 / baseline.latencyMs.p99).toFixed(2)} × without them\n`);
process.stdout.write(`RSS: ${slow.rssMbAtStart} MB when the slow clients were in, at most ${slow.rssMbMax} MB during the run; budget for queues ${slow.budgetMb} MiB (queued at most ${slow.queuedMbMax} MiB)\n`);
process.stdout.write(`slow clients closed with 4507: ${slow.slowClosedByBudget.client} over their own limit, ${slow.slowClosedByBudget.total} for the total budget, of ${slow.slowClients}\n`);
