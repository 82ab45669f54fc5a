// Property tests of the paper-trading ledger: random orders placed against random books (walked by walkBook),
// random resting fills and cancels. Every expectation is computed here with BigInt fixed-point arithmetic
// (18 decimals), independently of decimal.js and of the code under test.
import t from 'tap';
import fc from 'fast-check';
import { D, Ledger, OPEN_STATUSES, ZERO, type Balance, type Dec, type LedgerFill, type OrderState, type OrderType, type Side, type TimeInForce } from '../../../plugins/trading/ledger.js';
import { walkBook } from '../../../plugins/trading/book-walk.js';
import { RestingBook, type RestingFill } from '../../../plugins/trading/resting-book.js';
import { fx, str, mul, feeUp } from './fixed-point.js';

const RUNS = 200;

function units(n: number, dp: number): string {
  const s = String(n).padStart(dp + 1, '0');
  return `${s.slice(0, -dp)}.${s.slice(-dp)}`;
}

// ---- scenarios ----

const PRICE_DP = 2; // tick 0.01
const QTY_DP = 5; // step 0.00001
const BASE = 'BTC';
const QUOTE = 'USDT';

interface Level { ticks: number; qty: number }
type PlaceAction = { kind: 'place'; side: Side; type: OrderType; tif: TimeInForce; qty: number; ticks: number; book: Level[] };
type Action =
  | PlaceAction
  /** `open`: pick among the orders still open (else among all, closed ones included). */
  | { kind: 'fill'; pick: number; qty: number; open: boolean }
  | { kind: 'cancel'; pick: number };

interface Scenario {
  quoteFree: number; // in ticks of 0.01
  baseFree: number; // in steps of 0.00001
  takerRate: string;
  makerRate: string;
  actions: Action[];
}

const rateArb = fc.constantFrom('0', '0.001', '0.00075', '0.0002', '0.0015', '0.00013');
const ticksArb = fc.integer({ min: 9_500, max: 10_500 }); // 95.00 … 105.00
const qtyArb = fc.integer({ min: 1, max: 300_000 }); // 0.00001 … 3
const levelArb = fc.record({ ticks: ticksArb, qty: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200_000 })) });
const placeArb: fc.Arbitrary<Action> = fc.record({
  kind: fc.constant('place' as const),
  side: fc.constantFrom<Side>('BUY', 'SELL'),
  type: fc.constantFrom<OrderType>('MARKET', 'LIMIT'),
  tif: fc.constantFrom<TimeInForce>('GTC', 'IOC'),
  qty: qtyArb,
  ticks: ticksArb,
  book: fc.array(levelArb, { maxLength: 6, size: 'max' }),
});
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: placeArb, weight: 4 },
  {
    arbitrary: fc.record({
      kind: fc.constant('fill' as const), pick: fc.nat(), open: fc.boolean(),
      qty: fc.oneof({ arbitrary: fc.constant(0), weight: 1 }, { arbitrary: qtyArb, weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 5_000 }), weight: 3 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }), weight: 1 },
);
const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  quoteFree: fc.oneof({ arbitrary: fc.constant(0), weight: 1 }, { arbitrary: fc.integer({ min: 0, max: 100_000 }), weight: 2 }, { arbitrary: fc.integer({ min: 0, max: 20_000_000 }), weight: 5 }),
  baseFree: fc.oneof({ arbitrary: fc.constant(0), weight: 1 }, { arbitrary: fc.integer({ min: 0, max: 2_000_000 }), weight: 4 }),
  takerRate: rateArb,
  makerRate: rateArb,
  actions: fc.array(actionArb, { minLength: 5, maxLength: 50, size: 'max' }),
});

/** The side of the book a place action takes, as the exchange sends it: distinct prices, best first. */
function bookSide(a: PlaceAction): Array<[string, string]> {
  const byPrice = new Map<number, number>();
  for (const l of a.book) if (!byPrice.has(l.ticks)) byPrice.set(l.ticks, l.qty);
  return [...byPrice.entries()]
    .sort((x, y) => (a.side === 'BUY' ? x[0] - y[0] : y[0] - x[0]))
    .map(([p, q]) => [units(p, PRICE_DP), units(q, QTY_DP)]);
}

type Totals = { quote: bigint; base: bigint };
type Snap = Record<string, { free: bigint; locked: bigint }>;

