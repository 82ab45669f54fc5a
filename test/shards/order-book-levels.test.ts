// The order book's levels: a price twice in one event, malformed levels anywhere, sides that are not lists, events of any size, and a property test against an independent sorted reference.
import t from 'tap';
import fc from 'fast-check';
import { BookError, OrderBook, type DepthDiff, type DepthSnapshot } from '../../shards/market/order-book.js';

const diff = (U: number, u: number, bids: Array<[string, string]> = [], asks: Array<[string, string]> = []): DepthDiff => ({ U, u, bids, asks });
const SNAP: DepthSnapshot = { lastUpdateId: 100, bids: [['10.00', '1'], ['9.99', '2'], ['9.98', '3']], asks: [['10.01', '1'], ['10.02', '2']] };
const loaded = (): OrderBook => {
  const b = new OrderBook();
  b.load(SNAP);
  return b;
};

t.test('a price twice in one event: the later entry wins, on either side', async (t) => {
  const b = loaded();
  t.equal(b.apply(diff(101, 101, [['10.00', '5'], ['10.00', '0'], ['9.50', '0'], ['9.50', '3'], ['9.99', '7'], ['9.99', '8']], [['10.01', '0'], ['10.01', '4'], ['10.03', '1'], ['10.03', '0']])), 'applied');
  t.same(b.top(10), { bids: [[9.99, 8], [9.98, 3], [9.5, 3]], asks: [[10.01, 4], [10.02, 2]] });
  t.equal(b.bids.size, 3);
  t.equal(b.asks.size, 2);
});

t.test('a malformed level after valid ones changes nothing: not the levels, not lastUpdateId', async (t) => {
  const bad = ['abc', '', 'NaN', 'Infinity', '-Infinity', '1e400', '-1', '0', '-0'];
  for (const x of bad) {
    const cases: DepthDiff[] = [
      diff(101, 101, [['9.97', '1'], ['10.00', '0']], [['10.01', '9'], [x, '1']]), // last ask, price
      diff(101, 101, [['9.97', '1'], ['10.00', '0'], ['9.96', x]], [['10.05', '1']]), // last bid, quantity (valid asks after)
    ];
    for (const d of cases) {
      // '-0' and '0' are valid quantities (remove); skip them there.
      if (d.bids.length === 3 && (x === '0' || x === '-0' || x === '')) continue;
      const b = loaded();
      const before = JSON.stringify(b.top(100));
      t.throws(() => b.apply(d), BookError, `${JSON.stringify(d)} throws`);
      t.equal(JSON.stringify(b.top(100)), before, `${JSON.stringify(x)}: the book is unchanged`);
      t.equal(b.lastUpdateId, 100, `${JSON.stringify(x)}: lastUpdateId unchanged`);
    }
  }
});

t.test('quantity -0 removes a level like 0; removing an absent level changes nothing', async (t) => {
  const b = loaded();
  b.apply(diff(101, 101, [['10.00', '-0'], ['5.00', '0']], [['10.01', '-0.0'], ['11.00', '0']]));
  t.same(b.top(10), { bids: [[9.99, 2], [9.98, 3]], asks: [[10.02, 2]] });
  t.notOk(b.top(10).bids.some(([, q]) => Object.is(q, -0)));
});

t.test('sides that are not lists throw (the owner resyncs), changing nothing', async (t) => {
  for (const odd of ['', 'x', {}, 5, null, undefined]) {
    const b = loaded();
    const before = JSON.stringify(b.top(100));
    t.throws(() => b.apply({ U: 101, u: 101, bids: odd as never, asks: [] }), `bids ${JSON.stringify(odd)}`);
    t.throws(() => b.apply({ U: 101, u: 101, bids: [['9.97', '1']], asks: odd as never }), `asks ${JSON.stringify(odd)}`);
    t.equal(JSON.stringify(b.top(100)), before);
    t.equal(b.lastUpdateId, 100);
  }
});

