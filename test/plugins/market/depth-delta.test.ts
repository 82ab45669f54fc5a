// depthDelta: a client applying the changes always holds exactly the depth frame's levels (property), and end to end.
import t from 'tap';
import fc from 'fast-check';
import { levelChanges, type Level } from '../../../plugins/market/depth-delta.js';
import { DepthBook } from '../../../client/depth-book.js';
import { startStack } from '../../helpers/stack.js';
import { TestClient, type Frame } from '../../helpers/ws-client.js';

/** A side of a book as a depth frame holds it: distinct prices, positive quantities, best first. */
const side = (best: 'high' | 'low') =>
  fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 5 })), { selector: (l) => l[0], maxLength: 12 })
    // Few distinct prices and quantities, so that consecutive books share many levels (as real ones do) and differ in some.
    .map((ls) => ls.map(([p, q]): Level => [p / 4, q / 2]).sort((a, b) => (best === 'high' ? b[0] - a[0] : a[0] - b[0])));
const book = fc.record({ bids: side('high'), asks: side('low') });

t.test('applying each book\'s changes to the previous one gives that book exactly (property)', async (t) => {
  let checked = 0;
  fc.assert(fc.property(fc.array(book, { minLength: 1, maxLength: 30 }), (books) => {
    const client = new DepthBook();
    client.apply({ type: 'depth', seq: 1, data: { symbol: 'X', ...books[0]!, timestamp: '' } });
    let seq = 1;
    for (let i = 1; i < books.length; i++) {
      const prev = books[i - 1]!;
      const next = books[i]!;
      const bids = levelChanges(prev.bids, next.bids);
      const asks = levelChanges(prev.asks, next.asks);
      // Only what changed is sent: every level named is new, changed or gone.
      for (const [p, q] of bids) if (prev.bids.some(([bp, bq]) => bp === p && bq === q)) return false;
      if (!client.apply({ type: 'depthDelta', seq: ++seq, data: { symbol: 'X', bids, asks, timestamp: '' } })) return false;
      if (JSON.stringify(client.bids) !== JSON.stringify(next.bids) || JSON.stringify(client.asks) !== JSON.stringify(next.asks)) return false;
      checked++;
    }
    return true;
  }), { numRuns: 500 });
  t.ok(checked > 1000, `${checked} changes applied, each giving the book exactly`);
});

t.test('DepthBook refuses a change that does not follow the state it holds', async (t) => {
  const b = new DepthBook();
  t.notOk(b.apply({ type: 'depthDelta', seq: 5, data: { symbol: 'X', bids: [[1, 1]], asks: [], timestamp: '' } }), 'no whole frame yet');
  t.ok(b.apply({ type: 'depth', seq: 5, data: { symbol: 'X', bids: [[2, 1], [1, 1]], asks: [[3, 1]], timestamp: '' } }));
  t.ok(b.apply({ type: 'depthDelta', seq: 5, data: { symbol: 'X', bids: [[9, 9]], asks: [], timestamp: '' } }), 'a change it already holds is skipped');
  t.same(b.bids, [[2, 1], [1, 1]], 'and not applied');
  t.notOk(b.apply({ type: 'depthDelta', seq: 7, data: { symbol: 'X', bids: [[2, 0]], asks: [], timestamp: '' } }), 'seq 6 is missing');
  t.same(b.bids, [[2, 1], [1, 1]], 'the book is unchanged after a refused change');
  t.ok(b.apply({ type: 'depthDelta', seq: 6, data: { symbol: 'X', bids: [[2, 0], [1.5, 3]], asks: [[3, 2]], timestamp: '' } }));
  t.same([b.bids, b.asks, b.seq], [[[1.5, 3], [1, 1]], [[3, 2]], 6]);
});

t.test('end to end: a client applying depthDelta frames holds what a new subscriber\'s snapshot holds at the same seq', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { depthIntervalMs: 20 } });
  const a = await TestClient.connect(wsUrl);
  t.teardown(() => a.close());
  a.subscribe('depthDelta:DOTUSDT:100', 'depth:DOTUSDT:100');
  const first = await a.next((f) => f.channel === 'depthDelta:DOTUSDT:100' && f.type !== 'subscribed');
  t.equal(first.type, 'depth', 'the first frame is the whole book');
  const book = new DepthBook();
  const held = new Map<number, string>();
  const take = (f: Frame) => {
    t.ok(book.apply(f as never), `frame ${String(f.seq)} follows`);
    held.set(f.seq as number, JSON.stringify([book.bids, book.asks]));
  };
  take(first);
  let deltas = 0;
  let deltaBytes = 0;
  const b = await TestClient.connect(wsUrl);
  t.teardown(() => b.close());
  let compared = 0;
  for (let round = 0; round < 5; round++) {
    // Some changes, then a new subscriber, whose snapshot must be the book A holds at that seq.
    for (let i = 0; i < 8; i++) {
      const f = await a.next((x) => x.channel === 'depthDelta:DOTUSDT:100' && x.type === 'depthDelta');
      deltas++;
      deltaBytes += a.raw[a.frames.indexOf(f)]!.length;
      take(f);
    }
    b.subscribe('depthDelta:DOTUSDT:100');
    const snap = await b.next((x) => x.channel === 'depthDelta:DOTUSDT:100' && x.snapshot === true);
    t.equal(snap.type, 'depth', 'a new subscriber starts from the whole book');
    while (!held.has(snap.seq as number)) take(await a.next((x) => x.channel === 'depthDelta:DOTUSDT:100' && x.type === 'depthDelta'));
    t.equal(JSON.stringify([snap.data.bids, snap.data.asks]), held.get(snap.seq as number), `round ${round}: the snapshot at seq ${String(snap.seq)} is A's book then`);
    compared++;
    b.unsubscribe('depthDelta:DOTUSDT:100');
    await b.next((x) => x.type === 'unsubscribed');
  }
  t.equal(compared, 5);
  // The same book as whole frames, for scale. How much smaller the changes are depends on how much of the book moves
  // between frames: on the simulated DOTUSDT (a coarse tick) most of 100 levels stay put; on BTCUSDT's top 10 nearly
  // every level moves every 100 ms, and the changes are as big as the book (see BENCHMARKS.md, Bytes per client).
  const full = a.frames.filter((f) => f.channel === 'depth:DOTUSDT:100' && f.type === 'depth' && !f.snapshot);
  const fullBytes = full.reduce((n, f) => n + a.raw[a.frames.indexOf(f)]!.length, 0);
  t.ok(deltas > 0 && full.length > 0 && deltaBytes / deltas < fullBytes / full.length / 2, `a change is less than half a whole frame (${Math.round(deltaBytes / deltas)} against ${Math.round(fullBytes / full.length)} bytes)`);
});

