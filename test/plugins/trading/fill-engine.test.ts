// The paper-trading fill engine on crafted cases: book walks, the ledger's placements, resting fills and releases,
// the resting book's priority and sharing of a trade, and the order rules. Expected amounts are computed here with
// BigInt fixed-point arithmetic (18 decimals), independently of decimal.js and of the code under test.
import t from 'tap';
import { D, Ledger, ZERO, feeFor, buyReservation, type Balance, type Dec, type OrderState, type Side, type OrderType, type TimeInForce } from '../../../plugins/trading/ledger.js';
import { walkBook, vwap } from '../../../plugins/trading/book-walk.js';
import { RestingBook, type RestingOrder } from '../../../plugins/trading/resting-book.js';
import { parseNewOrder, checkFilters, checkNotional, type NewOrder } from '../../../plugins/trading/order-rules.js';
import { TickgateError } from '../../../core/errors.js';
import type { SymbolInfo } from '../../../core/symbol-registry.js';
import { fx, str, mul, feeUp, feeDown } from './fixed-point.js';

function ledgerWith(balances: Record<string, [free: string, locked?: string]>): Ledger {
  const m = new Map<string, Balance>();
  for (const [asset, [free, locked]] of Object.entries(balances)) m.set(asset, { free: new D(free), locked: new D(locked ?? '0') });
  return new Ledger(m, new Map());
}

function snap(l: Ledger): Record<string, { free: string; locked: string }> {
  const out: Record<string, { free: string; locked: string }> = {};
  for (const [asset, b] of l.balances) out[asset] = { free: str(fx(b.free)), locked: str(fx(b.locked)) };
  return out;
}

function order(o: { side: Side; type: OrderType; quantity: string; price?: string; timeInForce?: TimeInForce | null; makerRate?: string }): OrderState {
  return {
    symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', side: o.side, type: o.type,
    timeInForce: o.timeInForce ?? (o.type === 'LIMIT' ? 'GTC' : null),
    price: o.price === undefined ? null : new D(o.price),
    quantity: new D(o.quantity), filledQuantity: ZERO, takerQuantity: ZERO, quoteQuantity: ZERO, fee: ZERO, locked: ZERO,
    makerRate: new D(o.makerRate ?? '0.001'), status: 'NEW',
  };
}

function orderSnap(o: OrderState): Record<string, string> {
  return {
    status: o.status, filledQuantity: o.filledQuantity.toFixed(), takerQuantity: o.takerQuantity.toFixed(),
    quoteQuantity: o.quoteQuantity.toFixed(), fee: o.fee.toFixed(), locked: o.locked.toFixed(),
  };
}

const fills = (pairs: Array<[string, string]>) => pairs.map(([p, q]) => ({ price: new D(p), quantity: new D(q) }));
const asPairs = (fs: ReadonlyArray<{ price: Dec; quantity: Dec }>) => fs.map((f) => [f.price.toFixed(), f.quantity.toFixed()]);

const ASKS: Array<[string, string]> = [['100.00', '0.5'], ['100.50', '1'], ['101.00', '2']];
const BIDS: Array<[string, string]> = [['99.00', '1'], ['98.50', '1'], ['98.00', '1']];

// ---- walkBook / vwap ----

t.test('walkBook: a BUY walks the asks best-first and stops once its quantity is filled', async (t) => {
  const got = walkBook(ASKS, 'BUY', new D('1.2'));
  t.same(asPairs(got), [['100', '0.5'], ['100.5', '0.7']], 'the best level whole, then 0.7 of the next; the third untouched');
  t.equal(str(got.reduce((s, f) => s + fx(f.quantity), 0n)), '1.2', 'fills add up to the quantity exactly');
  const sell = walkBook(BIDS, 'SELL', new D('1.5'));
  t.same(asPairs(sell), [['99', '1'], ['98.5', '0.5']], 'a SELL walks the bids from the highest');
});

t.test('walkBook: a book shorter than the quantity gives a partial fill of everything on it', async (t) => {
  const got = walkBook(ASKS, 'BUY', new D('5'));
  t.same(asPairs(got), [['100', '0.5'], ['100.5', '1'], ['101', '2']]);
  const total = got.reduce((s, f) => s + fx(f.quantity), 0n);
  t.equal(str(total), '3.5', 'all 3.5 on the book, less than the 5 asked');
  t.same(walkBook([], 'BUY', new D('1')), [], 'an empty book fills nothing');
});

t.test('walkBook: a limit stops at levels beyond it (BUY: price > limit, SELL: price < limit), levels at the limit fill', async (t) => {
  t.same(asPairs(walkBook(ASKS, 'BUY', new D('5'), new D('100.50'))), [['100', '0.5'], ['100.5', '1']], 'BUY: 101 is above the limit');
  t.same(asPairs(walkBook(ASKS, 'BUY', new D('5'), new D('100.49'))), [['100', '0.5']], 'BUY: 100.50 is above 100.49');
  t.same(walkBook(ASKS, 'BUY', new D('5'), new D('99.99')), [], 'BUY: a limit below the best ask takes nothing');
  t.same(asPairs(walkBook(BIDS, 'SELL', new D('5'), new D('98.50'))), [['99', '1'], ['98.5', '1']], 'SELL: 98 is below the limit');
  t.same(asPairs(walkBook(BIDS, 'SELL', new D('5'), new D('98.51'))), [['99', '1']], 'SELL: 98.50 is below 98.51');
  t.same(walkBook(BIDS, 'SELL', new D('5'), new D('99.01')), [], 'SELL: a limit above the best bid takes nothing');
});