function snap(l: Ledger): Snap {
  const out: Snap = {};
  for (const [asset, b] of l.balances) out[asset] = { free: fx(b.free), locked: fx(b.locked) };
  return out;
}
function totals(s: Snap): Totals {
  const q = s[QUOTE] ?? { free: 0n, locked: 0n };
  const b = s[BASE] ?? { free: 0n, locked: 0n };
  return { quote: q.free + q.locked, base: b.free + b.locked };
}
function orderSnap(o: OrderState): string {
  return JSON.stringify([o.status, o.filledQuantity, o.takerQuantity, o.quoteQuantity, o.fee, o.locked].map(String));
}

/** Per order, what its fills add up to, summed here. */
interface Tally { qty: bigint; takerQty: bigint; notional: bigint; fees: bigint; makerNotional: bigint; makerFees: bigint }

/** One step's record: the action, the balances around it and what the ledger answered. */
interface Step {
  action: Action;
  index: number | undefined;
  before: Snap;
  after: Snap;
  orderBefore: string | undefined;
  orderAfter: string | undefined;
  fills: LedgerFill[];
  refused: boolean;
}

class Sim {
  readonly ledger: Ledger;
  readonly orders: OrderState[] = [];
  readonly tallies: Tally[] = [];
  readonly takerRate: Dec;
  readonly start: Totals;
  /** Σ over all fills: signed notional (+ for a buy), signed quantity (+ for a buy), fees. */
  signedNotional = 0n;
  signedQty = 0n;
  fees = 0n;

  constructor(readonly sc: Scenario) {
    const m = new Map<string, Balance>([
      [QUOTE, { free: new D(units(sc.quoteFree, PRICE_DP)), locked: ZERO }],
      [BASE, { free: new D(units(sc.baseFree, QTY_DP)), locked: ZERO }],
    ]);
    this.ledger = new Ledger(m, new Map());
    this.takerRate = new D(sc.takerRate);
    this.start = totals(snap(this.ledger));
  }

  private record(o: OrderState, i: number, fills: LedgerFill[]): void {
    const tally = this.tallies[i]!;
    for (const f of fills) {
      const n = mul(fx(f.price), fx(f.quantity));
      const sign = o.side === 'BUY' ? 1n : -1n;
      this.signedNotional += sign * n;
      this.signedQty += sign * fx(f.quantity);
      this.fees += fx(f.fee);
      tally.qty += fx(f.quantity);
      tally.notional += n;
      tally.fees += fx(f.fee);
      if (f.liquidity === 'taker') tally.takerQty += fx(f.quantity);
      else {
        tally.makerNotional += n;
        tally.makerFees += fx(f.fee);
      }
    }
  }

  apply(action: Action): Step {
    const before = snap(this.ledger);
    if (action.kind === 'place') {
      const o: OrderState = {
        symbol: 'BTCUSDT', baseAsset: BASE, quoteAsset: QUOTE, side: action.side, type: action.type,
        timeInForce: action.type === 'LIMIT' ? action.tif : null,
        price: action.type === 'LIMIT' ? new D(units(action.ticks, PRICE_DP)) : null,
        quantity: new D(units(action.qty, QTY_DP)), filledQuantity: ZERO, takerQuantity: ZERO, quoteQuantity: ZERO,
        fee: ZERO, locked: ZERO, makerRate: new D(this.sc.makerRate), status: 'NEW',
      };
      const taken = walkBook(bookSide(action), o.side, o.quantity, o.price ?? undefined);
      const orderBefore = orderSnap(o);
      const r = this.ledger.place(o, taken, this.takerRate);
      const index = this.orders.length;
      this.orders.push(o);
      this.tallies.push({ qty: 0n, takerQty: 0n, notional: 0n, fees: 0n, makerNotional: 0n, makerFees: 0n });
      const step: Step = { action, index, before, after: snap(this.ledger), orderBefore, orderAfter: orderSnap(o), fills: [], refused: 'refused' in r };
      if ('refused' in r) {
        o.status = 'REJECTED'; // what the service records
      } else {
        step.fills = r.fills;
        this.record(o, index, r.fills);
      }
      return step;
    }
    if (this.orders.length === 0) return { action, index: undefined, before, after: before, orderBefore: undefined, orderAfter: undefined, fills: [], refused: false };
    const open = this.orders.map((_, i) => i).filter((i) => OPEN_STATUSES.includes(this.orders[i]!.status));
    const index = action.kind === 'fill' && action.open && open.length ? open[action.pick % open.length]! : action.pick % this.orders.length;
    const o = this.orders[index]!;
    const orderBefore = orderSnap(o);
    let fills: LedgerFill[] = [];
    if (action.kind === 'fill') {
      const f = this.ledger.fillResting(o, new D(units(action.qty, QTY_DP)));
      if (f) {
        fills = [f];
        this.record(o, index, fills);
      }
    } else {
      const wasOpen = OPEN_STATUSES.includes(o.status);
      this.ledger.release(o); // on an order no longer open: must change nothing (it holds nothing)
      if (wasOpen) o.status = 'CANCELED';
    }
    return { action, index, before, after: snap(this.ledger), orderBefore, orderAfter: orderSnap(o), fills, refused: false };
  }
}

