// Payments end to end against the simulated Stripe: checkout, the webhook, plans gating channels, connections and
// requests at subscribe time and live on open connections, the endpoints' errors, and payments off.
import t from 'tap';
import { TestClient, refusedUpgrade } from '../../helpers/ws-client.js';
import { startAccounts, makeAdmin, sqlOn } from '../../helpers/accounts.js';
import { startPayments, PRO_PRICE, SECRET_KEY, WEBHOOK_SECRET } from './helpers.js';

t.setTimeout(120_000);

t.test('without a Stripe secret key payments are off: nothing is gated, the routes say how to turn them on', async (t) => {
  const s = await startAccounts(t, { extraPlugins: ['payments'] });
  const plans = await s.call('GET', '/api/v1/payments/plans');
  t.equal(plans.status, 200);
  t.equal(plans.body.data.enabled, false, 'the plans are listed as gating nothing');
  t.same(plans.body.data.plans.map((p: any) => p.name), ['free', 'pro'], 'the shipped plans');
  const c = await TestClient.connect(s.wsUrl);
  t.teardown(() => c.close());
  t.equal(c.frames[0]!.data.limits.maxChannels, 50, 'the configured channel limit');
  c.subscribe('depth:BTCUSDT:100');
  t.ok(await c.next((f) => f.type === 'subscribed' && f.channel === 'depth:BTCUSDT:100'), 'a pro-only channel is open to an anonymous client');
  const user = await s.register();
  const checkout = await s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'pro' } });
  t.equal(checkout.status, 503);
  t.equal(checkout.body.error.code, 'TG_ERR_PAYMENTS_OFF');
  t.match(checkout.body.error.message, /STRIPE_SECRET_KEY/);
});