t.test('walkBook: levels of zero quantity are skipped', async (t) => {
  const got = walkBook([['100.00', '0'], ['100.01', '0.00000'], ['100.02', '0.3'], ['100.03', '1']], 'BUY', new D('0.5'));
  t.same(asPairs(got), [['100.02', '0.3'], ['100.03', '0.2']]);
  t.ok(got.every((f) => f.quantity.gt(0)), 'no fill of zero quantity');
});

t.test('vwap: Σ price×quantity / Σ quantity of the fills; undefined without fills', async (t) => {
  const exact = vwap(fills([['100', '1'], ['102', '3']]));
  t.equal(exact?.toFixed(), '101.5', '(100×1 + 102×3) / 4');
  const fs = walkBook(ASKS, 'BUY', new D('1.2'));
  const v = vwap(fs)!;
  const notional = fs.reduce((s, f) => s + mul(fx(f.price), fx(f.quantity)), 0n);
  const qty = fs.reduce((s, f) => s + fx(f.quantity), 0n);
  t.equal(str(notional), '120.35');
  // 120.35 / 1.2 = 100.291666…: check v×qty against the notional to far below any money precision
  const back = v.mul(str(qty)).sub(str(notional)).abs();
  t.ok(back.lt('1e-40'), `vwap × quantity = notional (off by ${back.toString()})`);
  t.ok(v.gt('100') && v.lt('100.5'), 'between the best and the worst price');
  t.equal(vwap(fills([['123.45', '0.001']]))?.toFixed(), '123.45', 'one fill: its price');
  t.equal(vwap([]), undefined);
});

// ---- Ledger.place ----

t.test('place: a market BUY debits notional + taker fee (rounded UP to 8 decimals) from quote and credits the base', async (t) => {
  const takerRate = '0.001';
  const l = ledgerWith({ USDT: ['1000'], BTC: ['0'] });
  const o = order({ side: 'BUY', type: 'MARKET', quantity: '0.2' });
  const taken = walkBook([['100.01', '0.12345'], ['100.02', '1']], 'BUY', o.quantity);
  t.same(asPairs(taken), [['100.01', '0.12345'], ['100.02', '0.07655']]);
  const notional = mul(fx('100.01'), fx('0.12345')) + mul(fx('100.02'), fx('0.07655'));
  const fee = feeUp(notional, fx(takerRate));
  t.not(fee, feeDown(notional, fx(takerRate)), 'the case exercises rounding (notional × rate has more than 8 decimals)');
  t.equal(str(fee), '0.02000277', '20.0027655 × 0.001 = 0.0200027655, rounded up');

  const r = l.place(o, taken, new D(takerRate));
  if (!('fills' in r)) return t.fail('refused');
  t.equal(l.balance('USDT').free.toFixed(), str(fx('1000') - notional - fee), 'quote: 1000 − notional − fee');
  t.equal(l.balance('USDT').locked.toFixed(), '0', 'a market order locks nothing');
  t.equal(l.balance('BTC').free.toFixed(), '0.2', 'base credited with what filled');
  t.equal(o.status, 'FILLED');
  t.equal(o.filledQuantity.toFixed(), '0.2');
  t.equal(o.takerQuantity.toFixed(), '0.2');
  t.equal(o.quoteQuantity.toFixed(), str(notional));
  t.equal(o.fee.toFixed(), str(fee));
  t.equal(o.locked.toFixed(), '0');
  t.equal(r.fills.length, 2);
  t.equal(str(r.fills.reduce((s, f) => s + fx(f.fee), 0n)), str(fee), 'per-level fees add up to the one fee on the whole notional');
  t.ok(r.fills.every((f) => f.liquidity === 'taker' && f.feeAsset === 'USDT' && f.fee.gte(0)));
  r.fills.forEach((f, i) => t.equal(f.quoteQuantity.toFixed(), str(mul(fx(f.price), fx(f.quantity))), `level ${i}: quoteQuantity = price × quantity`));
  t.equal(feeFor(new D(str(notional)), new D(takerRate)).toFixed(), str(fee), 'feeFor agrees with the independent round-up');
});