t.test('events larger than the parse buffer, then smaller ones: nothing of an earlier event is reused', async (t) => {
  const b = new OrderBook();
  b.load({ lastUpdateId: 0, bids: [], asks: [] });
  const ref = { bids: new Map<number, number>(), asks: new Map<number, number>() };
  const sizes = [1, 300, 5000, 2, 20000, 0, 7];
  let id = 0;
  sizes.forEach((n, k) => {
    const bids: Array<[string, string]> = [];
    const asks: Array<[string, string]> = [];
    for (let i = 0; i < n; i++) {
      const q = (i + k) % 4; // some removals
      const bp = 1 + ((i * 7919 + k) % 30000) / 100;
      const ap = 1000 + ((i * 104729 + k) % 30000) / 100;
      bids.push([bp.toFixed(2), String(q)]);
      asks.push([ap.toFixed(2), String(q)]);
      if (q === 0) ref.bids.delete(Number(bp.toFixed(2)));
      else ref.bids.set(Number(bp.toFixed(2)), q);
      if (q === 0) ref.asks.delete(Number(ap.toFixed(2)));
      else ref.asks.set(Number(ap.toFixed(2)), q);
    }
    id++;
    t.equal(b.apply(diff(id, id, bids, asks)), 'applied');
    const want = {
      bids: [...ref.bids].sort((x, y) => y[0] - x[0]),
      asks: [...ref.asks].sort((x, y) => x[0] - y[0]),
    };
    t.ok(JSON.stringify(b.top(1e9)) === JSON.stringify(want), `after an event of ${n} levels a side the book equals the reference`);
    t.equal(b.bids.size, want.bids.length);
    t.equal(b.bids.best, want.bids[0]?.[0]);
  });
});

t.test('property: any diff applies like an independent sorted reference; one malformed level anywhere changes nothing', async (t) => {
  const lvl = fc.record({ tick: fc.integer({ min: 1, max: 60 }), qty: fc.integer({ min: 0, max: 3 }) });
  const ev = fc.record({ bids: fc.array(lvl, { maxLength: 12 }), asks: fc.array(lvl, { maxLength: 12 }), bad: fc.option(fc.nat(), { nil: undefined }) });
  fc.assert(
    fc.property(fc.array(ev, { minLength: 1, maxLength: 40 }), (events) => {
      const b = new OrderBook();
      b.load({ lastUpdateId: 0, bids: [], asks: [] });
      const ref = { bids: new Map<number, number>(), asks: new Map<number, number>() };
      let id = 0;
      for (const e of events) {
        const bids: Array<[string, string]> = e.bids.map((l) => [(l.tick / 4).toFixed(2), String(l.qty)]);
        const asks: Array<[string, string]> = e.asks.map((l) => [(100 + l.tick / 4).toFixed(2), String(l.qty)]);
        const n = bids.length + asks.length;
        const before = JSON.stringify(b.top(1000));
        if (e.bad !== undefined && n > 0) {
          const k = e.bad % n;
          if (k < bids.length) bids[k] = [bids[k]![0], 'x'];
          else asks[k - bids.length] = ['-1', asks[k - bids.length]![1]];
          try {
            b.apply(diff(id + 1, id + 1, bids, asks));
            return false;
          } catch (err) {
            if (!(err instanceof BookError)) return false;
          }
          if (JSON.stringify(b.top(1000)) !== before || b.lastUpdateId !== id) return false;
          continue;
        }
        id++;
        if (b.apply(diff(id, id, bids, asks)) !== 'applied') return false;
        for (const [p, q] of bids) (Number(q) === 0 ? ref.bids.delete(Number(p)) : ref.bids.set(Number(p), Number(q)));
        for (const [p, q] of asks) (Number(q) === 0 ? ref.asks.delete(Number(p)) : ref.asks.set(Number(p), Number(q)));
        const want = { bids: [...ref.bids].sort((x, y) => y[0] - x[0]), asks: [...ref.asks].sort((x, y) => x[0] - y[0]) };
        if (JSON.stringify(b.top(1000)) !== JSON.stringify(want)) return false;
        if (b.bids.size !== want.bids.length || b.asks.best !== want.asks[0]?.[0]) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random event sequences, some with a malformed level, matched the reference');
});