t.test('check out pro, receive the webhook, hold a pro-only channel; deleting the subscription ends it at once while public channels flow', async (t) => {
  const s = await startPayments(t);
  const user = await s.register();
  const c = await TestClient.connect(`${s.wsUrl}?token=${user.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`account:${user.user.id}`, 'price:BTCUSDT', 'depth:BTCUSDT:100');
  const refused = await c.next((f) => f.type === 'error' && f.channel === 'depth:BTCUSDT:100');
  t.equal(refused.data.code, 'TG_ERR_PLAN_REQUIRED');
  t.match(refused.data.message, /needs the pro plan; your plan is free: upgrade with POST \/api\/v1\/payments\/checkout \{"plan":"pro"\}/, 'the error names the plan that allows it');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'price:BTCUSDT');

  // The REST twin of a gated channel is gated the same way.
  const restDepth = await s.call('GET', '/api/v1/market/depth/BTCUSDT?limit=100', { token: user.accessToken });
  t.same([restDepth.status, restDepth.body.error?.code], [403, 'TG_ERR_PLAN_REQUIRED'], 'depth over REST with 100 levels needs pro');
  t.equal((await s.call('GET', '/api/v1/market/depth/BTCUSDT?limit=60')).status, 403, 'so does any limit above 50, anonymously');
  t.equal((await s.call('GET', '/api/v1/market/depth/BTCUSDT?limit=50', { token: user.accessToken })).status, 200, '50 levels are free');
  const badToken = await s.call('GET', '/api/v1/market/depth/BTCUSDT?limit=100', { token: 'not-a-token' });
  t.same([badToken.status, badToken.body.error.code], [401, 'TG_ERR_TOKEN_INVALID'], 'a credential that is not valid is told so, not sent to a plan');
  t.equal((await s.call('GET', '/api/v1/market/trades/BTCUSDT', { token: user.accessToken })).status, 200, 'ungated twins are open');
  t.equal((await s.call('GET', '/api/v1/market/depth/NOPEUSDT?limit=100')).body.error.code, 'TG_ERR_UNKNOWN_SYMBOL', 'a bad symbol is reported as such, not as a plan matter');

  const before = await s.subscription(user);
  t.same({ plan: before.plan, status: before.status, currentPeriodEnd: before.currentPeriodEnd }, { plan: 'free', status: null, currentPeriodEnd: null });

  const checkout = await s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'pro' } });
  t.equal(checkout.status, 201);
  t.match(checkout.body.data.url, new RegExp(`^${s.stripe.url}/checkout/cs_test_`), 'a Checkout Session URL');
  const session = s.stripe.sessions.get(checkout.body.data.sessionId)!;
  t.equal(session.price, PRO_PRICE, 'it sells the plan\'s Stripe price');
  t.equal(session.client_reference_id, user.user.id);
  t.match(session.success_url, /checkout=success/, 'the success URL from config');
  // The buyer pays on the checkout page, as a browser would.
  const pay = await fetch(`${checkout.body.data.url}/pay`, { method: 'POST', redirect: 'manual' });
  t.equal(pay.status, 303);

  const changed = await c.next((f) => f.type === 'account' && f.data.event === 'plan.changed');
  t.equal(changed.data.plan.name, 'pro');
  t.equal(changed.data.previousPlan, 'free');
  t.equal(changed.data.subscription.status, 'active');
  const limits = await c.next((f) => f.type === 'limits');
  t.equal(limits.data.maxChannels, 200, 'the open connection is told its new channel limit');
  const sub = await s.subscription(user);
  t.equal(sub.plan, 'pro');
  t.equal(sub.status, 'active');
  t.ok(Date.parse(sub.currentPeriodEnd) > Date.now(), 'the period end, read from the subscription item');
  t.equal(sub.entitlements.maxChannelsPerConnection, 200);

  c.subscribe('depth:BTCUSDT:100');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'depth:BTCUSDT:100');
  await c.next((f) => f.type === 'depth' && f.channel === 'depth:BTCUSDT:100');
  const proDepth = await s.call('GET', '/api/v1/market/depth/BTCUSDT?limit=100', { token: user.accessToken });
  t.equal(proDepth.status, 200, 'and over REST');

  // Deleted on Stripe's side (the portal's cancel): the event arrives, the plan ends, the channel with it.
  s.stripe.cancel(s.stripe.subscriptions.get(sub.subscriptionId)!);
  const ended = await c.next((f) => f.type === 'error' && f.channel === 'depth:BTCUSDT:100');
  t.equal(ended.data.code, 'TG_ERR_PLAN_REQUIRED', 'the gated channel ends with the coded error');
  const unsubscribed = await c.next((f) => f.type === 'unsubscribed' && f.channel === 'depth:BTCUSDT:100');
  const down = await c.next((f) => f.type === 'account' && f.data.event === 'plan.changed');
  t.equal(down.data.plan.name, 'free');
  t.equal(down.data.subscription.status, 'canceled');
  t.equal((await c.next((f) => f.type === 'limits')).data.maxChannels, 50);
  const after = c.indexOf(unsubscribed);
  const price = await c.next((f) => f.type === 'price' && c.indexOf(f) > after);
  t.ok(price, 'the public channel keeps flowing after the gated one ended');
  await c.ping();
  t.notOk(c.frames.some((f) => f.type === 'depth' && c.indexOf(f) > after), 'no depth frame after the end');
  const final = await s.subscription(user);
  t.same({ plan: final.plan, status: final.status }, { plan: 'free', status: 'canceled' });

  // The admin's view of the user shows the plan.
  const admin = await s.register();
  await makeAdmin(s.db, admin.user.id);
  const adminToken = (await s.login(admin.user.email, admin.password)).accessToken;
  const viewed = await s.call('GET', `/api/v1/users/${user.user.id}`, { token: adminToken });
  t.equal(viewed.body.data.user.plan.plan, 'free');
  t.equal(viewed.body.data.user.plan.status, 'canceled');
  const list = await s.call('GET', '/api/v1/users', { token: adminToken });
  t.ok(list.body.data.users.every((u: any) => typeof u.plan?.plan === 'string'), 'the list shows every user\'s plan');
});

t.test('channel and connection allowances follow the plan live: an upgrade lifts them, a lapsed payment trims the newest', async (t) => {
  const s = await startPayments(t, {
    payments: {
      plans: {
        free: { prices: [], channels: [], maxChannelsPerConnection: 2, maxConnectionsPerUser: 2, restRequestsPerMinute: 0 },
        pro: { prices: [], channels: ['depth:*:100', 'trades:BTCUSDT'], maxChannelsPerConnection: 4, maxConnectionsPerUser: 3, restRequestsPerMinute: 0 },
      },
    },
  });
  const user = await s.register();
  const url = `${s.wsUrl}?token=${user.accessToken}`;
  const a = await TestClient.connect(url);
  const b = await TestClient.connect(url);
  t.teardown(() => {
    a.close();
    b.close();
  });
  t.equal(a.frames[0]!.data.limits.maxChannels, 2, 'the connected frame announces the plan\'s channel limit');
  const trades = await s.call('GET', '/api/v1/market/trades/BTCUSDT', { token: user.accessToken });
  t.same([trades.status, trades.body.error?.code], [403, 'TG_ERR_PLAN_REQUIRED'], 'a pattern naming a symbol gates that symbol\'s REST twin');
  t.equal((await s.call('GET', '/api/v1/market/trades/ETHUSDT', { token: user.accessToken })).status, 200, 'and only that symbol');

  // A third connection of the account: refused at the upgrade, and in-band.
  const third = await refusedUpgrade(url);
  t.equal(third.status, 429);
  const body = third.body;
  t.equal(body.error.code, 'TG_ERR_USER_CONNECTION_LIMIT');
  t.match(body.error.message, /free plan allows 2 authenticated connections per account at once: close one first, or move to the pro plan/);
  const anon = await TestClient.connect(s.wsUrl);
  t.teardown(() => anon.close());
  anon.send({ type: 'auth', token: user.accessToken });
  const inBand = await anon.next((f) => f.type === 'error');
  t.equal(inBand.data.code, 'TG_ERR_USER_CONNECTION_LIMIT', 'in-band authentication is refused the same way; the connection stays anonymous');

  a.subscribe('price:BTCUSDT', 'price:ETHUSDT', 'price:BNBUSDT');
  const capped = await a.next((f) => f.type === 'error' && f.channel === 'price:BNBUSDT');
  t.equal(capped.data.code, 'TG_ERR_CHANNEL_LIMIT');
  t.match(capped.data.message, /Channel limit of 2 per connection on the free plan reached: .*move to the pro plan \(4 per connection\)/);

  const subId = await s.buy(user);
  t.equal((await a.next((f) => f.type === 'limits')).data.maxChannels, 4, 'an upgrade lifts the limit on the open connection');
  a.subscribe('price:BNBUSDT', 'price:SOLUSDT');
  await a.next((f) => f.type === 'subscribed' && f.channel === 'price:SOLUSDT');
  anon.send({ type: 'auth', token: user.accessToken });
  t.equal((await anon.next((f) => f.type === 'authenticated')).data.userId, user.user.id, 'a third connection is allowed on pro');

  // The renewal fails: past_due does not grant the plan, so everything pro allowed beyond free ends now.
  s.stripe.failPayment(subId);
  const down = await a.next((f) => f.type === 'limits');
  t.equal(down.data.maxChannels, 2);
  for (const name of ['price:BNBUSDT', 'price:SOLUSDT']) {
    const e = await a.next((f) => f.type === 'error' && f.channel === name);
    t.equal(e.data.code, 'TG_ERR_CHANNEL_LIMIT', `${name}, among the newest, ends`);
  }
  t.same(a.frames.filter((f) => f.type === 'unsubscribed').map((f) => f.channel), ['price:BNBUSDT', 'price:SOLUSDT'], 'the two oldest channels stay');
  const out = await anon.next((f) => f.type === 'unauthenticated');
  t.equal(out.data.code, 'TG_ERR_USER_CONNECTION_LIMIT', 'the newest connection beyond the allowance is signed out');
  const sub = await s.waitPlan(user, 'free', 'past_due');
  t.equal(sub.subscriptionId, subId, 'the lapsed subscription is shown, with its status');
  // Paid again: pro again.
  s.stripe.renew(subId);
  await s.waitPlan(user, 'pro', 'active');
});

t.test('requests per minute per plan: anonymous callers by address, accounts by account; the webhook is never limited', async (t) => {
  const s = await startPayments(t, {
    payments: {
      plans: {
        free: { prices: [], channels: [], maxChannelsPerConnection: 50, maxConnectionsPerUser: 0, restRequestsPerMinute: 3 },
        pro: { prices: [], channels: [], maxChannelsPerConnection: 50, maxConnectionsPerUser: 0, restRequestsPerMinute: 0 },
      },
    },
  });
  const statuses: number[] = [];
  let limited: Response | undefined;
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${s.httpUrl}/api/v1/payments/plans`);
    statuses.push(res.status);
    if (res.status === 429) limited = res;
    else await res.arrayBuffer();
  }
  t.same(statuses, [200, 200, 200, 429]);
  const body = await limited!.json() as any;
  t.equal(body.error.code, 'TG_ERR_REQUEST_LIMIT');
  t.match(body.error.message, /free plan allows 3 requests per minute per address for anonymous callers: retry in \d+ s, or move to the pro plan \(no limit\)/);
  t.ok(Number(limited!.headers.get('retry-after')) >= 1, 'Retry-After says when');
  t.not((await fetch(`${s.httpUrl}/health`)).status, 429, '/health is not an API route: never limited');
  for (let i = 0; i < 5; i++) {
    const res = await fetch(s.webhookUrl, { method: 'POST', body: '{}', headers: { 'stripe-signature': 't=1,v1=00' } });
    t.equal(res.status, 400, 'the webhook answers its own error, never 429');
  }
  // Registering is an API request too: the account has its own allowance from the first request it signs.
  const user = await s.register().catch((err: Error) => err);
  t.match(String(user), /429/, 'an anonymous register beyond the address\'s allowance is limited as well');
});

