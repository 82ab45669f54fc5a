// The ceiling peer: a minimal uWebSockets.js server that only relays the exchange's tickers as price frames to topics.
// Same client protocol subset as tickgate (connected, subscribe/subscribed, price frames with seq), nothing else.
import WebSocket from 'ws';
import { loadNativeUws } from '../../core/uws-native.js';

const uws = loadNativeUws();
const upstream = process.env.BINANCE_WS_URL ?? 'ws://127.0.0.1:9443';
const symbols = (process.env.SYMBOLS ?? 'BTCUSDT').split(',');
const port = Number(process.env.PORT ?? 3000);
const seqs = new Map<string, number>();

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

const feed = new WebSocket(`${upstream}/stream?streams=${symbols.map((s) => `${s.toLowerCase()}@ticker`).join('/')}`);
feed.on('message', (raw: Buffer) => {
  const { data: t } = JSON.parse(raw.toString()) as { data: Record<string, string> & { E: number; s: string } };
  const channel = `price:${t.s}`;
  const seq = (seqs.get(channel) ?? 0) + 1;
  seqs.set(channel, seq);
  const data = { symbol: t.s, price: Number(t.c), change24h: Number(t.p), changePercent24h: Number(t.P), high24h: Number(t.h), low24h: Number(t.l), volume24h: Number(t.v), timestamp: t.E };
  app.publish(channel, JSON.stringify({ type: 'price', channel, seq, data, timestamp: new Date().toISOString() }), false);
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