function run(sc: Scenario, check: (sim: Sim, step: Step) => void): Sim {
  const sim = new Sim(sc);
  for (const a of sc.actions) check(sim, sim.apply(a));
  return sim;
}

function fail(msg: string): never {
  throw new Error(msg);
}
function eq(actual: bigint | string, expected: bigint | string, what: string): void {
  const a = typeof actual === 'bigint' ? str(actual) : actual;
  const e = typeof expected === 'bigint' ? str(expected) : expected;
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

// ---- properties ----

t.test('conservation of value: every fill moves exactly −notional−fee of quote per +quantity of base; totals agree', async (t) => {
  let fillsSeen = 0;
  let refusalsSeen = 0;
  fc.assert(fc.property(scenarioArb, (sc) => {
    const sim = run(sc, (sim, step) => {
      const d = { quote: totals(step.after).quote - totals(step.before).quote, base: totals(step.after).base - totals(step.before).base };
      if (step.refused) {
        refusalsSeen++;
        eq(JSON.stringify(Object.entries(step.after).map(([k, v]) => [k, str(v.free), str(v.locked)])),
          JSON.stringify(Object.entries(step.before).map(([k, v]) => [k, str(v.free), str(v.locked)])), 'a refusal changes no balance');
        eq(step.orderAfter!, step.orderBefore!, 'a refusal changes nothing of the order');
        return;
      }
      const o = step.index === undefined ? undefined : sim.orders[step.index]!;
      // Σ over this step's fills of (Δbase_i × price_i) and fees; with one fill this is Δquote + Δbase×price + fee = 0.
      let valued = 0n;
      let qty = 0n;
      let fee = 0n;
      let notional = 0n;
      for (const f of step.fills) {
        fillsSeen++;
        const sign = o!.side === 'BUY' ? 1n : -1n;
        const n = mul(fx(f.price), fx(f.quantity));
        eq(fx(f.quoteQuantity), n, 'fill quoteQuantity = price × quantity');
        if (fx(f.fee) < 0n) fail(`negative fee ${f.fee.toFixed()}`);
        if (fx(f.quantity) <= 0n) fail(`fill of quantity ${f.quantity.toFixed()}`);
        valued += sign * n;
        qty += sign * fx(f.quantity);
        fee += fx(f.fee);
        notional += n;
      }
      eq(d.base, qty, 'Δbase = signed fill quantity');
      eq(d.quote + valued + fee, 0n, 'Δquote + Σ Δbase×price + fee');
      if (step.action.kind === 'place' && step.fills.length > 0) {
        eq(fee, feeUp(notional, fx(sc.takerRate)), 'the taker fee is the whole taker notional × takerRate, rounded up to 8 decimals');
      }
      if (step.fills.length === 0) {
        eq(d.quote, 0n, 'no fill: quote total unchanged (only free ↔ locked)');
      }
    });
    const end = totals(snap(sim.ledger));
    eq(end.quote - sim.start.quote, -sim.signedNotional - sim.fees, 'Σquote_end − Σquote_start = −Σ signed notional − Σ fees');
    eq(end.base - sim.start.base, sim.signedQty, 'Σbase_end − Σbase_start = Σ signed quantity');
  }), { numRuns: RUNS });
  t.ok(fillsSeen > RUNS, `the scenarios filled (${fillsSeen} fills)`);
  t.ok(refusalsSeen > 0, `the scenarios include refusals (${refusalsSeen})`);
});

t.test('refusal iff the free balance falls short of what the order may spend (computed independently)', async (t) => {
  let refused = 0;
  let accepted = 0;
  fc.assert(fc.property(scenarioArb, (sc) => {
    run(sc, (sim, step) => {
      const a = step.action;
      if (a.kind !== 'place') return;
      const o = sim.orders[step.index!]!;
      const taken = walkBook(bookSide(a), a.side, o.quantity, o.price ?? undefined);
      let filled = 0n;
      let notional = 0n;
      for (const f of taken) {
        filled += fx(f.quantity);
        notional += mul(fx(f.price), fx(f.quantity));
      }
      const qty = fx(o.quantity);
      const remaining = qty - filled;
      const rests = a.type === 'LIMIT' && a.tif === 'GTC' && remaining > 0n;
      let short: boolean;
      let reserve = 0n;
      if (a.side === 'BUY') {
        if (rests) {
          const rn = mul(remaining, fx(o.price!));
          reserve = rn + feeUp(rn, fx(sc.makerRate));
        }
        short = step.before[QUOTE]!.free < notional + feeUp(notional, fx(sc.takerRate)) + reserve;
      } else {
        if (rests) reserve = remaining;
        short = step.before[BASE]!.free < qty;
      }
      if (short !== step.refused) fail(`refused=${step.refused} but the balance is ${short ? 'short' : 'enough'}`);
      if (step.refused) {
        refused++;
        return;
      }
      accepted++;
      eq(fx(o.locked), reserve, 'the order reserves its resting remainder (with its maker fee for a buy), nothing otherwise');
      const expected = filled === qty ? 'FILLED' : rests ? (filled === 0n ? 'NEW' : 'PARTIALLY_FILLED') : 'EXPIRED';
      eq(o.status, expected, 'status after placing');
    });
  }), { numRuns: RUNS });
  t.ok(refused > 0 && accepted > 0, `both refusals (${refused}) and acceptances (${accepted}) were exercised`);
});

t.test('no negative balance: free and locked stay ≥ 0 for every asset, through fills, cancels and refusals', async (t) => {
  let steps = 0;
  fc.assert(fc.property(scenarioArb, (sc) => {
    run(sc, (_sim, step) => {
      steps++;
      for (const [asset, b] of Object.entries(step.after)) {
        if (b.free < 0n || b.locked < 0n) fail(`${asset} negative after ${JSON.stringify(step.action)}: free ${str(b.free)}, locked ${str(b.locked)}`);
      }
      if (step.action.kind === 'cancel' && step.orderBefore === step.orderAfter) {
        // releasing an order that is no longer open changes no balance
        eq(JSON.stringify(Object.values(step.after).map((v) => [str(v.free), str(v.locked)])),
          JSON.stringify(Object.values(step.before).map((v) => [str(v.free), str(v.locked)])), 'a release of a closed order');
      }
    });
  }), { numRuns: RUNS });
  t.ok(steps > RUNS, `${steps} steps checked`);
});

t.test('partial fills sum to the order; reservations account for every locked amount', async (t) => {
  let makerFilled = 0;
  fc.assert(fc.property(scenarioArb, (sc) => {
    run(sc, (sim, step) => {
      if (step.action.kind === 'fill' && step.index !== undefined) {
        const o = sim.orders[step.index]!;
        const wasOpen = OPEN_STATUSES.includes(JSON.parse(step.orderBefore!)[0]);
        if (!wasOpen && step.fills.length) fail(`a ${JSON.parse(step.orderBefore!)[0]} order filled`);
        if (!wasOpen) eq(step.orderAfter!, step.orderBefore!, 'a fill on an order not open changes nothing');
        if (step.fills.length) {
          makerFilled++;
          const f = step.fills[0]!;
          const prevFilled = fx(JSON.parse(step.orderBefore!)[1]);
          const want = fx(units((step.action as { qty: number }).qty, QTY_DP));
          const left = fx(o.quantity) - prevFilled;
          eq(fx(f.quantity), want < left ? want : left, 'a resting fill takes min(asked, remaining)');
          eq(fx(f.price), fx(o.price!), 'a resting fill is at the limit price');
        }
      }
      let lockedQuote = 0n;
      let lockedBase = 0n;
      sim.orders.forEach((o, i) => {
        const tally = sim.tallies[i]!;
        eq(fx(o.filledQuantity), tally.qty, `order ${i}: filledQuantity = Σ its fills`);
        eq(fx(o.takerQuantity), tally.takerQty, `order ${i}: takerQuantity = Σ its taker fills`);
        eq(fx(o.quoteQuantity), tally.notional, `order ${i}: quoteQuantity = Σ price×quantity`);
        eq(fx(o.fee), tally.fees, `order ${i}: fee = Σ its fill fees`);
        eq(tally.makerFees, feeUp(tally.makerNotional, fx(o.makerRate)), `order ${i}: Σ maker fees = fee of the maker notional`);
        if (fx(o.filledQuantity) > fx(o.quantity)) fail(`order ${i} overfilled: ${o.filledQuantity.toFixed()} > ${o.quantity.toFixed()}`);
        if ((fx(o.filledQuantity) === fx(o.quantity)) !== (o.status === 'FILLED')) fail(`order ${i}: status ${o.status} with ${o.filledQuantity.toFixed()} of ${o.quantity.toFixed()} filled`);
        if (fx(o.locked) < 0n) fail(`order ${i}: negative locked`);
        if (OPEN_STATUSES.includes(o.status)) {
          if (o.side === 'BUY') {
            lockedQuote += fx(o.locked);
            // what it holds is exactly the reservation of its remainder minus the maker fee already charged on it
            const makerQty = fx(o.quantity) - fx(o.takerQuantity);
            const reserved = mul(makerQty, fx(o.price!)) + feeUp(mul(makerQty, fx(o.price!)), fx(o.makerRate));
            eq(fx(o.locked), reserved - tally.makerNotional - tally.makerFees, `order ${i}: an open buy holds its reservation less what its maker fills spent`);
          } else {
            lockedBase += fx(o.locked);
            eq(fx(o.locked), fx(o.quantity) - fx(o.filledQuantity), `order ${i}: an open sell holds its remaining base`);
          }
        } else {
          eq(fx(o.locked), 0n, `order ${i} (${o.status}): nothing locked once filled, canceled, expired or rejected`);
        }
      });
      eq(step.after[QUOTE]!.locked, lockedQuote, `${QUOTE} locked = Σ open buys' locked`);
      eq(step.after[BASE]!.locked, lockedBase, `${BASE} locked = Σ open sells' locked`);
    });
  }), { numRuns: RUNS });
  t.ok(makerFilled > RUNS, `resting fills exercised (${makerFilled})`);
});

t.test('RestingBook: a trade fills at most its quantity, only orders it crosses, in priority order', async (t) => {
  const orderArb = fc.record({ side: fc.constantFrom<Side>('BUY', 'SELL'), ticks: fc.integer({ min: 9_990, max: 10_010 }), qty: qtyArb, at: fc.integer({ min: 0, max: 5 }) });
  const tradeArb = fc.record({ ticks: fc.integer({ min: 9_985, max: 10_015 }), qty: fc.integer({ min: 0, max: 400_000 }) });
  fc.assert(fc.property(fc.boolean(), fc.array(orderArb, { maxLength: 12 }), fc.array(tradeArb, { minLength: 1, maxLength: 15 }), (touch, os, trades) => {
    const book = new RestingBook(touch);
    const remaining = new Map<number, { side: Side; ticks: number; at: number; left: bigint }>();
    os.forEach((o, id) => {
      book.upsert({ id, side: o.side, limit: Number(units(o.ticks, PRICE_DP)), remaining: new D(units(o.qty, QTY_DP)), at: o.at });
      remaining.set(id, { side: o.side, ticks: o.ticks, at: o.at, left: fx(units(o.qty, QTY_DP)) });
    });
    for (const tr of trades) {
      const tq = fx(units(tr.qty, QTY_DP));
      const crosses = (o: { side: Side; ticks: number }) =>
        o.side === 'BUY' ? (touch ? tr.ticks <= o.ticks : tr.ticks < o.ticks) : (touch ? tr.ticks >= o.ticks : tr.ticks > o.ticks);
      // the model: crossing buys (highest, earliest, lowest id), then crossing sells (lowest, earliest, lowest id)
      const rank = (side: Side) => [...remaining.entries()]
        .filter(([, o]) => o.side === side && o.left > 0n && crosses(o))
        .sort(([ia, a], [ib, b]) => (side === 'BUY' ? b.ticks - a.ticks : a.ticks - b.ticks) || a.at - b.at || ia - ib);
      let left = tq;
      const expected: Array<[number, string]> = [];
      for (const [id, o] of [...rank('BUY'), ...rank('SELL')]) {
        if (left <= 0n) break;
        const q = o.left < left ? o.left : left;
        o.left -= q;
        left -= q;
        expected.push([id, str(q)]);
      }
      const got: RestingFill[] = book.trade(Number(units(tr.ticks, PRICE_DP)), new D(units(tr.qty, QTY_DP)));
      const sum = got.reduce((s, f) => s + fx(f.quantity), 0n);
      if (sum > tq) fail(`a trade of ${str(tq)} filled ${str(sum)}`);
      eq(JSON.stringify(got.map((f) => [f.orderId, str(fx(f.quantity))])), JSON.stringify(expected), 'fills in price-time priority, sharing the trade');
      eq(JSON.stringify(book.ids().sort((a, b) => a - b)), JSON.stringify([...remaining.entries()].filter(([, o]) => o.left > 0n).map(([id]) => id)), 'filled orders left the book');
    }
  }), { numRuns: RUNS });
  t.pass('held for every sequence');
});