t.test('place: a market SELL needs the whole quantity free, though a thin book fills only part', async (t) => {
  const takerRate = '0.00075';
  const thin: Array<[string, string]> = [['99.99', '0.4'], ['99.98', '0.6']]; // 1.0 on the book
  {
    const l = ledgerWith({ USDT: ['10'], BTC: ['1.49999'] });
    const before = snap(l);
    const o = order({ side: 'SELL', type: 'MARKET', quantity: '1.5' });
    const before_o = orderSnap(o);
    const r = l.place(o, walkBook(thin, 'SELL', o.quantity), new D(takerRate));
    t.ok('refused' in r, '1.49999 free < 1.5, although only 1.0 would fill');
    if ('refused' in r) {
      t.equal(r.refused.code, 'TG_ERR_INSUFFICIENT_BALANCE');
      t.match(r.refused.message, /1\.5 BTC/);
    }
    t.same(snap(l), before, 'balances untouched');
    t.same(orderSnap(o), before_o, 'order untouched');
    t.equal(l.positions.size, 0, 'no position opened');
  }
  {
    const l = ledgerWith({ USDT: ['10'], BTC: ['1.5'] });
    const o = order({ side: 'SELL', type: 'MARKET', quantity: '1.5' });
    const r = l.place(o, walkBook(thin, 'SELL', o.quantity), new D(takerRate));
    if (!('fills' in r)) return t.fail('refused with exactly the quantity free');
    const notional = mul(fx('99.99'), fx('0.4')) + mul(fx('99.98'), fx('0.6'));
    const fee = feeUp(notional, fx(takerRate));
    t.equal(l.balance('BTC').free.toFixed(), '0.5', 'only what filled is spent');
    t.equal(l.balance('BTC').locked.toFixed(), '0');
    t.equal(l.balance('USDT').free.toFixed(), str(fx('10') + notional - fee), 'quote credited notional − fee');
    t.equal(o.status, 'EXPIRED');
    t.equal(o.filledQuantity.toFixed(), '1');
  }
});

t.test('place: a LIMIT GTC BUY that does not cross locks remaining×price + feeFor(remaining×price, makerRate), status NEW', async (t) => {
  const l = ledgerWith({ USDT: ['1000'] });
  const o = order({ side: 'BUY', type: 'LIMIT', quantity: '0.12345', price: '99.99', makerRate: '0.001' });
  const taken = walkBook(ASKS, 'BUY', o.quantity, o.price!);
  t.same(taken, [], 'below the best ask: nothing taken');
  const notional = mul(fx('0.12345'), fx('99.99'));
  const reserve = notional + feeUp(notional, fx('0.001'));
  t.equal(str(reserve), '12.35610927', '12.3437655 + 0.01234377');
  const r = l.place(o, taken, new D('0.001'));
  t.ok('fills' in r && r.fills.length === 0);
  t.equal(o.status, 'NEW');
  t.equal(o.locked.toFixed(), str(reserve));
  t.equal(l.balance('USDT').locked.toFixed(), str(reserve), 'the reservation is locked');
  t.equal(l.balance('USDT').free.toFixed(), str(fx('1000') - reserve));
  t.equal(o.filledQuantity.toFixed(), '0');
  t.equal(buyReservation(new D('0.12345'), new D('99.99'), new D('0.001')).toFixed(), str(reserve), 'buyReservation agrees');
});

t.test('place: a LIMIT GTC SELL that does not cross locks its quantity of base', async (t) => {
  const l = ledgerWith({ BTC: ['2'] });
  const o = order({ side: 'SELL', type: 'LIMIT', quantity: '0.75', price: '105.00' });
  const r = l.place(o, walkBook(BIDS, 'SELL', o.quantity, o.price!), new D('0.001'));
  t.ok('fills' in r && r.fills.length === 0);
  t.equal(o.status, 'NEW');
  t.equal(o.locked.toFixed(), '0.75');
  t.same(snap(l).BTC, { free: '1.25', locked: '0.75' });
});

t.test('place: a LIMIT GTC BUY that crosses in part takes at once and reserves only its remainder', async (t) => {
  const l = ledgerWith({ USDT: ['1000'] });
  const o = order({ side: 'BUY', type: 'LIMIT', quantity: '2', price: '100.50', makerRate: '0.0002' });
  const taken = walkBook(ASKS, 'BUY', o.quantity, o.price!);
  t.same(asPairs(taken), [['100', '0.5'], ['100.5', '1']]);
  const r = l.place(o, taken, new D('0.001'));
  if (!('fills' in r)) return t.fail('refused');
  const notional = mul(fx('100'), fx('0.5')) + mul(fx('100.5'), fx('1'));
  const takerFee = feeUp(notional, fx('0.001'));
  const remNotional = mul(fx('0.5'), fx('100.5'));
  const reserve = remNotional + feeUp(remNotional, fx('0.0002'));
  t.equal(o.status, 'PARTIALLY_FILLED');
  t.equal(o.filledQuantity.toFixed(), '1.5');
  t.equal(o.locked.toFixed(), str(reserve));
  t.same(snap(l).USDT, { free: str(fx('1000') - notional - takerFee - reserve), locked: str(reserve) });
  t.equal(l.balance('BTC').free.toFixed(), '1.5');
});

