// A large shard batch is published a slice per event-loop turn (PUBLISH_SLICE client frames), in order, so the
// acceptor's sockets and timers get a turn between slices; a small one goes out at once.
import t from 'tap';
import pino from 'pino';
import { Subscriptions, PUBLISH_SLICE, type Subscriber, type ShardLink } from '../../core/subscriptions.js';
import { FrameKind, type FrameBatch } from '../../core/bus.js';
import type { WebSocket } from 'uWebSockets.js';

function fakes() {
  const published: Array<{ topic: string; text: string }> = [];
  const app = { compress: false, publish: (topic: string, message: unknown) => published.push({ topic, text: Buffer.from(message as Uint8Array).toString('utf8') }) > 0 };
  const shards: ShardLink = { open() {}, close() {}, isUp: () => true, local() {} };
  const subs = new Subscriptions(app as never, shards, pino({ level: 'silent' }), () => []);
  const socket = () => {
    const data = { channels: [] as string[] } as unknown as Subscriber;
    return { getUserData: () => data, subscribe: () => true, send: () => 1 } as unknown as WebSocket<Subscriber>;
  };
  return { subs, published, socket };
}

function batch(channel: string, from: number, n: number): FrameBatch {
  const texts = Array.from({ length: n }, (_, i) => `{"seq":${from + i}}`);
  const ends = new Uint32Array(n);
  let total = 0;
  texts.forEach((x, i) => (ends[i] = total += x.length));
  return {
    t: 'frames', shard: 0, channels: texts.map(() => channel), kinds: new Uint8Array(n).fill(FrameKind.DATA),
    seqs: Float64Array.from(texts.map((_, i) => from + i)), ends, buf: Buffer.from(texts.join('')).buffer as ArrayBuffer,
  };
}

t.test('a batch worth more than a slice goes out over several turns, in order, and says when it is done', async (t) => {
  const { subs, published, socket } = fakes();
  const subscribers = 100;
  for (let i = 0; i < subscribers; i++) subs.add(socket(), 'price:BTCUSDT', 0);
  // Each frame is worth 101 client frames: 1,000 frames are about three slices.
  const n = 1000;
  const perSlice = Math.ceil(PUBLISH_SLICE / (subscribers + 1));
  const done = subs.publishBatch(batch('price:BTCUSDT', 1, n));
  t.ok(done instanceof Promise, 'not all at once');
  t.equal(published.length, perSlice, 'the first slice at once');
  // Other work queued now runs before the batch is all out.
  let between = -1;
  setImmediate(() => (between = published.length));
  await done;
  t.equal(published.length, n, 'then the rest');
  t.same(published.map((p) => JSON.parse(p.text).seq), Array.from({ length: n }, (_, i) => i + 1), 'in order');
  t.ok(between > 0 && between < n, `other work ran between slices (at ${between} of ${n})`);
});

t.test('a batch within a slice is published at once', async (t) => {
  const { subs, published, socket } = fakes();
  subs.add(socket(), 'price:ETHUSDT', 0);
  t.equal(subs.publishBatch(batch('price:ETHUSDT', 1, 500)), undefined);
  t.equal(published.length, 500);
});