t.test('depthDelta conflated sends whole books, at most one per interval', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { depthIntervalMs: 20 } });
  const c = await TestClient.connect(wsUrl);
  t.teardown(() => c.close());
  c.subscribe('depthDelta:BTCUSDT:5@250ms');
  const frames: Frame[] = [];
  while (frames.length < 4) frames.push(await c.next((x) => x.channel === 'depthDelta:BTCUSDT:5@250ms' && x.type !== 'subscribed'));
  t.same(frames.map((f) => f.type), ['depth', 'depth', 'depth', 'depth'], 'whole books: a change cannot be skipped');
  t.same(frames.map((f) => f.seq), [1, 2, 3, 4], 'numbered on their own');
  t.ok(frames.every((f) => f.data.bids.length === 5), '5 levels');
});

t.test('with the SDK: DepthBook fed by a depthDelta subscription holds the book a new subscriber starts from', async (t) => {
  const { TickgateClient } = await import('../../../client/index.js');
  const { default: WebSocket } = await import('ws');
  const { wsUrl } = await startStack(t, { sim: { depthIntervalMs: 20 } });
  const client = new TickgateClient({ url: wsUrl, WebSocket, reconnectMinMs: 50, reconnectMaxMs: 200 });
  t.teardown(() => client.close());
  const book = new DepthBook();
  const held = new Map<number, string>();
  let refused = 0;
  client.subscribe('depthDelta:ETHUSDT:20', (_data, frame) => {
    if (!book.apply(frame)) refused++;
    held.set(frame.seq, JSON.stringify([book.bids, book.asks]));
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  while (held.size < 10) await sleep(50);
  const other = await TestClient.connect(wsUrl);
  t.teardown(() => other.close());
  other.subscribe('depthDelta:ETHUSDT:20');
  const snap = await other.next((f) => f.channel === 'depthDelta:ETHUSDT:20' && f.snapshot === true);
  while (!held.has(snap.seq as number)) await sleep(20);
  t.equal(held.get(snap.seq as number), JSON.stringify([snap.data.bids, snap.data.asks]), 'the SDK user\'s book equals the snapshot at the same seq');
  t.equal(refused, 0, 'every frame followed');
  t.ok(book.bids.length <= 20 && book.asks.length <= 20, '20 levels a side at most');
});

t.test('after a shard restart, a new subscriber starts from the book as it is now, not as it was before', async (t) => {
  const { fileURLToPath } = await import('node:url');
  const chaos = fileURLToPath(new URL('../../fixtures/chaos-plugin/index.js', import.meta.url));
  const { wsUrl, httpUrl } = await startStack(t, { config: { plugins: ['market', { name: 'chaos', path: chaos }] }, sim: { depthIntervalMs: 20 } });
  const ch = 'depthDelta:DOTUSDT:20';
  const a = await TestClient.connect(wsUrl);
  t.teardown(() => a.close());
  a.subscribe(ch);
  const book = new DepthBook();
  const held = new Map<number, string>();
  const take = (f: Frame) => {
    t.ok(book.apply(f as never), `frame ${String(f.seq)} follows`);
    held.set(f.seq as number, JSON.stringify([book.bids, book.asks]));
  };
  const next = () => a.next((f) => f.channel === ch && (f.type === 'depth' || f.type === 'depthDelta'));
  take(await next());
  for (let i = 0; i < 3; i++) take(await next());
  void fetch(`${httpUrl}/api/v1/chaos/crash?symbol=DOTUSDT`, { method: 'POST' }).catch(() => undefined);
  await a.next((f) => f.channel === ch && f.type === 'status' && f.data.state === 'live', 20_000);
  // The restarted producer's first frame is the whole book. A subscriber that joins right then (before any change
  // follows it) must start from that book, not from the last one kept before the restart.
  const b = await TestClient.connect(wsUrl);
  t.teardown(() => b.close());
  let f = await next();
  while (f.type !== 'depth') f = await next();
  take(f);
  b.subscribe(ch);
  const snap = await b.next((x) => x.channel === ch && x.snapshot === true);
  t.ok((snap.seq as number) >= (f.seq as number), `the snapshot (seq ${String(snap.seq)}) is not older than the restarted channel's first frame (seq ${String(f.seq)})`);
  if ((snap.seq as number) < (f.seq as number)) return;
  while (!held.has(snap.seq as number)) take(await next());
  t.equal(JSON.stringify([snap.data.bids, snap.data.asks]), held.get(snap.seq as number), `the snapshot at seq ${String(snap.seq)} is the book then`);
});
