// The ceiling peer: a minimal uWebSockets.js server that relays the exchange's events as frames to topics.
// Same client protocol subset as tickgate (connected, subscribe/subscribed, data frames with seq), nothing else: no
// validation, limits, snapshots, status or order book. KINDS picks what it relays (default: price only):
//   price, ticker ← <sym>@ticker    trades ← <sym>@trade    klines:1m ← <sym>@kline_1m
//   depth ← <sym>@depth10@100ms: the exchange's own top 10, relayed when it changed (as tickgate sends its book's),
//           stamped with the event time E of the <sym>@depth@100ms diff that made it (see below)
// Frames are shaped by tickgate's own frame functions, so both send the same bytes for the same event. Binance's
// partial-depth payload has no event time, and tickgate's depth frames carry the event time of the diff that last
// changed its book; so that both depth latencies measure the same span (exchange event to client), the ceiling also
// takes the diff stream and stamps a partial book with the E of the diff whose final update id `u` is the book's
// `lastUpdateId`: the exchange sends that diff first. A partial book with no such diff is stamped on receipt.
import WebSocket from 'ws';
import { loadNativeUws } from '../../core/uws-native.js';
import { encodeDataFrame } from '../../core/protocol.js';
import { normalise } from '../../shards/exchanges/binance/binance-normaliser.js';
import { depthData, klineData, priceData, tickerData, tradeData } from '../../plugins/market/frames.js';
import { TARGET_KINDS } from '../targets.js';

const uws = loadNativeUws();
const upstream = process.env.BINANCE_WS_URL ?? 'ws://127.0.0.1:9443';
const symbols = (process.env.SYMBOLS ?? 'BTCUSDT').split(',');
const SERVED = TARGET_KINDS['uws-ceiling'] as readonly string[];
const kinds = new Set((process.env.KINDS ?? 'price').split(',').filter((k) => k !== ''));
const unserved = [...kinds].filter((k) => !SERVED.includes(k));
if (unserved.length) {
  process.stderr.write(`uws-ceiling: KINDS has ${unserved.join(', ')}; it serves ${SERVED.join(', ')}\n`);
  process.exit(2);
}
const port = Number(process.env.PORT ?? 3000);
const seqs = new Map<string, number>();
/** The last depth levels sent per channel, serialised: an unchanged book is not sent again. */
const lastDepth = new Map<string, string>();
/** Per symbol, the final update id and event time of the latest diff: the event time of the partial book it made. */
const lastDiff = new Map<string, { u: number; E: number }>();

const app = uws.App();
app.ws('/ws', {
  compression: uws.DISABLED,
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 4 * 1024 * 1024,
  idleTimeout: 120,
  open: (ws) => {
    ws.send(JSON.stringify({ type: 'connected', data: {}, timestamp: new Date().toISOString() }), false);
  },
  message: (ws, message) => {
    const msg = JSON.parse(Buffer.from(message).toString()) as { type: string; channels?: string[] };
    if (msg.type !== 'subscribe') return;
    for (const ch of msg.channels ?? []) {
      ws.subscribe(ch);
      ws.send(JSON.stringify({ type: 'subscribed', channel: ch, timestamp: new Date().toISOString() }), false);
    }
  },
});

/** Serialises once and publishes, only to a topic someone holds (tickgate too only produces subscribed channels). */
function publish(channel: string, type: string, data: () => unknown): void {
  if (app.numSubscribers(channel) === 0) return;
  const seq = (seqs.get(channel) ?? 0) + 1;
  seqs.set(channel, seq);
  app.publish(channel, encodeDataFrame(type, channel, seq, data()), false);
}

const streams = symbols.flatMap((s) => {
  const l = s.toLowerCase();
  return [
    ...(kinds.has('price') || kinds.has('ticker') ? [`${l}@ticker`] : []),
    ...(kinds.has('trades') ? [`${l}@trade`] : []),
    ...(kinds.has('depth') ? [`${l}@depth@100ms`, `${l}@depth10@100ms`] : []),
    ...(kinds.has('klines:1m') ? [`${l}@kline_1m`] : []),
  ];
});
const feed = new WebSocket(`${upstream}/stream?streams=${streams.join('/')}`);
feed.on('message', (raw: Buffer) => {
  const { stream, data } = JSON.parse(raw.toString()) as { stream: string; data: unknown };
  const n = normalise(stream, data, Date.now());
  if (!n) return;
  const sym = n.symbol;
  if (n.kind === 'ticker') {
    const t = n.event;
    publish(`price:${sym}`, 'price', () => priceData(t));
    publish(`ticker:${sym}`, 'ticker', () => tickerData(t));
  } else if (n.kind === 'trade') {
    const t = n.event;
    publish(`trades:${sym}`, 'trade', () => tradeData(t));
  } else if (n.kind === 'kline') {
    const k = n.event;
    publish(`klines:${sym}:${k.interval}`, 'kline', () => klineData(k));
  } else if (n.kind === 'depthDiff') {
    lastDiff.set(sym, { u: n.diff.u, E: n.eventTime });
  } else if (n.kind === 'depth') {
    const channel = `depth:${sym}`;
    const levels = JSON.stringify([n.event.bids, n.event.asks]);
    if (levels === lastDepth.get(channel)) return;
    lastDepth.set(channel, levels);
    const d = n.event;
    const diff = lastDiff.get(sym);
    if (diff && diff.u === d.lastUpdateId) d.eventTime = diff.E;
    publish(channel, 'depth', () => depthData(d, 10));
  }
});

app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    process.stderr.write(`cannot listen on ${port}\n`);
    process.exit(1);
  }
  process.stdout.write(`uws-ceiling listening on 127.0.0.1:${uws.us_socket_local_port(token)}\n`);
  const stop = () => {
    feed.terminate();
    uws.us_listen_socket_close(token);
    (app as typeof app & { close(): void }).close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