t.test('place: an IOC limit does not reserve its remainder (EXPIRED), and is FILLED when it completes', async (t) => {
  {
    const l = ledgerWith({ USDT: ['1000'] });
    const o = order({ side: 'BUY', type: 'LIMIT', timeInForce: 'IOC', quantity: '3', price: '100.50' });
    const taken = walkBook(ASKS, 'BUY', o.quantity, o.price!);
    const r = l.place(o, taken, new D('0.001'));
    if (!('fills' in r)) return t.fail('refused');
    const notional = mul(fx('100'), fx('0.5')) + mul(fx('100.5'), fx('1'));
    t.equal(o.status, 'EXPIRED');
    t.equal(o.filledQuantity.toFixed(), '1.5');
    t.equal(o.locked.toFixed(), '0', 'nothing held for the 1.5 not filled');
    t.same(snap(l).USDT, { free: str(fx('1000') - notional - feeUp(notional, fx('0.001'))), locked: '0' });
  }
  {
    const l = ledgerWith({ BTC: ['1'] });
    const o = order({ side: 'SELL', type: 'LIMIT', timeInForce: 'IOC', quantity: '1', price: '98.50' });
    const taken = walkBook(BIDS, 'SELL', o.quantity, o.price!);
    const r = l.place(o, taken, new D('0.001'));
    if (!('fills' in r)) return t.fail('refused');
    t.equal(o.status, 'FILLED');
    t.equal(o.locked.toFixed(), '0');
    t.same(snap(l).BTC, { free: '0', locked: '0' });
    t.equal(l.balance('USDT').free.toFixed(), str(fx('99') - feeUp(fx('99'), fx('0.001'))));
  }
  {
    // IOC SELL with a remainder: only what filled leaves; nothing locked
    const l = ledgerWith({ BTC: ['3'] });
    const o = order({ side: 'SELL', type: 'LIMIT', timeInForce: 'IOC', quantity: '3', price: '98.50' });
    const r = l.place(o, walkBook(BIDS, 'SELL', o.quantity, o.price!), new D('0.001'));
    t.ok('fills' in r);
    t.equal(o.status, 'EXPIRED');
    t.equal(o.filledQuantity.toFixed(), '2');
    t.same(snap(l).BTC, { free: '1', locked: '0' });
  }
});

t.test('place: a market order on a short book is EXPIRED with the partial quantity filled', async (t) => {
  const l = ledgerWith({ USDT: ['10000'] });
  const o = order({ side: 'BUY', type: 'MARKET', quantity: '5' });
  const r = l.place(o, walkBook(ASKS, 'BUY', o.quantity), new D('0.001'));
  if (!('fills' in r)) return t.fail('refused');
  const notional = mul(fx('100'), fx('0.5')) + mul(fx('100.5'), fx('1')) + mul(fx('101'), fx('2'));
  t.equal(o.status, 'EXPIRED');
  t.equal(o.filledQuantity.toFixed(), '3.5');
  t.equal(o.quoteQuantity.toFixed(), str(notional));
  t.same(snap(l).USDT, { free: str(fx('10000') - notional - feeUp(notional, fx('0.001'))), locked: '0' });
  t.equal(l.balance('BTC').free.toFixed(), '3.5');
});

t.test('place: a BUY refused when quote is short by 1e-8 leaves everything untouched; exactly enough is accepted', async (t) => {
  const o0 = () => order({ side: 'BUY', type: 'LIMIT', quantity: '2', price: '100.50', makerRate: '0.001' });
  const taken = walkBook(ASKS, 'BUY', new D('2'), new D('100.50'));
  const notional = mul(fx('100'), fx('0.5')) + mul(fx('100.5'), fx('1'));
  const remNotional = mul(fx('0.5'), fx('100.5'));
  const need = notional + feeUp(notional, fx('0.001')) + remNotional + feeUp(remNotional, fx('0.001'));
  {
    const l = ledgerWith({ USDT: [str(need - 10n ** 10n)], BTC: ['0.1'] });
    const before = snap(l);
    const o = o0();
    const ob = orderSnap(o);
    const r = l.place(o, taken, new D('0.001'));
    t.ok('refused' in r, 'one unit of 1e-8 short');
    if ('refused' in r) {
      t.equal(r.refused.code, 'TG_ERR_INSUFFICIENT_BALANCE');
      t.match(r.refused.message, str(need), 'the message names what is needed');
    }
    t.same(snap(l), before, 'balances untouched');
    t.same(orderSnap(o), ob, 'order untouched');
    t.equal(l.positions.size, 0);
  }
  {
    const l = ledgerWith({ USDT: [str(need)] });
    const o = o0();
    const r = l.place(o, taken, new D('0.001'));
    t.ok('fills' in r, 'exactly the amount needed is enough');
    t.same(snap(l).USDT, { free: '0', locked: str(remNotional + feeUp(remNotional, fx('0.001'))) });
  }
});

// ---- Ledger.fillResting ----

function restingBuy(l: Ledger, quantity: string, price: string, makerRate: string): OrderState {
  const o = order({ side: 'BUY', type: 'LIMIT', quantity, price, makerRate });
  const r = l.place(o, [], new D('0.001'));
  if (!('fills' in r)) throw new Error('setup: refused');
  return o;
}

