// A batch carries each frame's exact UTF-8 bytes, its channel and its kind, in order, in one transferable buffer.
import t from 'tap';
import { CREDIT, FrameBatcher, MAX_BATCH_FRAMES } from '../../shards/frame-batcher.js';
import { FrameKind, type FrameBatch } from '../../core/bus.js';

t.test('frames of one event-loop turn leave as one batch with exact byte ranges', async (t) => {
  const batches: Array<{ batch: FrameBatch; transfer: ArrayBuffer[] }> = [];
  const b = new FrameBatcher(3, (batch, transfer) => batches.push({ batch, transfer }));
  const texts = ['{"a":1}', '{"s":"€ and 日本"}', '{"b":"' + 'x'.repeat(5000) + '"}'];
  b.push('price:BTCUSDT', FrameKind.DATA, texts[0]!);
  b.push('trades:ETHUSDT', FrameKind.STALE, texts[1]!);
  b.push('price:BTCUSDT', FrameKind.FAILED, texts[2]!);
  t.equal(batches.length, 0, 'nothing sent within the turn');
  await new Promise((r) => setImmediate(r));
  t.equal(batches.length, 1, 'one batch per turn');
  const { batch, transfer } = batches[0]!;
  t.equal(batch.shard, 3);
  t.same(batch.channels, ['price:BTCUSDT', 'trades:ETHUSDT', 'price:BTCUSDT']);
  t.same([...batch.kinds], [FrameKind.DATA, FrameKind.STALE, FrameKind.FAILED]);
  t.ok(transfer.includes(batch.buf), 'the byte buffer is transferred, not copied');
  let start = 0;
  texts.forEach((text, i) => {
    const end = batch.ends[i]!;
    t.equal(Buffer.from(batch.buf, start, end - start).toString('utf8'), text, `frame ${i} bytes`);
    start = end;
  });
  t.equal(b.sent, 3);
  await new Promise((r) => setImmediate(r));
  t.equal(batches.length, 1, 'no empty batch');
});

const turn = () => new Promise((r) => setImmediate(r));
/** What the acceptor does once it took in a batch: counts it, and says whether the shard asked to be told. */
const take = (credit: Int32Array): boolean => {
  Atomics.add(credit, CREDIT.TAKEN, 1);
  return Atomics.exchange(credit, CREDIT.WAITING, 0) === 1;
};
const texts = (b: FrameBatch): string[] => {
  const out: string[] = [];
  let start = 0;
  for (const end of b.ends) {
    out.push(Buffer.from(b.buf, start, end - start).toString('utf8'));
    start = end;
  }
  return out;
};

t.test('with a credit array, the next batch waits until the acceptor took in the last one, then carries all that gathered', async (t) => {
  const batches: FrameBatch[] = [];
  const credit = new Int32Array(new SharedArrayBuffer(8));
  const b = new FrameBatcher(0, (batch) => batches.push(batch), credit);
  b.push('trades:A', FrameKind.DATA, '1', 1);
  await turn();
  t.equal(batches.length, 1, 'the first batch goes at once');
  t.notOk(b.held);
  b.push('trades:A', FrameKind.DATA, '2', 2);
  await turn();
  b.push('trades:A', FrameKind.DATA, '3', 3);
  await turn();
  t.equal(batches.length, 1, 'the acceptor has not taken the first in: nothing more is sent');
  t.ok(b.held, 'held');
  t.equal(Atomics.load(credit, CREDIT.WAITING), 1, 'and asks to be told');
  b.resume();
  await turn();
  t.equal(batches.length, 1, 'told early (no credit yet): still held');
  t.equal(take(credit), true, 'the acceptor is asked to tell the shard');
  b.resume();
  await turn();
  t.equal(batches.length, 2, 'credit: one batch with what gathered');
  t.same(texts(batches[1]!), ['2', '3'], 'in order, none left out');
  t.same([...batches[1]!.seqs], [2, 3]);
  t.notOk(b.held);
  t.ok(b.peekMaxHeldMs() > 0, 'the wait is reported');
  t.equal(b.peekMaxHeldMs(), b.peekMaxHeldMs(), 'peeking keeps the window');
  t.ok(b.takeMaxHeldMs() > 0);
  t.equal(b.takeMaxHeldMs(), 0, 'once: the next report starts afresh');
  // Taken in before the shard's next turn: it sends without waiting to be told, and asks nothing.
  t.equal(take(credit), false, 'nobody waits');
  b.push('trades:A', FrameKind.DATA, '4', 4);
  await turn();
  t.equal(batches.length, 3);
  t.equal(Atomics.load(credit, CREDIT.WAITING), 0, 'not waiting when it had credit');
  // A forced flush (the shard stops) sends without credit.
  b.push('trades:A', FrameKind.DATA, '5', 5);
  b.flush(true);
  t.equal(batches.length, 4);
});

