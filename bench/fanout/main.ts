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
  },
});
const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const symbols = n(values.symbols)!;
if (symbols < 1 || symbols > SYMBOLS.length) {
  process.stderr.write(`--symbols must be 1..${SYMBOLS.length}\n`);
  process.exit(2);
}
const result = await runFanout({
  clients: n(values.clients)!,
  symbols: SYMBOLS.slice(0, symbols),
  kinds: values.kinds!.split(','),
  rate: n(values.rate)!,
  warmupSeconds: n(values.warmup)!,
  seconds: n(values.seconds)!,
  workers: n(values.workers),
  shards: n(values.shards),
  sourceAddresses: n(values['source-addresses']),
});
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
