// A batch carries each frame's exact UTF-8 bytes, its channel and its kind, in order, in one transferable buffer.
import t from 'tap';
import { FrameBatcher } from '../../shards/frame-batcher.js';
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