t.test('fillResting: partial fills add up, and their maker fees sum to exactly feeFor(total notional, makerRate)', async (t) => {
  const l = ledgerWith({ USDT: ['1000'] });
  const o = restingBuy(l, '0.12345', '123.47', '0.00075');
  const pieces = ['0.00123', '0.04567', '0.07655'];
  let sumQ = 0n;
  let sumFee = 0n;
  let naive = 0n;
  for (const [i, p] of pieces.entries()) {
    const f = l.fillResting(o, new D(p));
    if (!f) return t.fail(`piece ${i} did not fill`);
    t.equal(f.quantity.toFixed(), str(fx(p)), `piece ${i} fills what was asked`);
    t.equal(f.liquidity, 'maker');
    t.equal(f.price.toFixed(), '123.47', 'at the limit price');
    t.equal(f.quoteQuantity.toFixed(), str(mul(fx(p), fx('123.47'))));
    t.ok(f.fee.gte(0));
    sumQ += fx(f.quantity);
    sumFee += fx(f.fee);
    naive += feeUp(mul(fx(p), fx('123.47')), fx('0.00075'));
    t.equal(o.filledQuantity.toFixed(), str(sumQ), `after piece ${i}: filledQuantity is the sum of the fills`);
    t.equal(o.status, i === pieces.length - 1 ? 'FILLED' : 'PARTIALLY_FILLED');
  }
  const total = mul(fx('0.12345'), fx('123.47'));
  t.equal(str(sumQ), '0.12345');
  t.equal(str(sumFee), str(feeUp(total, fx('0.00075'))), 'Σ partial fees = fee of the total notional');
  t.not(naive, sumFee, 'the case matters: rounding up each piece alone would charge more');
  t.equal(o.fee.toFixed(), str(sumFee));
  t.equal(o.locked.toFixed(), '0');
  t.same(snap(l), { USDT: { free: str(fx('1000') - total - feeUp(total, fx('0.00075'))), locked: '0' }, BTC: { free: '0.12345', locked: '0' } });
});

t.test('fillResting: a partially crossed BUY’s maker fills use exactly its reservation', async (t) => {
  const l = ledgerWith({ USDT: ['1000'] });
  const o = order({ side: 'BUY', type: 'LIMIT', quantity: '2', price: '100.50', makerRate: '0.00075' });
  const r = l.place(o, walkBook(ASKS, 'BUY', o.quantity, o.price!), new D('0.001'));
  t.ok('fills' in r);
  const makerNotional = mul(fx('0.5'), fx('100.5'));
  const reserved = makerNotional + feeUp(makerNotional, fx('0.00075'));
  t.equal(o.locked.toFixed(), str(reserved), 'the remainder 0.5 reserved at 100.50 with its maker fee');
  const a = l.fillResting(o, new D('0.12347'))!;
  const b = l.fillResting(o, new D('0.37653'))!;
  t.equal(str(fx(a.fee) + fx(b.fee)), str(feeUp(makerNotional, fx('0.00075'))), 'maker fees = fee of the maker notional');
  t.equal(str(fx(a.quoteQuantity) + fx(b.quoteQuantity) + fx(a.fee) + fx(b.fee)), str(reserved), 'the fills spend the reservation exactly');
  t.equal(o.status, 'FILLED');
  t.equal(o.takerQuantity.toFixed(), '1.5');
  t.equal(o.filledQuantity.toFixed(), '2');
  t.equal(l.balance('USDT').locked.toFixed(), '0');
});

t.test('fillResting: a full fill releases whatever the order still held locked', async (t) => {
  {
    // an order holding more than its fill costs (e.g. reserved under other terms): the surplus returns to free
    const l = ledgerWith({ USDT: ['0', '20'] });
    const o = order({ side: 'BUY', type: 'LIMIT', quantity: '1', price: '10', makerRate: '0.001' });
    o.locked = new D('20');
    const f = l.fillResting(o, new D('1'))!;
    const cost = fx('10') + feeUp(fx('10'), fx('0.001'));
    t.equal(str(fx(f.quoteQuantity) + fx(f.fee)), str(cost));
    t.equal(o.status, 'FILLED');
    t.equal(o.locked.toFixed(), '0');
    t.same(snap(l).USDT, { free: str(fx('20') - cost), locked: '0' }, 'the 9.99 left over is free again');
  }
  {
    const l = ledgerWith({ BTC: ['0', '2'] });
    const o = order({ side: 'SELL', type: 'LIMIT', quantity: '1', price: '10', makerRate: '0.001' });
    o.locked = new D('2');
    l.fillResting(o, new D('1'));
    t.equal(o.locked.toFixed(), '0');
    t.same(snap(l).BTC, { free: '1', locked: '0' });
    t.same(snap(l).USDT, { free: str(fx('10') - feeUp(fx('10'), fx('0.001'))), locked: '0' });
  }
});

