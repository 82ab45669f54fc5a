// The load client's counting, against a real WebSocket server sending known frames: losses and repeats inside a
// channel's seq range are found, channels are kept apart, pongs and latency samples are counted, and data frames' bytes
// are summed by frame type.
import t from 'tap';
import { WebSocketServer } from 'ws';
import { LoadClient, type ClientCounters } from '../../bench/fanout/load-client.js';
import { sizesByType } from '../../bench/fanout/fanout.js';
import { bytesPerFrame } from '../../bench/report.js';

const fresh = (): ClientCounters => ({ frames: 0, bytes: 0, seqs: new Map(), latencies: [], latencyByType: {}, sizeByType: {}, errors: 0, pongs: 0 });
const frame = (channel: string, seq: number, ts = Date.now()) =>
  JSON.stringify({ type: 'price', channel, seq, data: { symbol: 'X', price: 1, timestamp: ts }, timestamp: new Date().toISOString() });

t.test('counts frames per channel, finds the missing and the repeated ones', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws' });
  await new Promise((r) => wss.once('listening', r));
  t.teardown(() => new Promise((r) => wss.close(r)));
  const big = 'y'.repeat(70_000);
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'connected', data: {} }));
    ws.on('message', () => {
      // Channel A: 1, 2, 4, 4, 5 (3 missing, 4 twice). Channel B: 1..3, one of them over 64 KiB (a 127-length frame).
      // Channel names differ in one byte, and field order differs in one frame.
      for (const s of [1, 2, 4, 4, 5]) ws.send(frame('price:AAAUSDT', s));
      ws.send(frame('price:AABUSDT', 1));
      ws.send(JSON.stringify({ seq: 2, data: { timestamp: Date.now(), pad: big }, channel: 'price:AABUSDT', type: 'price' }));
      ws.send(frame('price:AABUSDT', 3));
      ws.send(JSON.stringify({ type: 'ticker', channel: 'ticker:AAAUSDT', seq: 1, data: { timestamp: new Date(Date.now() - 20).toISOString() } }));
      ws.send(JSON.stringify({ type: 'pong', timestamp: new Date().toISOString() }));
      ws.ping();
      ws.send(JSON.stringify({ type: 'done' }));
    });
  });
  const port = (wss.address() as { port: number }).port;
  const counters = fresh();
  const client = new LoadClient('127.0.0.1', port, counters, 1);
  t.teardown(() => client.close());
  const connectMs = await client.open();
  t.ok(connectMs >= 0, 'open resolves on the first frame');
  client.send('{"type":"subscribe","channels":["price:AAAUSDT"]}');
  for (let i = 0; i < 100 && client.counters.pongs === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
  const k = client.counters;
  t.equal(k.frames, 9, 'every data frame counted once');
  t.equal(k.pongs, 1, 'the pong counted, not as data');
  t.same(k.seqs.get('price:AAAUSDT'), { first: 1, last: 5, count: 5, missing: 1, repeated: 1 }, 'channel A: 3 lost and 4 repeated, not cancelling out');
  t.same(k.seqs.get('price:AABUSDT'), { first: 1, last: 3, count: 3, missing: 0, repeated: 0 }, 'channel B kept apart from A');
  t.equal(k.latencies.length, 9, 'every frame sampled at sampleEvery 1');
  t.same(Object.keys(k.latencyByType).sort(), ['price', 'ticker'], 'samples kept by frame type');
  t.equal(k.latencyByType.ticker!.length, 1);
  t.ok(k.latencyByType.ticker![0]! >= 20, 'an ISO timestamp is read as well as epoch milliseconds');
  t.ok(k.latencies.every((l) => l >= 0 && l < 5000), 'latencies are event-time to receipt');
  t.equal(k.errors, 0);
});

t.test('counts data frames and their payload bytes by frame type, exactly', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws' });
  await new Promise((r) => wss.once('listening', r));
  t.teardown(() => new Promise((r) => wss.close(r)));
  const ts = new Date().toISOString();
  // Hand-made frames: two price channels, trades (one with its fields in another order), a depth frame over 64 KiB
  // (a 127-length header), and frames without a seq (pong, status) that are not data and not counted.
  const price = (ch: string, seq: number) => JSON.stringify({ type: 'price', channel: ch, seq, data: { symbol: 'X', price: 1.5, timestamp: Date.now() }, timestamp: ts });
  const trade = (seq: number, q: number) => JSON.stringify({ type: 'trade', channel: 'trades:X', seq, data: { symbol: 'X', price: 2, quantity: q, side: 'buy', timestamp: ts }, timestamp: ts });
  const depth = JSON.stringify({ type: 'depth', channel: 'depth:X', seq: 1, data: { symbol: 'X', bids: Array.from({ length: 5000 }, (_, i) => [i + 0.5, 1.25]), asks: [], timestamp: ts }, timestamp: ts });
  const reordered = JSON.stringify({ seq: 3, data: { timestamp: ts, quantity: 10 }, channel: 'trades:X', type: 'trade' });
  const sent = [price('price:A', 1), price('price:B', 1), price('price:A', 2), trade(1, 0.5), trade(2, 12.25), reordered, depth];
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'connected', data: {} }));
    ws.on('message', () => {
      for (const f of sent) ws.send(f);
      ws.send(JSON.stringify({ type: 'status', channel: 'price:A', data: { state: 'live' }, timestamp: ts }));
      ws.send(JSON.stringify({ type: 'pong', timestamp: ts }));
    });
  });
  const port = (wss.address() as { port: number }).port;
  const client = new LoadClient('127.0.0.1', port, fresh(), 97);
  t.teardown(() => client.close());
  await client.open();
  client.send('{"type":"subscribe","channels":["price:A"]}');
  for (let i = 0; i < 100 && client.counters.pongs === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const bytes = (frames: string[]) => frames.reduce((n, f) => n + Buffer.byteLength(f), 0);
  t.ok(depth.length > 65_535, 'the depth frame needs the 64-bit length header');
  t.same(client.counters.sizeByType, {
    price: { frames: 3, bytes: bytes(sent.slice(0, 3)) },
    trade: { frames: 3, bytes: bytes(sent.slice(3, 6)) },
    depth: { frames: 1, bytes: depth.length },
  }, 'frames and payload bytes per type; status and pong frames are not data');
  t.equal(client.counters.bytes, bytes(sent), 'the per-type bytes add up to the total');

  // Across clients and workers: summed, with whole bytes per frame, types in order.
  const summed = sizesByType([client.counters, { sizeByType: { price: { frames: 1, bytes: 100 }, kline: { frames: 2, bytes: 301 } } }]);
  t.same(Object.keys(summed), ['depth', 'kline', 'price', 'trade']);
  t.same(summed.kline, { frames: 2, bytes: 301, bytesPerFrame: 151 });
  t.same(summed.price, { frames: 4, bytes: bytes(sent.slice(0, 3)) + 100, bytesPerFrame: Math.round((bytes(sent.slice(0, 3)) + 100) / 4) });
  t.match(bytesPerFrame({ sizeByType: summed }), /^depth \d+, kline 151, price \d+, trade \d+$/, 'the report column');
});
