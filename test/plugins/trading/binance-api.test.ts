// The Binance-compatible signed order endpoints, driven by Binance's own Node connector (@binance/connector) with
// its base URL pointed at tickgate, and by hand for the signature, timestamp and key checks.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { Spot } from '@binance/connector';
import { auditAccount, startTrading } from './helpers.js';

const START = { USDT: '10000' };

/** What the connector throws on a 4xx: axios's error with Binance's body. */
async function binanceError(p: Promise<unknown>): Promise<{ status: number; code: number; msg: string }> {
  try {
    await p;
  } catch (err) {
    const r = (err as { response?: { status: number; data: { code: number; msg: string } } }).response;
    if (r) return { status: r.status, code: r.data.code, msg: r.data.msg };
    throw err;
  }
  throw new Error('expected the request to fail');
}

t.test('a bot written for Binance paper-trades through @binance/connector by changing its base URL', async (t) => {
  const s = await startTrading(t);
  const u = await s.register();
  const made = await s.call('POST', '/api/v1/users/me/api-keys', { token: u.accessToken, body: { name: 'binance bot' } });
  t.equal(made.status, 201);
  const { key, secret } = made.body.data as { key: string; secret: string };
  t.match(secret, /^[0-9a-f]{64}$/, 'the key comes with a signing secret, shown once');
  const listed = await s.call('GET', '/api/v1/users/me/api-keys', { token: u.accessToken });
  t.notOk(JSON.stringify(listed.body).includes(secret), 'and never shown again');
  const client = new Spot(key, secret, { baseURL: s.httpUrl });

  const account = (await client.account()).data;
  t.same(account.balances, [{ asset: 'USDT', free: '10000.00000000', locked: '0.00000000' }], 'GET /api/v3/account: the starting balance');
  t.equal(account.takerCommission, 10);
  t.equal(account.accountType, 'SPOT');

  const market = (await client.newOrder('BTCUSDT', 'BUY', 'MARKET', { quantity: '0.01' })).data;
  t.equal(market.status, 'FILLED', 'POST /api/v3/order MARKET: filled');
  t.equal(market.executedQty, '0.01000000');
  t.ok(Array.isArray(market.fills) && market.fills.length > 0, 'with its fills (FULL response)');
  const notional = market.fills.reduce((n: Decimal, f: { price: string; qty: string }) => n.add(new Decimal(f.price).mul(f.qty)), new Decimal(0));
  t.equal(new Decimal(market.cummulativeQuoteQty).toFixed(), notional.toDecimalPlaces(8).toFixed(), 'cummulativeQuoteQty is Σ price × qty');
  t.equal(typeof market.orderId, 'number');

  const m = s.sim.market('BTCUSDT')!;
  const low = m.fmtPrice(m.price * 0.5);
  const limit = (await client.newOrder('BTCUSDT', 'BUY', 'LIMIT', { quantity: '0.01', price: low, timeInForce: 'GTC', newClientOrderId: 'bot-limit-1' })).data;
  t.equal(limit.status, 'NEW');
  t.same(limit.fills, [], 'a resting order has no fills yet');
  const again = (await client.newOrder('BTCUSDT', 'BUY', 'LIMIT', { quantity: '0.01', price: low, timeInForce: 'GTC', newClientOrderId: 'bot-limit-1' })).data;
  t.equal(again.orderId, limit.orderId, 'the same newClientOrderId again is the same order');
  const got = (await client.getOrder('BTCUSDT', { orderId: limit.orderId })).data;
  t.equal(got.clientOrderId, 'bot-limit-1');
  t.equal(got.isWorking, true);
  const byClientId = (await client.getOrder('BTCUSDT', { origClientOrderId: 'bot-limit-1' })).data;
  t.equal(byClientId.orderId, limit.orderId, 'GET /api/v3/order by origClientOrderId');
  const open = (await client.openOrders({ symbol: 'BTCUSDT' })).data as Array<{ orderId: number }>;
  t.same(open.map((o) => o.orderId), [limit.orderId], 'GET /api/v3/openOrders');
  const locked = (await client.account({ omitZeroBalances: true })).data.balances.find((b: { asset: string }) => b.asset === 'USDT');
  t.equal(new Decimal(locked.locked).gt(0), true, 'the limit order holds its reservation');
  const canceled = (await client.cancelOrder('BTCUSDT', { orderId: limit.orderId })).data;
  t.equal(canceled.status, 'CANCELED', 'DELETE /api/v3/order');
  t.equal(canceled.origClientOrderId, 'bot-limit-1');
  const trades = (await client.myTrades('BTCUSDT')).data as Array<{ orderId: number; isBuyer: boolean; isMaker: boolean; commissionAsset: string }>;
  t.ok(trades.length === market.fills.length && trades.every((x) => x.orderId === market.orderId && x.isBuyer && !x.isMaker && x.commissionAsset === 'USDT'), 'GET /api/v3/myTrades: the market order\'s fills');

  const insufficient = await binanceError(client.newOrder('BTCUSDT', 'BUY', 'MARKET', { quantity: '5' }));
  t.same(insufficient, { status: 400, code: -2010, msg: 'Account has insufficient balance for requested action.' }, 'too little balance: -2010');
  const tick = await binanceError(client.newOrder('BTCUSDT', 'BUY', 'LIMIT', { quantity: '0.01', price: '50000.001', timeInForce: 'GTC' }));
  t.same(tick, { status: 400, code: -1013, msg: 'Filter failure: PRICE_FILTER' }, 'off the tick size: -1013');
  t.equal((await binanceError(client.newOrder('BTCUSDT', 'BUY', 'LIMIT', { quantity: '0.01', price: low }))).code, -1102, 'a limit without timeInForce: -1102');
  t.equal((await binanceError(client.newOrder('NOPEUSDT', 'BUY', 'MARKET', { quantity: '1' }))).code, -1121, 'an unknown symbol: -1121');
  t.equal((await binanceError(client.cancelOrder('BTCUSDT', { orderId: limit.orderId }))).code, -2011, 'a second cancel: -2011');
  t.equal((await binanceError(client.getOrder('BTCUSDT', { orderId: 99999999 }))).code, -2013, 'an unknown order: -2013');
  const wrongSecret = new Spot(key, 'f'.repeat(64), { baseURL: s.httpUrl });
  t.same(await binanceError(wrongSecret.account()), { status: 400, code: -1022, msg: 'Signature for this request is not valid.' }, 'a wrong secret: -1022');
  const unknownKey = new Spot(`tg_${'A'.repeat(43)}`, secret, { baseURL: s.httpUrl });
  t.same(await binanceError(unknownKey.account()), { status: 401, code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' }, 'an unknown key: -2015, 401');
  t.same(await auditAccount(s.db, u.user.id, START), [], 'the account balances');
});

t.test('signed requests by hand: form bodies, stale timestamps, missing parameters, the key header', async (t) => {
  const s = await startTrading(t);
  const u = await s.register();
  const { key, secret } = (await s.call('POST', '/api/v1/users/me/api-keys', { token: u.accessToken, body: { name: 'raw' } })).body.data as { key: string; secret: string };
  const sign = (text: string) => createHmac('sha256', secret).update(text).digest('hex');
  const send = async (method: string, path: string, query: string, body?: string, headers: Record<string, string> = { 'x-mbx-apikey': key }) => {
    const res = await fetch(`${s.httpUrl}${path}${query ? `?${query}` : ''}`, { method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }, body });
    return { status: res.status, body: await res.json() as any };
  };
  // Binance's rule: the signature covers the query string followed by the body.
  const q = `symbol=ETHUSDT&side=BUY&type=MARKET`;
  const b = `quantity=0.01&timestamp=${Date.now()}`;
  const formOrder = await send('POST', '/api/v3/order', `${q}`, `${b}&signature=${sign(q + b)}`);
  t.equal(formOrder.status, 200, 'parameters split between the query string and a form body');
  t.equal(formOrder.body.status, 'FILLED');
  const old = `timestamp=${Date.now() - 10_000}&recvWindow=5000`;
  t.same((await send('GET', '/api/v3/account', `${old}&signature=${sign(old)}`)).body, { code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' }, 'older than recvWindow: -1021');
  const ahead = `timestamp=${Date.now() + 5000}`;
  t.equal((await send('GET', '/api/v3/account', `${ahead}&signature=${sign(ahead)}`)).body.code, -1021, 'from the future: -1021');
  const now = `timestamp=${Date.now()}`;
  t.equal((await send('GET', '/api/v3/account', now)).body.code, -1102, 'no signature: -1102');
  const noKey = await send('GET', '/api/v3/account', `${now}&signature=${sign(now)}`, undefined, {});
  t.same(noKey, { status: 401, body: { code: -2014, msg: 'API-key format invalid.' } }, 'no X-MBX-APIKEY: -2014');
  const tampered = `timestamp=${Date.now()}&omitZeroBalances=true`;
  t.equal((await send('GET', '/api/v3/account', `${tampered}&signature=${sign(tampered.replace('true', 'false'))}`)).body.code, -1022, 'a changed parameter breaks the signature');
  const dup = `timestamp=${Date.now()}&timestamp=${Date.now()}`;
  t.equal((await send('GET', '/api/v3/account', `${dup}&signature=${sign(dup)}`)).body.code, -1101, 'a repeated parameter: -1101');
  const big = `timestamp=${Date.now()}&recvWindow=70000`;
  t.equal((await send('GET', '/api/v3/account', `${big}&signature=${sign(big)}`)).body.code, -1131, 'recvWindow over 60000: -1131');
  await s.call('DELETE', `/api/v1/users/me/api-keys/${(await s.call('GET', '/api/v1/users/me/api-keys', { token: u.accessToken })).body.data.keys[0].id}`, { token: u.accessToken });
  const fresh = `timestamp=${Date.now()}`;
  t.equal((await send('GET', '/api/v3/account', `${fresh}&signature=${sign(fresh)}`)).body.code, -2015, 'a revoked key: -2015');
  const time = await fetch(`${s.httpUrl}/api/v3/time`);
  t.ok(Math.abs((await time.json() as { serverTime: number }).serverTime - Date.now()) < 5000, 'GET /api/v3/time for bots that sync their clock');
});