t.test('latest values offered while held: one per channel, made when the batch goes out, and a frame pushed on the channel meanwhile follows it', async (t) => {
  const batches: FrameBatch[] = [];
  const credit = new Int32Array(new SharedArrayBuffer(8));
  const b = new FrameBatcher(0, (batch) => batches.push(batch), credit);
  b.push('x', FrameKind.DATA, 'first');
  await turn();
  b.push('x', FrameKind.DATA, 'held');
  await turn();
  t.ok(b.held);
  let made = 0;
  const offer = (channel: string, text: string) => b.offerLatest(channel, () => {
    made++;
    b.push(channel, FrameKind.DATA, text);
  });
  t.equal(offer('price:A', 'A1'), false, 'a first value replaces nothing');
  t.equal(offer('price:A', 'A2'), true, 'a newer one replaces it');
  t.equal(offer('price:B', 'B1'), false);
  t.equal(offer('price:C', 'C1'), false);
  b.push('price:C', FrameKind.STALE, 'C stale');
  t.equal(made, 1, 'a frame pushed on a channel makes its waiting value first');
  t.equal(offer('price:C', 'C2'), false, 'then it waits afresh');
  await turn();
  t.equal(batches.length, 1, 'still held');
  take(credit);
  b.resume();
  await turn();
  t.equal(batches.length, 2);
  t.same(texts(batches[1]!), ['held', 'C1', 'C stale', 'A2', 'B1', 'C2'], 'each channel in the order produced, only its latest value');
  t.equal(made, 4, 'replaced values are never made (numbered or serialised)');
  await turn();
  t.equal(batches.length, 2, 'nothing left to send');
});

t.test('a latest value offered while not held still goes out on the next turn', async (t) => {
  const batches: FrameBatch[] = [];
  const b = new FrameBatcher(0, (batch) => batches.push(batch), new Int32Array(new SharedArrayBuffer(8)));
  b.offerLatest('price:A', () => b.push('price:A', FrameKind.DATA, 'A'));
  await turn();
  t.same(batches.map(texts), [['A']]);
});

t.test('counters that wrap at 2^31 (weeks of batches) still give credit', async (t) => {
  const batches: FrameBatch[] = [];
  const credit = new Int32Array(new SharedArrayBuffer(8));
  const b = new FrameBatcher(0, (batch) => batches.push(batch), credit);
  // Both sides just below the wrap, as after 2^31 - 1 batches.
  (b as unknown as { batches: number }).batches = 2 ** 31 - 1;
  credit[CREDIT.TAKEN] = 2 ** 31 - 1;
  for (let i = 0; i < 4; i++) {
    b.push('trades:A', FrameKind.DATA, String(i));
    await turn();
    t.equal(batches.length, i + 1, `batch ${i} went out`);
    t.notOk(b.held);
    take(credit);
  }
  t.ok(credit[CREDIT.TAKEN]! < 0, 'the acceptor\'s count wrapped');
});

