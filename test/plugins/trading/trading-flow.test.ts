// Paper trading end to end against the simulated exchange: fills at the exchange's own book, resting fills on
// trades, the orders:/portfolio: channels, cancels, refusals, concurrency and stale books.
import t from 'tap';
import { Decimal } from 'decimal.js';
import { sqlOn } from '../../helpers/accounts.js';
import { TestClient } from '../../helpers/ws-client.js';
import { until } from '../../helpers/stack.js';
import { auditAccount, startTrading } from './helpers.js';

const D = (v: string | number) => new Decimal(v);
const START = { USDT: '10000' };
const feeOf = (notional: Decimal, rate = '0.001') => notional.mul(rate).toDecimalPlaces(8, Decimal.ROUND_UP);

/** Walks the exchange's own book levels (numbers, as the simulator keeps them) the way an order takes liquidity. */
function walk(levels: Array<[number, number]>, qty: Decimal, fmtPrice: (p: number) => string, fmtQty: (q: number) => string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let left = qty;
  for (const [p, q] of levels) {
    if (left.lte(0)) break;
    const take = Decimal.min(D(fmtQty(q)), left);
    out.push([D(fmtPrice(p)).toFixed(), take.toFixed()]);
    left = left.sub(take);
  }
  return out;
}

// One gateway for the tests that leave the market as it is (each with users of its own): a start costs seconds.
t.test('on one gateway', async (t) => {
  const s = await startTrading(t, { sim: { recordBookTop: 100 } });

  await t.test('a market order fills at the volume-weighted prices of the exchange\'s own book at that moment', async (t) => {
    const u = await s.register();
    const market = s.sim.market('BTCUSDT')!;
    for (const side of ['BUY', 'SELL'] as const) {
      const res = await s.order(u, { symbol: 'BTCUSDT', side, type: 'MARKET', quantity: '0.05' });
      t.equal(res.status, 201, `${side}: placed`);
      const order = res.body.data.order;
      t.equal(order.status, 'FILLED');
      t.equal(order.filledQuantity, '0.05');
      const rows = await sqlOn(s.db, 'SELECT source, price::text AS price, quantity::text AS quantity FROM trading_fills WHERE order_id = $1 ORDER BY id', [order.id]);
      const updateId = Number(String(rows[0]!.source).split(':')[1]);
      const book = market.bookHistory.get(updateId);
      t.ok(book, `${side}: the exchange's book at update ${updateId} is on record`);
      const expected = walk(side === 'BUY' ? book!.asks : book!.bids, D('0.05'), (p) => market.fmtPrice(p), (q) => market.fmtQty(q));
      t.same(rows.map((r) => [D(r.price).toFixed(), D(r.quantity).toFixed()]), expected, `${side}: the fills are the exchange's levels, best first`);
      const notional = expected.reduce((n, [p, q]) => n.add(D(p).mul(q)), D(0));
      t.equal(order.quoteQuantity, notional.toFixed(), `${side}: Σ price × quantity`);
      t.equal(order.averagePrice, notional.div('0.05').toDecimalPlaces(12).toFixed(), `${side}: the average price is the VWAP`);
      t.equal(order.fee, feeOf(notional).toFixed(), `${side}: the taker fee on the notional`);
    }
    t.same(await auditAccount(s.db, u.user.id, START), [], 'the account balances');
  });

  await t.test('orders: cancel, client order ids, refusals with coded reasons, IOC, listing and reset', async (t) => {
    const u = await s.register();
    const market = s.sim.market('ETHUSDT')!;
    const low = D(market.fmtPrice(market.price * 0.5));
    const body = { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.1', price: low.toFixed(), clientOrderId: 'grid-1' };
    const a = await s.order(u, body);
    t.equal(a.status, 201);
    const again = await s.order(u, body);
    t.equal(again.status, 200, 'the same clientOrderId again changes nothing');
    t.equal(again.body.data.order.id, a.body.data.order.id);
    let p = await s.portfolio(u);
    t.equal(p.balances.USDT.locked, low.mul('0.1').add(feeOf(low.mul('0.1'))).toFixed(), 'reserved once');
    const cancel = await s.call('DELETE', `/api/v1/orders/${a.body.data.order.id}`, { token: u.accessToken });
    t.equal(cancel.status, 200);
    t.equal(cancel.body.data.order.status, 'CANCELED');
    p = await s.portfolio(u);
    t.same(p.balances.USDT, { free: '10000', locked: '0' }, 'a cancel returns exactly what the order held');
    const twice = await s.call('DELETE', `/api/v1/orders/${a.body.data.order.id}`, { token: u.accessToken });
    t.equal(twice.status, 409);
    t.equal(twice.body.error.code, 'TG_ERR_ORDER_NOT_OPEN');
    t.equal((await s.call('DELETE', '/api/v1/orders/999999', { token: u.accessToken })).body.error.code, 'TG_ERR_ORDER_NOT_FOUND');
    const other = await s.register();
    t.equal((await s.call('GET', `/api/v1/orders/${a.body.data.order.id}`, { token: other.accessToken })).status, 404, 'another user\'s order is not found');

    const refusals: Array<[Record<string, unknown>, number, string]> = [
      [{ ...body, clientOrderId: undefined, price: low.add('0.001').toFixed() }, 400, 'TG_ERR_ORDER_PRICE_FILTER'],
      [{ ...body, clientOrderId: undefined, quantity: '0.00001' }, 400, 'TG_ERR_ORDER_LOT_SIZE'],
      [{ ...body, clientOrderId: undefined, quantity: '0.0001', price: '10.00' }, 400, 'TG_ERR_ORDER_MIN_NOTIONAL'],
      [{ symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '0.1', price: '100' }, 400, 'TG_ERR_VALIDATION'],
      [{ symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.1' }, 400, 'TG_ERR_VALIDATION'],
      [{ symbol: 'ETHUSDT', side: 'HOLD', type: 'MARKET', quantity: '0.1' }, 400, 'TG_ERR_VALIDATION'],
      [{ symbol: 'NOPEUSDT', side: 'BUY', type: 'MARKET', quantity: '0.1' }, 404, 'TG_ERR_UNKNOWN_SYMBOL'],
      [{ symbol: 'ETHUSDT', side: 'SELL', type: 'MARKET', quantity: '0.1' }, 400, 'TG_ERR_INSUFFICIENT_BALANCE'],
      [{ symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '100' }, 400, 'TG_ERR_INSUFFICIENT_BALANCE'],
    ];
    for (const [b, status, code] of refusals) {
      const r = await s.order(u, b);
      t.equal(r.status, status, `${JSON.stringify(b)} → ${status}`);
      t.equal(r.body.error?.code, code);
      t.ok(typeof r.body.error?.message === 'string' && r.body.error.message.length > 20, 'with a message that says what to do');
    }
    const rejected = (await s.call('GET', '/api/v1/orders?status=REJECTED', { token: u.accessToken })).body.data.orders;
    t.equal(rejected.length, 2, 'refusals after matching are recorded as REJECTED');
    t.equal(rejected[0].reason.code, 'TG_ERR_INSUFFICIENT_BALANCE');
    t.equal((await s.call('POST', '/api/v1/orders', { body: { symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '0.1' } })).status, 401, 'anonymous: 401');

    // IOC: what does not fill at once expires, and nothing is reserved for it.
    const below = D(market.fmtPrice(market.price * 0.9));
    const ioc = await s.order(u, { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'IOC', quantity: '0.1', price: below.toFixed() });
    t.equal(ioc.status, 201);
    t.equal(ioc.body.data.order.status, 'EXPIRED', 'an IOC below the book expires at once');
    t.equal(ioc.body.data.order.filledQuantity, '0');
    const depth = (await s.call('GET', '/api/v1/market/depth/ETHUSDT?limit=1')).body.data;
    const askPrice = D(market.fmtPrice(depth.asks[0][0] as number));
    const taking = await s.order(u, { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'IOC', quantity: '2', price: askPrice.toFixed() });
    t.equal(taking.status, 201);
    t.ok(['EXPIRED', 'FILLED'].includes(taking.body.data.order.status), `an IOC at the ask takes what is there (${taking.body.data.order.status}, ${taking.body.data.order.filledQuantity})`);
    const takingFills = (await s.call('GET', `/api/v1/fills?orderId=${taking.body.data.order.id}`, { token: u.accessToken })).body.data.fills as Array<{ price: string; quantity: string }>;
    t.ok(takingFills.every((f) => D(f.price).lte(askPrice)), 'never beyond its limit');
    t.equal(takingFills.reduce((n, f) => n.add(f.quantity), D(0)).toFixed(), taking.body.data.order.filledQuantity, 'its fills add up to what it filled');
    p = await s.portfolio(u);
    t.equal(p.balances.USDT.locked, '0', 'an IOC reserves nothing');

    const page = await s.call('GET', '/api/v1/orders?limit=2', { token: u.accessToken });
    t.equal(page.body.data.orders.length, 2);
    t.match(page.body.data.next, /^\?before=\d+$/);
    const rest = await s.call('GET', `/api/v1/orders${page.body.data.next}&limit=100`, { token: u.accessToken });
    t.ok(rest.body.data.orders.every((o: { id: number }) => o.id < page.body.data.orders[1].id), 'the next page is older');
    t.equal((await s.call('GET', '/api/v1/orders?status=DONE', { token: u.accessToken })).body.error.code, 'TG_ERR_VALIDATION');
    t.same(await auditAccount(s.db, u.user.id, START), [], 'the account balances');

    const reset = await s.call('POST', '/api/v1/portfolio/reset', { token: u.accessToken });
    t.equal(reset.status, 200);
    t.same(reset.body.data.balances, { USDT: { free: '10000', locked: '0' } }, 'a reset gives the starting balance back');
    t.same((await s.call('GET', '/api/v1/orders', { token: u.accessToken })).body.data.orders, [], 'and empties the order list');
    const rules = await s.call('GET', '/api/v1/orders/rules/ETHUSDT');
    t.equal(rules.body.data.rules.tickSize, '0.01');
  });

  await t.test('50 orders placed at once on one account never overdraw it', async (t) => {
    const u = await s.register();
    const market = s.sim.market('ETHUSDT')!;
    const price = D(market.fmtPrice(market.price * 0.9));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0
      ? s.order(u, { symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '0.1' })
      : s.order(u, { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.1', price: price.toFixed() }))));
    const statuses = results.map((r) => r.status);
    t.ok(statuses.every((st) => st === 201 || st === 400), `each is placed or refused: ${[...new Set(statuses)].join(', ')}`);
    const refused = results.filter((r) => r.status === 400);
    t.ok(refused.length > 0, `more than the balance covers was refused (${refused.length})`);
    t.ok(refused.every((r) => r.body.error.code === 'TG_ERR_INSUFFICIENT_BALANCE'), 'for its balance');
    t.ok(results.length - refused.length > 10, `and the rest went through (${results.length - refused.length})`);
    const p = await s.portfolio(u);
    t.ok(D(p.balances.USDT.free).gte(0) && D(p.balances.USDT.locked).gte(0), 'no balance below zero');
    t.same(await auditAccount(s.db, u.user.id, START), [], 'the account balances');
  });
});



t.test('a resting limit order fills when trades cross its price, on the orders: and portfolio: channels', async (t) => {
  const s = await startTrading(t, { trading: { portfolioIntervalMs: 1000 } });
  const u = await s.register();
  const c = await TestClient.connect(`${s.wsUrl}?token=${u.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`orders:${u.user.id}`, `portfolio:${u.user.id}`);
  const first = await c.next((f) => f.type === 'portfolio');
  t.same(first.data.balances, { USDT: { free: '10000', locked: '0' } }, 'the portfolio comes at once, with the starting balance');
  const market = s.sim.market('BTCUSDT')!;
  const limit = D(market.fmtPrice(market.price * 0.995));
  const placed = await s.order(u, { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.01', price: limit.toFixed() });
  t.equal(placed.status, 201);
  t.equal(placed.body.data.order.status, 'NEW', 'below the book: it rests');
  const reserved = limit.mul('0.01').add(feeOf(limit.mul('0.01')));
  const news = await c.next((f) => f.type === 'order' && f.data.event === 'new');
  t.equal(news.data.order.id, placed.body.data.order.id);
  const locked = await c.next((f) => f.type === 'portfolio' && f.data.balances.USDT.locked !== '0');
  t.equal(locked.data.balances.USDT.locked, reserved.toFixed(), 'the price × quantity and its maker fee are reserved');
  // The market falls through the limit: the next trades print below it.
  market.price = Number(market.fmtPrice(market.price * 0.98));
  const filled = await c.next((f) => f.type === 'order' && f.data.event === 'filled', 15_000);
  t.equal(filled.data.order.filledQuantity, '0.01');
  t.equal(filled.data.order.averagePrice, limit.toFixed(), 'a resting order fills at its own price');
  const fills = filled.data.fills as Array<{ liquidity: string }>;
  t.ok(fills.length >= 1 && fills.every((f) => f.liquidity === 'maker'), 'as maker');
  const sumQty = (await s.call('GET', `/api/v1/fills?orderId=${placed.body.data.order.id}`, { token: u.accessToken })).body.data.fills.reduce((n: Decimal, f: { quantity: string }) => n.add(f.quantity), D(0));
  t.equal(sumQty.toFixed(), '0.01', 'its partial fills add up to the order');
  const after = await c.next((f) => f.type === 'portfolio' && f.data.balances.BTC?.free === '0.01', 5000);
  t.equal(after.data.balances.BTC.free, '0.01');
  t.equal(after.data.balances.USDT.locked, '0', 'nothing stays reserved');
  t.equal(D(after.data.balances.USDT.free).toFixed(), D(10000).sub(limit.mul('0.01')).sub(feeOf(limit.mul('0.01'))).toFixed());
  const pos = after.data.positions.find((p: { symbol: string }) => p.symbol === 'BTCUSDT');
  t.equal(pos.averagePrice, limit.toFixed());
  t.ok(pos.markPrice !== null, 'marked to the live price');
  t.equal(pos.unrealizedPnl, D(pos.markPrice).sub(limit).mul('0.01').toDecimalPlaces(8).toFixed(), 'unrealised P&L at the mark');
  // At most one portfolio frame per second: the frames' own times are an interval apart.
  await c.next((f) => f.type === 'portfolio' && f.data.time !== after.data.time, 5000);
  const times = c.frames.filter((f) => f.type === 'portfolio').map((f) => Date.parse(f.data.time as string));
  for (let i = 1; i < times.length; i++) t.ok(times[i]! - times[i - 1]! >= 900, `portfolio frames ${i - 1} and ${i} are ${times[i]! - times[i - 1]!} ms apart`);
  t.same(await auditAccount(s.db, u.user.id, START), [], 'the account balances');
});

t.test('a stale book fills nothing: orders are refused with TG_ERR_BOOK_STALE until it is current again', async (t) => {
  const s = await startTrading(t, { trading: { bookWaitMs: 300 }, config: { upstream: { reconnectBaseMs: 100, reconnectMaxMs: 200 } } });
  const u = await s.register();
  t.equal((await s.order(u, { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001' })).status, 201, 'a current book fills');
  // The connection drops and the book cannot be rebuilt: the exchange fails its snapshot requests.
  s.sim.failRest(100_000, 500);
  s.sim.dropAll();
  let refused: any;
  await until(async () => {
    const r = await s.order(u, { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001', clientOrderId: 'retry-me' });
    if (r.status === 201) {
      await s.call('POST', '/api/v1/portfolio/reset', { token: u.accessToken });
      return false;
    }
    refused = r;
    return true;
  }, 'an order refused on the stale book', 15_000);
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'TG_ERR_BOOK_STALE');
  t.match(refused.body.error.message, /recorded as REJECTED/);
  const fills = async () => (await sqlOn(s.db, 'SELECT count(*)::int AS n FROM trading_fills'))[0].n as number;
  const before = await fills();
  const half = s.sim.market('BTCUSDT')!.fmtPrice(s.sim.market('BTCUSDT')!.price / 2);
  for (const o of [{ side: 'BUY', type: 'MARKET' }, { side: 'BUY', type: 'LIMIT', price: half }, { side: 'SELL', type: 'MARKET' }]) {
    const r = await s.order(u, { symbol: 'BTCUSDT', quantity: '0.001', ...o });
    t.equal(r.body.error?.code, 'TG_ERR_BOOK_STALE', `${o.side} ${o.type} while the book is stale: refused`);
  }
  t.equal(await fills(), before, 'nothing filled while the book was stale');
  const stale = (await s.call('GET', '/api/v1/orders?status=REJECTED', { token: u.accessToken })).body.data.orders;
  t.equal(stale.find((o: { clientOrderId: string }) => o.clientOrderId === 'retry-me')?.reason.code, 'TG_ERR_BOOK_STALE', 'the refusal is on record with its reason');
  s.sim.recoverRest();
  let retried: any;
  await until(async () => {
    retried = await s.order(u, { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001', clientOrderId: 'retry-me' });
    return retried.status === 201;
  }, 'orders fill again once the book is current', 20_000);
  t.equal(retried.body.data.order.status, 'FILLED', 'the refused order\'s client order id serves its retry');
  t.same(await auditAccount(s.db, u.user.id, START), [], 'the account balances');
});