t.test('fillResting: a resting SELL moves locked base out and credits notional − fee', async (t) => {
  const l = ledgerWith({ BTC: ['1'] });
  const o = order({ side: 'SELL', type: 'LIMIT', quantity: '0.7', price: '123.45', makerRate: '0.001' });
  t.ok('fills' in l.place(o, [], new D('0.001')));
  const f = l.fillResting(o, new D('0.33333'))!;
  const n = mul(fx('0.33333'), fx('123.45'));
  t.equal(f.fee.toFixed(), str(feeUp(n, fx('0.001'))));
  t.same(snap(l), { BTC: { free: '0.3', locked: str(fx('0.7') - fx('0.33333')) }, USDT: { free: str(n - feeUp(n, fx('0.001'))), locked: '0' } });
  t.equal(o.status, 'PARTIALLY_FILLED');
});

t.test('fillResting: an order not open (or a zero quantity) fills nothing and changes nothing', async (t) => {
  for (const status of ['FILLED', 'CANCELED', 'EXPIRED', 'REJECTED'] as const) {
    const l = ledgerWith({ USDT: ['100', '50'] });
    const o = order({ side: 'BUY', type: 'LIMIT', quantity: '0.1', price: '100' });
    o.locked = new D('50');
    o.status = status;
    const before = snap(l);
    const ob = orderSnap(o);
    t.equal(l.fillResting(o, new D('0.05')), undefined, `${status}: undefined`);
    t.same(snap(l), before);
    t.same(orderSnap(o), ob);
  }
  const l = ledgerWith({ USDT: ['1000'] });
  const o = restingBuy(l, '1', '100', '0.001');
  const before = snap(l);
  t.equal(l.fillResting(o, new D('0')), undefined, 'zero quantity: undefined');
  t.same(snap(l), before);
});

t.test('fillResting: cannot overfill; the quantity is clipped to what remains', async (t) => {
  const l = ledgerWith({ USDT: ['1000'] });
  const o = restingBuy(l, '0.3', '100', '0.001');
  t.equal(l.fillResting(o, new D('0.1'))?.quantity.toFixed(), '0.1');
  const f = l.fillResting(o, new D('5'));
  t.equal(f?.quantity.toFixed(), '0.2', 'only the 0.2 remaining');
  t.equal(o.filledQuantity.toFixed(), '0.3');
  t.equal(o.status, 'FILLED');
  t.equal(l.balance('BTC').free.toFixed(), '0.3', 'no more base than ordered');
  t.equal(l.fillResting(o, new D('1')), undefined, 'a filled order takes no more');
  t.equal(o.filledQuantity.toFixed(), '0.3');
});

// ---- release ----

t.test('release (cancel): the locked amount returns to free exactly', async (t) => {
  {
    const l = ledgerWith({ USDT: ['1000'] });
    const o = restingBuy(l, '0.12345', '99.99', '0.001');
    t.not(o.locked.toFixed(), '0');
    l.release(o);
    t.same(snap(l).USDT, { free: '1000', locked: '0' }, 'all of it back');
    t.equal(o.locked.toFixed(), '0');
    l.release(o);
    t.same(snap(l).USDT, { free: '1000', locked: '0' }, 'a second release changes nothing');
  }
  {
    const l = ledgerWith({ USDT: ['1000'] });
    const o = restingBuy(l, '0.5', '100', '0.001');
    t.ok(l.fillResting(o, new D('0.2')));
    const fillCost = mul(fx('0.2'), fx('100')) + feeUp(mul(fx('0.2'), fx('100')), fx('0.001'));
    const reserved = mul(fx('0.5'), fx('100')) + feeUp(mul(fx('0.5'), fx('100')), fx('0.001'));
    t.equal(o.locked.toFixed(), str(reserved - fillCost), 'locked after a partial fill');
    l.release(o);
    t.same(snap(l).USDT, { free: str(fx('1000') - fillCost), locked: '0' }, 'only the fill was spent');
  }
  {
    const l = ledgerWith({ BTC: ['1.23456'] });
    const o = order({ side: 'SELL', type: 'LIMIT', quantity: '1.2', price: '200' });
    l.place(o, [], new D('0.001'));
    t.same(snap(l).BTC, { free: '0.03456', locked: '1.2' });
    l.release(o);
    t.same(snap(l).BTC, { free: '1.23456', locked: '0' });
  }
});

// ---- RestingBook ----

const rest = (id: number, side: Side, limit: number, remaining: string, at: number): RestingOrder => ({ id, side, limit, remaining: new D(remaining), at });
const fillPairs = (fs: ReadonlyArray<{ orderId: number; quantity: Dec }>) => fs.map((f) => [f.orderId, f.quantity.toFixed()]);

