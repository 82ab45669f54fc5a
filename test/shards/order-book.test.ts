// The local order book: Binance's sync procedure on crafted sequences, and a property test against a reference book.
import t from 'tap';
import fc from 'fast-check';
import { BookSync, OrderBook, type DepthDiff, type DepthSnapshot } from '../../shards/market/order-book.js';

const diff = (U: number, u: number, bids: Array<[string, string]> = [], asks: Array<[string, string]> = []): DepthDiff => ({ U, u, bids, asks });
const SNAP: DepthSnapshot = { lastUpdateId: 100, bids: [['10.00', '1'], ['9.99', '2'], ['9.98', '3']], asks: [['10.01', '1'], ['10.02', '2']] };

t.test('in order: buffered events below the snapshot are dropped, the first bracketing one and the rest applied', async (t) => {
  const s = new BookSync();
  t.same(s.onDiff(diff(95, 99)), { kind: 'need-snapshot' }, 'the first event asks for a snapshot');
  t.equal(s.onDiff(diff(100, 101, [['10.00', '5']])), undefined);
  t.equal(s.onDiff(diff(102, 103, [], [['10.01', '0']])), undefined);
  t.same(s.onSnapshot(SNAP), { kind: 'live' });
  t.ok(s.live);
  t.equal(s.book.lastUpdateId, 103);
  t.same(s.book.top(10), { bids: [[10, 5], [9.99, 2], [9.98, 3]], asks: [[10.02, 2]] }, 'quantity 0 removed the level');
  t.same(s.onDiff(diff(104, 104, [['9.97', '1']])), { kind: 'updated' });
  t.same(s.book.top(2).bids, [[10, 5], [9.99, 2]], 'top N, bids descending');
  t.same(s.book.top(10).bids.at(-1), [9.97, 1]);
});

t.test('duplicates and events already in the snapshot are ignored', async (t) => {
  const s = new BookSync();
  s.onDiff(diff(101, 102, [['10.00', '7']]));
  t.same(s.onSnapshot(SNAP), { kind: 'live' });
  t.equal(s.onDiff(diff(101, 102, [['10.00', '99']])), undefined, 'a repeated event changes nothing');
  t.same(s.book.top(1).bids, [[10, 7]]);
  t.same(s.onDiff(diff(103, 103, [['10.00', '8']])), { kind: 'updated' });
});

t.test('a gap throws the book away: resync, and the next snapshot brings it back', async (t) => {
  const s = new BookSync();
  s.onDiff(diff(101, 101));
  s.onSnapshot(SNAP);
  const r = s.onDiff(diff(105, 106, [['10.00', '1']]));
  t.equal(r?.kind, 'resync');
  t.match((r as { reason: string }).reason, /gap: expected 102, got U=105/);
  t.notOk(s.live, 'not live: nothing may be published from it');
  t.same(s.book.top(5), { bids: [], asks: [] }, 'the broken book is gone');
  t.equal(s.onDiff(diff(107, 108)), undefined, 'buffering again');
  t.same(s.onSnapshot({ lastUpdateId: 106, bids: [['10.00', '4']], asks: [['10.05', '1']] }), { kind: 'live' });
  t.equal(s.book.lastUpdateId, 108);
});

t.test('a snapshot older than the buffered events asks for another; one the events do not bracket resyncs', async (t) => {
  const s = new BookSync();
  s.onDiff(diff(200, 201));
  t.same(s.onSnapshot(SNAP), { kind: 'need-snapshot' }, 'lastUpdateId 100 is before event 200: fetch again');
  t.notOk(s.live);
  const s2 = new BookSync();
  s2.onDiff(diff(90, 95));
  s2.onDiff(diff(103, 104));
  const r = s2.onSnapshot(SNAP);
  t.equal(r.kind, 'resync', 'first event after 100 starts at 103: 101-102 missing');
});

t.test('a crossed book or a malformed level is never published', async (t) => {
  const s = new BookSync();
  s.onDiff(diff(101, 101));
  s.onSnapshot(SNAP);
  const crossed = s.onDiff(diff(102, 102, [['10.05', '1']]));
  t.equal(crossed?.kind, 'resync');
  t.match((crossed as { reason: string }).reason, /crossed/);
  const s2 = new BookSync();
  s2.onDiff(diff(101, 101));
  s2.onSnapshot(SNAP);
  const bad = s2.onDiff(diff(102, 102, [['abc', '1']]));
  t.equal(bad?.kind, 'resync');
  t.match((bad as { reason: string }).reason, /malformed/);
  const s3 = new BookSync();
  s3.onDiff(diff(101, 101));
  t.equal(s3.onSnapshot({ lastUpdateId: 100, bids: [['10', '1']], asks: [['9', '1']] }).kind, 'resync', 'crossed snapshot');
});