t.test('a batch carries at most MAX_BATCH_FRAMES: the rest goes with the next credit', async (t) => {
  const batches: FrameBatch[] = [];
  const credit = new Int32Array(new SharedArrayBuffer(8));
  const b = new FrameBatcher(0, (batch) => batches.push(batch), credit);
  for (let i = 0; i < MAX_BATCH_FRAMES + 10; i++) b.push('trades:A', FrameKind.DATA, String(i), i + 1);
  await turn();
  t.equal(batches.length, 1);
  t.equal(batches[0]!.channels.length, MAX_BATCH_FRAMES);
  t.equal(batches[0]!.seqs.length, MAX_BATCH_FRAMES);
  t.equal(texts(batches[0]!).at(-1), String(MAX_BATCH_FRAMES - 1));
  await turn();
  t.ok(b.held, 'the rest waits for the acceptor');
  take(credit);
  b.resume();
  await turn();
  t.same(texts(batches[1]!), Array.from({ length: 10 }, (_, i) => String(MAX_BATCH_FRAMES + i)), 'then follows, in order');
  t.same([...batches[1]!.seqs], Array.from({ length: 10 }, (_, i) => MAX_BATCH_FRAMES + i + 1));
  // flushAll (a stopping shard) sends everything, credit or not.
  for (let i = 0; i < 2 * MAX_BATCH_FRAMES + 1; i++) b.push('trades:A', FrameKind.DATA, 'x');
  b.flushAll();
  t.equal(batches.length, 5);
  t.equal(batches.slice(2).reduce((n, x) => n + x.channels.length, 0), 2 * MAX_BATCH_FRAMES + 1);
});

t.test('conflating starts once frames have waited conflateAfterMs', async (t) => {
  const credit = new Int32Array(new SharedArrayBuffer(8));
  const b = new FrameBatcher(0, () => {}, credit, 300);
  b.push('x', FrameKind.DATA, '1');
  await turn();
  t.notOk(b.conflating, 'the acceptor keeps up: not conflating');
  b.push('x', FrameKind.DATA, '2');
  await turn();
  t.ok(b.held);
  t.notOk(b.conflating, 'held, but not for long yet');
  await new Promise((r) => setTimeout(r, 400));
  t.ok(b.conflating, 'held for longer than conflateAfterMs');
  t.ok(b.takeMaxHeldMs() >= 300, 'the current wait counts in the report');
});

t.test('a backlog split over batches keeps its age, and more than a batch waiting means conflating', async (t) => {
  const batches: FrameBatch[] = [];
  const credit = new Int32Array(new SharedArrayBuffer(8));
  const b = new FrameBatcher(0, (batch) => batches.push(batch), credit, 150);
  for (let i = 0; i < 3 * MAX_BATCH_FRAMES; i++) b.push('trades:A', FrameKind.DATA, 'x');
  t.ok(b.conflating, 'more than a batch waits: conflating at once');
  await turn();
  t.equal(batches.length, 1);
  // The acceptor takes a batch every 100 ms: each wait alone is under the threshold, the backlog's age is not.
  for (let i = 0; i < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    take(credit);
    b.resume();
    await turn();
  }
  t.equal(batches.length, 3, 'the backlog went out, a batch per credit');
  t.ok(b.takeMaxHeldMs() >= 180, 'the age reported is the oldest frame\'s, not one credit\'s');
});

t.test('a value whose make throws leaves the batcher working', async (t) => {
  const batches: FrameBatch[] = [];
  const b = new FrameBatcher(0, (batch) => batches.push(batch));
  b.offerLatest('price:A', () => {
    throw new Error('cannot serialise');
  });
  b.offerLatest('price:B', () => b.push('price:B', FrameKind.DATA, 'B'));
  t.throws(() => b.flush(), /cannot serialise/);
  b.push('price:C', FrameKind.DATA, 'C');
  await turn();
  t.same(batches.map(texts).flat(), ['C'], 'the next push is sent');
});