t.test('RestingBook: price-time priority (best price, then earlier, then lower id)', async (t) => {
  const b = new RestingBook(false);
  b.upsert(rest(1, 'BUY', 101, '1', 20));
  b.upsert(rest(2, 'BUY', 102, '1', 30));
  b.upsert(rest(3, 'BUY', 101, '1', 10));
  b.upsert(rest(5, 'BUY', 100.5, '1', 5));
  b.upsert(rest(4, 'BUY', 100.5, '1', 5));
  t.same(fillPairs(b.trade(100, new D('10'))), [[2, '1'], [3, '1'], [1, '1'], [4, '1'], [5, '1']]);
  const s = new RestingBook(false);
  s.upsert(rest(1, 'SELL', 99, '1', 20));
  s.upsert(rest(2, 'SELL', 98, '1', 30));
  s.upsert(rest(3, 'SELL', 99, '1', 10));
  t.same(fillPairs(s.trade(100, new D('2.5'))), [[2, '1'], [3, '1'], [1, '0.5']], 'sells: lowest first; the last gets what is left');
});

t.test('RestingBook: cross fills only through the limit, touch also at it', async (t) => {
  for (const touch of [false, true]) {
    const b = new RestingBook(touch);
    b.upsert(rest(1, 'BUY', 100, '1', 1));
    b.upsert(rest(2, 'SELL', 105, '1', 1));
    t.same(b.trade(100.01, new D('1')), [], `${touch ? 'touch' : 'cross'}: a trade above a buy limit fills nothing`);
    t.same(b.trade(104.99, new D('1')), [], `${touch ? 'touch' : 'cross'}: a trade below a sell limit fills nothing`);
    t.same(fillPairs(b.trade(100, new D('0.25'))), touch ? [[1, '0.25']] : [], `trade at the buy limit: ${touch ? 'fills' : 'nothing'}`);
    t.same(fillPairs(b.trade(105, new D('0.25'))), touch ? [[2, '0.25']] : [], `trade at the sell limit: ${touch ? 'fills' : 'nothing'}`);
    t.same(fillPairs(b.trade(99.99, new D('0.25'))), [[1, '0.25']], 'a trade through the buy limit fills in both modes');
    t.same(fillPairs(b.trade(105.01, new D('0.25'))), [[2, '0.25']], 'a trade through the sell limit fills in both modes');
  }
});

t.test('RestingBook: one trade’s quantity is shared by the orders it crosses and never fills more than it traded', async (t) => {
  const b = new RestingBook(false);
  b.upsert(rest(1, 'BUY', 101, '1', 1));
  b.upsert(rest(2, 'BUY', 101, '1', 2));
  b.upsert(rest(3, 'BUY', 101, '1', 3));
  const fs = b.trade(100, new D('1.5'));
  t.same(fillPairs(fs), [[1, '1'], [2, '0.5']]);
  t.equal(str(fs.reduce((s, f) => s + fx(f.quantity), 0n)), '1.5', 'exactly the traded quantity, shared');
  // a trade crossing resting buys and sells at once still shares one quantity
  const both = new RestingBook(false);
  both.upsert(rest(1, 'BUY', 101, '1', 1));
  both.upsert(rest(2, 'SELL', 99, '1', 1));
  const f2 = both.trade(100, new D('1.5'));
  t.equal(str(f2.reduce((s, f) => s + fx(f.quantity), 0n)), '1.5', 'buy and sell together get 1.5, not 2');
  t.same(fillPairs(f2), [[1, '1'], [2, '0.5']]);
});

t.test('RestingBook: filled orders leave the book, partly filled ones keep their remainder', async (t) => {
  const b = new RestingBook(false);
  b.upsert(rest(1, 'BUY', 101, '1', 1));
  b.upsert(rest(2, 'BUY', 101, '1', 2));
  t.equal(b.size, 2);
  b.trade(100, new D('1.5'));
  t.equal(b.size, 1);
  t.same(b.ids(), [2]);
  t.same(fillPairs(b.trade(100, new D('9'))), [[2, '0.5']], 'the remainder 0.5 is what is left to fill');
  t.equal(b.size, 0);
  t.same(b.trade(100, new D('9')), []);
  t.equal(b.remove(2), false, 'already gone');
});

t.test('RestingBook: upsert replaces an order (limit and remainder); a zero remainder removes it', async (t) => {
  const b = new RestingBook(false);
  b.upsert(rest(1, 'BUY', 101, '1', 1));
  b.upsert(rest(2, 'BUY', 100.5, '1', 2));
  b.upsert(rest(1, 'BUY', 100.2, '0.3', 1));
  t.equal(b.size, 2, 'no duplicate');
  t.same(fillPairs(b.trade(100, new D('5'))), [[2, '1'], [1, '0.3']], 'id 1 now ranks by its new limit and fills its new remainder');
  b.upsert(rest(3, 'SELL', 99, '1', 1));
  b.upsert(rest(3, 'SELL', 99, '0', 1));
  t.equal(b.size, 0, 'remaining 0: removed');
  t.same(b.trade(100, new D('1')), []);
});

// ---- order rules ----

const INFO: SymbolInfo = {
  symbol: 'BTCUSDT', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT',
  filters: {
    tickSize: 0.01, stepSize: 0.00001, minQty: 0.00001, maxQty: 9000, minPrice: 0.01, maxPrice: 1000000,
    minNotional: 5, maxNotional: Infinity, priceDecimals: 2, quantityDecimals: 5,
  },
};