t.test('restart after a reconnect starts from step 1', async (t) => {
  const s = new BookSync();
  s.onDiff(diff(101, 101));
  s.onSnapshot(SNAP);
  s.restart();
  t.notOk(s.live);
  t.same(s.onDiff(diff(500, 501)), { kind: 'need-snapshot' });
});

t.test('property: snapshot + any valid diff sequence rebuilds exactly the exchange\'s book', async (t) => {
  // An update: side, price tick, quantity (0 = remove). The exchange applies updates in batches (events).
  const update = fc.record({ bid: fc.boolean(), tick: fc.integer({ min: 1, max: 40 }), qty: fc.integer({ min: 0, max: 5 }) });
  const events = fc.array(fc.array(update, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 60 });
  fc.assert(
    fc.property(events, fc.nat(), fc.nat(), (batches, snapAtRaw, bufferFromRaw) => {
      // The exchange's own book: bids on ticks 1..40, asks on ticks 41..80 so it never crosses.
      const exchange = { bids: new Map<string, string>(), asks: new Map<string, string>() };
      let id = 1000;
      const emitted: DepthDiff[] = [];
      let snapshot: DepthSnapshot | undefined;
      const snapAt = snapAtRaw % (batches.length + 1);
      const take = (): DepthSnapshot => ({ lastUpdateId: id, bids: [...exchange.bids].map(([p, q]) => [p, q]), asks: [...exchange.asks].map(([p, q]) => [p, q]) });
      batches.forEach((batch, i) => {
        if (i === snapAt) snapshot = take();
        const d = diff(id + 1, id + batch.length);
        for (const u of batch) {
          const price = (u.bid ? u.tick : 40 + u.tick).toFixed(2);
          const side = u.bid ? exchange.bids : exchange.asks;
          if (u.qty === 0) side.delete(price);
          else side.set(price, String(u.qty));
          (u.bid ? d.bids : d.asks).push([price, String(u.qty)]);
        }
        id += batch.length;
        emitted.push(d);
      });
      snapshot ??= take();
      // The client starts listening somewhere at or before the snapshot and buffers from there.
      const firstHeard = Math.min(bufferFromRaw % (batches.length + 1), snapAt);
      const s = new BookSync();
      let result: string | undefined;
      // Every third event arrives twice: duplicates must change nothing.
      emitted.slice(firstHeard).forEach((d, i) => {
        s.onDiff(d);
        if (i % 3 === 0) s.onDiff(d);
      });
      result = s.onSnapshot(snapshot).kind;
      if (result !== 'live') return false;
      const want = OrderBookFrom(exchange);
      return JSON.stringify(s.book.top(1000)) === JSON.stringify(want.top(1000)) && s.book.lastUpdateId === id;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random sequences rebuilt exactly');
});

t.test('property: when events between the snapshot and the first buffered event are missing, the book never goes live', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 40 }), fc.nat(), fc.integer({ min: 1, max: 5 }), (n, snapRaw, skip) => {
      const events = Array.from({ length: n }, (_, i) => diff(1001 + i * 2, 1002 + i * 2, [[`${10 + (i % 5)}.00`, '1']]));
      const snapAt = snapRaw % (n - 1);
      const s = new BookSync();
      for (const d of events.slice(snapAt + Math.min(skip, n - 1 - snapAt))) s.onDiff(d);
      const snapshot: DepthSnapshot = { lastUpdateId: 1000 + snapAt * 2, bids: [['1.00', '1']], asks: [['99.00', '1']] };
      const first = snapAt + Math.min(skip, n - 1 - snapAt);
      return first === snapAt || s.onSnapshot(snapshot).kind !== 'live';
    }),
    { numRuns: 300 },
  );
  t.pass('300 random late starts never produced a live book');
});

function OrderBookFrom(exchange: { bids: Map<string, string>; asks: Map<string, string> }): OrderBook {
  const b = new OrderBook();
  b.load({ lastUpdateId: 0, bids: [...exchange.bids], asks: [...exchange.asks] });
  return b;
}
