// A shard batch that takes longer than publishSliceMs is published a slice per event-loop turn, in order, so the
// acceptor's sockets and timers get a turn between slices; a quick one goes out at once.
import t from 'tap';
import pino from 'pino';
import { Subscriptions, PUBLISH_SLICE_MS, type Subscriber, type ShardLink } from '../../core/subscriptions.js';
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
    seqs: Float64Array.from(texts.map((_, i) => from + i)), ends, buf: new TextEncoder().encode(texts.join('')).buffer as ArrayBuffer,
  };
}

t.test('a batch that takes longer than a slice goes out over several turns, in order, and says when it is done', async (t) => {
  const { subs, published, socket } = fakes();
  subs.add(socket(), 'price:BTCUSDT', 0);
  // No time at all per slice: one frame per turn.
  subs.publishSliceMs = 0;
  const n = 5;
  const done = subs.publishBatch(batch('price:BTCUSDT', 1, n));
  t.ok(done instanceof Promise, 'not all at once');
  t.equal(published.length, 1, 'the first slice at once');
  // Other work queued now runs before the batch is all out.
  let between = -1;
  setImmediate(() => (between = published.length));
  await done;
  t.equal(published.length, n, 'then the rest');
  t.same(published.map((p) => JSON.parse(p.text).seq), [1, 2, 3, 4, 5], 'in order');
  t.ok(between > 0 && between < n, `other work ran between slices (at ${between} of ${n})`);
});

t.test('a quick batch is published at once', async (t) => {
  const { subs, published, socket } = fakes();
  subs.add(socket(), 'price:ETHUSDT', 0);
  t.equal(subs.publishSliceMs, PUBLISH_SLICE_MS, 'the default');
  // Time enough for any machine: a batch within its slice goes out in the same call.
  subs.publishSliceMs = 60_000;
  t.equal(subs.publishBatch(batch('price:ETHUSDT', 1, 500)), undefined);
  t.equal(published.length, 500);
});