t.test('one Stripe customer per user: two concurrent first checkouts on one gateway are taken in turn, and only the later can be paid', async (t) => {
  const s = await startPayments(t, { sim: { latencyMs: 300 } });
  const user = await s.register();
  const [one, two] = await Promise.all([1, 2].map(() => s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'pro' } })));
  t.equal(one!.status, 201);
  t.equal(two!.status, 201);
  const states = [one!, two!].map((r) => s.stripe.sessions.get(r.body.data.sessionId)!.status).sort();
  t.same(states, ['expired', 'open'], 'the later checkout expired the earlier one: only one can be paid');
  const expiredId = [one!, two!].find((r) => s.stripe.sessions.get(r.body.data.sessionId)!.status === 'expired')!.body.data.sessionId;
  const page = await fetch(`${s.stripe.url}/checkout/${expiredId}/pay`, { method: 'POST', redirect: 'manual' });
  t.equal(page.status, 410, 'paying the expired one is refused');
  t.equal(s.stripe.customers.size, 1, 'one customer');
  const customer = [...s.stripe.customers.values()][0]!;
  t.equal(customer.email, user.user.email);
  t.equal(s.stripe.sessions.get(one!.body.data.sessionId)!.customer, customer.id);
  t.equal(s.stripe.sessions.get(two!.body.data.sessionId)!.customer, customer.id);
});

