// Soak check: local books of several symbols against the simulated exchange's own book, with sequence gaps injected.
// Run: npm run soak:books -- [--seconds 120] [--gap-every-ms 3000]. Prints one JSON line; exits 1 on any mismatch.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { TickgateServer } from '../../core/server.js';
import { SimExchange } from '../../sim/exchange.js';
import { TestClient } from '../helpers/ws-client.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, 'gap-every-ms': { type: 'string', default: '3000' } } });
const seconds = Number(values.seconds);
const gapEvery = Number(values['gap-every-ms']);
const symbols = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'AVAXUSDT'];

const sim = await new SimExchange({ port: 0, recordBookTop: 20 }).start();
const plugin = fileURLToPath(new URL('../fixtures/bookcheck-plugin/index.js', import.meta.url));
const config = validateConfig({
  server: { host: '127.0.0.1', port: 0 },
  shards: 1,
  log: { level: 'silent' },
  upstream: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, heartbeatStream: '' },
  plugins: ['market', { name: 'bookcheck', path: plugin }],
}, 'soak');
const server = await TickgateServer.start(config, createLogger('silent'));
while (!server.symbols.loaded) await new Promise((r) => setTimeout(r, 20));
const client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
client.subscribe(...symbols.map((s) => `bookcheck:${s}`), ...symbols.map((s) => `depth:${s}`));

let compared = 0;
let mismatched = 0;
let unknown = 0;
let gapsInjected = 0;
const started = Date.now();
const gapTimer = setInterval(() => {
  // The last seconds are left without gaps, so every injected gap has time to be seen and recovered.
  if (Date.now() - started > seconds * 1000 - 3000) return;
  sim.skipSequence(symbols[gapsInjected % symbols.length], 5);
  gapsInjected++;
}, gapEvery);
let cursor = 0;
while (Date.now() - started < seconds * 1000) {
  await new Promise((r) => setTimeout(r, 200));
  for (; cursor < client.frames.length; cursor++) {
    const f = client.frames[cursor]!;
    if (f.type !== 'bookcheck') continue;
    const want = sim.market(f.channel!.slice('bookcheck:'.length))!.bookHistory.get(f.data.id);
    if (!want) {
      unknown++;
      continue;
    }
    compared++;
    if (JSON.stringify(want) !== JSON.stringify({ bids: f.data.bids, asks: f.data.asks })) mismatched++;
  }
}
clearInterval(gapTimer);
const stale = client.frames.filter((f) => f.type === 'status' && f.data.state === 'stale' && f.channel!.startsWith('depth:')).length;
const live = client.frames.filter((f) => f.type === 'status' && f.data.state === 'live' && f.channel!.startsWith('depth:')).length;
const depthFrames = client.frames.filter((f) => f.type === 'depth').length;
client.close();
await server.close();
await sim.close();
const result = { seconds, symbols: symbols.length, bookUpdatesCompared: compared, mismatched, notInExchangeHistory: unknown, gapsInjected, depthStale: stale, depthLive: live, depthFrames };
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(mismatched > 0 || live < gapsInjected ? 1 : 0);
