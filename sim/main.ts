// `npm run sim`: the simulated exchange on its own, for running tickgate (or anything Binance-speaking) beside it.
import { parseArgs } from 'node:util';
import { SimExchange } from './exchange.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '9443' },
    'trades-per-second': { type: 'string', default: '5' },
    'ticker-interval-ms': { type: 'string', default: '1000' },
    'kline-interval-ms': { type: 'string', default: '2000' },
    'depth-interval-ms': { type: 'string', default: '100' },
    seed: { type: 'string', default: '42' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`Usage: npm run sim -- [--host 127.0.0.1] [--port 9443] [--trades-per-second 5]
       [--ticker-interval-ms 1000] [--kline-interval-ms 2000] [--depth-interval-ms 100] [--seed 42]
Serves Binance's WS streams at ws://HOST:PORT/stream and /ws, REST at http://HOST:PORT/api/v3/...,
fault controls at POST /__sim/{drop,stall,resume,gap,shutdown-notice,fail-rest,rate?tickerIntervalMs=N} and GET /__sim/stats.
`);
  process.exit(0);
}

function int(name: keyof typeof values): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`sim: --${name} must be a non-negative number, got ${String(values[name])}\n`);
    process.exit(2);
  }
  return n;
}

const sim = await new SimExchange({
  host: values.host!,
  port: int('port'),
  tradesPerSecond: int('trades-per-second'),
  tickerIntervalMs: int('ticker-interval-ms'),
  klineIntervalMs: int('kline-interval-ms'),
  depthIntervalMs: int('depth-interval-ms'),
  seed: int('seed'),
}).start();
process.stdout.write(`simulated exchange: WS ${sim.wsUrl}  REST ${sim.restUrl}\n`);
const stop = () => void sim.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