t.test('one Stripe customer per user across gateways: two first checkouts at once on two gateways meet on one idempotency key', {
  skip: process.env.TEST_DATABASE_URL ? false : 'two gateways share a PostgreSQL server (TEST_DATABASE_URL); the embedded database is one gateway\'s',
}, async (t) => {
  const { testDatabase } = await import('../../helpers/database.js');
  const db = await testDatabase(t);
  // Stripe's answers take a while, so the two creations overlap: the second is answered 409 while the first runs, and
  // the SDK's retry gets the first's answer.
  const a = await startPayments(t, { db, sim: { latencyMs: 300 } });
  const b = await startAccounts(t, { db, extraPlugins: [{ name: 'payments', config: { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: a.stripe.url, prices: { pro: PRO_PRICE } } }] });
  const user = await a.register();
  const [one, two] = await Promise.all([a, b].map((g) => g.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'pro' } })));
  t.equal(one!.status, 201);
  t.equal(two!.status, 201);
  t.equal(a.stripe.customers.size, 1, 'one customer');
  const creations = a.stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/customers');
  t.ok(creations.length >= 2, 'both gateways asked for the customer');
  t.equal(new Set(creations.map((r) => r.idempotencyKey)).size, 1, 'with the same idempotency key');
  t.match(creations[0]!.idempotencyKey, new RegExp(`^tickgate-customer-${user.user.id}-[0-9a-f]{16}$`));
  t.equal((await sqlOn(db, 'SELECT customer_id FROM payment_customers WHERE user_id = $1', [user.user.id]))[0].customer_id, [...a.stripe.customers.keys()][0]);
});