function codeOf(fn: () => unknown): { code: string; message: string; details?: unknown } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof TickgateError)) throw err;
    return { code: String(err.code), message: err.message, details: err.details };
  }
}

const newOrder = (o: Omit<Partial<NewOrder>, 'quantity' | 'price'> & { quantity: string; price?: string }): NewOrder => ({
  symbol: 'BTCUSDT', side: 'BUY', type: o.price ? 'LIMIT' : 'MARKET', timeInForce: o.price ? 'GTC' : null, clientOrderId: undefined,
  ...o, quantity: new D(o.quantity), price: o.price === undefined ? undefined : new D(o.price),
});

t.test('parseNewOrder: a LIMIT needs a price, a MARKET takes none (TG_ERR_VALIDATION)', async (t) => {
  const noPrice = codeOf(() => parseNewOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.1' }));
  t.equal(noPrice?.code, 'TG_ERR_VALIDATION');
  t.match(noPrice?.details, [{ field: 'price' }]);
  const withPrice = codeOf(() => parseNewOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '0.1', price: '100' }));
  t.equal(withPrice?.code, 'TG_ERR_VALIDATION');
  t.match(withPrice?.details, [{ field: 'price' }]);
  const withTif = codeOf(() => parseNewOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '0.1', timeInForce: 'IOC' }));
  t.equal(withTif?.code, 'TG_ERR_VALIDATION');
  t.equal(codeOf(() => parseNewOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0', price: '1' }))?.code, 'TG_ERR_VALIDATION', 'quantity 0');

  const lim = parseNewOrder({ symbol: 'btcusdt', side: 'BUY', type: 'LIMIT', quantity: '0.1', price: '100.25' });
  t.equal(lim.timeInForce, 'GTC', 'a limit defaults to GTC');
  t.equal(lim.symbol, 'BTCUSDT');
  t.equal(lim.price?.toFixed(), '100.25');
  const mkt = parseNewOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: 0.1 });
  t.equal(mkt.timeInForce, null);
  t.equal(mkt.price, undefined);
  t.equal(mkt.quantity.toFixed(), '0.1');
});

t.test('checkFilters: a price off the tick size is refused with the two nearest valid prices', async (t) => {
  const e = codeOf(() => checkFilters(newOrder({ quantity: '1', price: '100.005' }), INFO));
  t.equal(e?.code, 'TG_ERR_ORDER_PRICE_FILTER');
  t.match(e?.message, /use 100 or 100\.01\b/);
  const e2 = codeOf(() => checkFilters(newOrder({ quantity: '1', price: '12345.6789' }), INFO));
  t.equal(e2?.code, 'TG_ERR_ORDER_PRICE_FILTER');
  t.match(e2?.message, /use 12345\.67 or 12345\.68\b/);
  t.equal(codeOf(() => checkFilters(newOrder({ quantity: '1', price: '1000000.01' }), INFO))?.code, 'TG_ERR_ORDER_PRICE_FILTER', 'above maxPrice');
  t.equal(codeOf(() => checkFilters(newOrder({ quantity: '1', price: '100.01' }), INFO)), undefined, 'on the tick: accepted');
});

t.test('checkFilters: a quantity off the step size or outside its range is refused (TG_ERR_ORDER_LOT_SIZE)', async (t) => {
  const e = codeOf(() => checkFilters(newOrder({ quantity: '0.000015', price: '1000000' }), INFO));
  t.equal(e?.code, 'TG_ERR_ORDER_LOT_SIZE');
  t.match(e?.message, /use 0\.00001 or 0\.00002\b/);
  t.equal(codeOf(() => checkFilters(newOrder({ quantity: '0.000001' }), INFO))?.code, 'TG_ERR_ORDER_LOT_SIZE', 'below minQty');
  t.equal(codeOf(() => checkFilters(newOrder({ quantity: '9000.00001' }), INFO))?.code, 'TG_ERR_ORDER_LOT_SIZE', 'above maxQty');
  t.equal(codeOf(() => checkFilters(newOrder({ quantity: '0.00001' }), INFO)), undefined, 'minQty itself, market order (notional checked later)');
});

t.test('checkFilters / checkNotional: below min notional is refused (TG_ERR_ORDER_MIN_NOTIONAL), exactly the minimum passes', async (t) => {
  const e = codeOf(() => checkFilters(newOrder({ quantity: '0.04999', price: '100.00' }), INFO));
  t.equal(e?.code, 'TG_ERR_ORDER_MIN_NOTIONAL');
  t.match(e?.message, /4\.999 USDT/);
  t.equal(codeOf(() => checkFilters(newOrder({ quantity: '0.05', price: '100.00' }), INFO)), undefined, '0.05 × 100 = 5');
  t.equal(codeOf(() => checkNotional(new D('0.00001'), new D('499999.99'), INFO))?.code, 'TG_ERR_ORDER_MIN_NOTIONAL', 'a market order by its average price');
  t.equal(codeOf(() => checkNotional(new D('9000'), new D('1000000'), INFO)), undefined, 'no maximum when maxNotional is Infinity');
});