t.test('the endpoints\' errors: who may call, unknown and unsellable plans, a second subscription, a portal without an account', async (t) => {
  const s = await startPayments(t);
  const user = await s.register();
  const anon = await s.call('POST', '/api/v1/payments/checkout', { body: { plan: 'pro' } });
  t.equal(anon.status, 401);
  t.equal((await s.call('GET', '/api/v1/payments/subscription')).status, 401);
  const unknown = await s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'gold' } });
  t.same([unknown.status, unknown.body.error.code], [400, 'TG_ERR_UNKNOWN_PLAN']);
  t.match(unknown.body.error.message, /the plans are free, pro/);
  const free = await s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'free' } });
  t.same([free.status, free.body.error.code], [400, 'TG_ERR_PLAN_NOT_FOR_SALE']);
  const bad = await s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'pro', extra: 1 } });
  t.same([bad.status, bad.body.error.code], [400, 'TG_ERR_VALIDATION']);
  const portal = await s.call('POST', '/api/v1/payments/portal', { token: user.accessToken });
  t.same([portal.status, portal.body.error.code], [409, 'TG_ERR_NO_BILLING_ACCOUNT']);
  await s.buy(user);
  const again = await s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'pro' } });
  t.same([again.status, again.body.error.code], [409, 'TG_ERR_ALREADY_SUBSCRIBED']);
  // Paid, but the webhook not processed yet (no delivery here): Stripe's list refuses a second subscription.
  const quiet = await startPayments(t, { deliver: false });
  const buyer = await quiet.register();
  const first = await quiet.call('POST', '/api/v1/payments/checkout', { token: buyer.accessToken, body: { plan: 'pro' } });
  quiet.stripe.completeCheckout(first.body.data.sessionId);
  t.equal((await quiet.subscription(buyer)).plan, 'free', 'the gateway has not heard of the payment');
  const second = await quiet.call('POST', '/api/v1/payments/checkout', { token: buyer.accessToken, body: { plan: 'pro' } });
  t.same([second.status, second.body.error.code], [409, 'TG_ERR_ALREADY_SUBSCRIBED']);
  t.match(second.body.error.message, /You have a subscription \(active\) already/);
  const portal2 = await s.call('POST', '/api/v1/payments/portal', { token: user.accessToken });
  t.equal(portal2.status, 201);
  t.match(portal2.body.data.url, new RegExp(`^${s.stripe.url}/portal/bps_`), 'a Billing Portal session URL');
  // Stripe down: a coded 502 that says to retry, never a 500.
  const other = await s.register();
  s.stripe.failApiRequests(10);
  const down = await s.call('POST', '/api/v1/payments/checkout', { token: other.accessToken, body: { plan: 'pro' } });
  t.same([down.status, down.body.error.code], [502, 'TG_ERR_PAYMENT_PROVIDER']);
  t.match(down.body.error.message, /retry later/);
  t.notMatch(down.body.error.message, /simulated|outage|sk_/, 'Stripe\'s own text stays in the log');
});

t.test('the signals plugin\'s REST twins are gated like signals: channels; its model route is not', async (t) => {
  const s = await startPayments(t, { extraBefore: ['signals'] });
  const user = await s.register();
  for (const path of ['/api/v1/signals/BTCUSDT', '/api/v1/signals/BTCUSDT?interval=1m', '/api/v1/signals/BTCUSDT/history?limit=5']) {
    const res = await s.call('GET', path, { token: user.accessToken });
    t.same([res.status, res.body.error?.code], [403, 'TG_ERR_PLAN_REQUIRED'], `${path} needs pro`);
    t.match(res.body.error.message, /needs the pro plan/);
  }
  t.equal((await s.call('GET', '/api/v1/signals/model')).status, 200, 'the model\'s description is public');
  await s.buy(user);
  const latest = await s.call('GET', '/api/v1/signals/BTCUSDT', { token: user.accessToken });
  t.equal(latest.status, 200, 'on pro the latest signal is served');
  t.equal(latest.body.data.symbol, 'BTCUSDT');
});

t.test('a first customer creation that Stripe failed is replayed under its key: the next checkout moves to the key\'s next generation', async (t) => {
  const s = await startPayments(t);
  const user = await s.register();
  s.stripe.failApiRequests(1);
  const failed = await s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'pro' } });
  t.same([failed.status, failed.body.error.code], [502, 'TG_ERR_PAYMENT_PROVIDER']);
  const retried = await s.call('POST', '/api/v1/payments/checkout', { token: user.accessToken, body: { plan: 'pro' } });
  t.equal(retried.status, 201, 'the failure kept under the first key does not block the user');
  t.equal(s.stripe.customers.size, 1);
  const keys = s.stripe.requests.filter((r) => r.path === '/v1/customers').map((r) => r.idempotencyKey!);
  t.ok(keys.length >= 3, 'the first try, its replay, and the next generation');
  t.equal(keys[keys.length - 1], `${keys[0]}-1`);
});

t.test('deleting an account cancels its Stripe subscription', async (t) => {
  const s = await startPayments(t);
  const user = await s.register();
  const subId = await s.buy(user);
  const admin = await s.register();
  await makeAdmin(s.db, admin.user.id);
  const adminToken = (await s.login(admin.user.email, admin.password)).accessToken;
  t.equal((await s.call('DELETE', `/api/v1/users/${user.user.id}`, { token: adminToken })).status, 200);
  const { until } = await import('../../helpers/stack.js');
  await until(() => s.stripe.subscriptions.get(subId)!.status === 'canceled', 'the subscription canceled at Stripe');
  t.ok(s.stripe.requests.some((r) => r.method === 'DELETE' && r.path === `/v1/subscriptions/${subId}`), 'by DELETE /v1/subscriptions/:id');
});
