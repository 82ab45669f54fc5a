// The webhook: signatures verified on the raw body, each event stored once (replays and concurrent duplicates are
// no-ops), order decided by re-reading Stripe, answered before the work, and failed work retried until it holds.
import t from 'tap';
import { sqlOn, makeAdmin } from '../../helpers/accounts.js';
import { until } from '../../helpers/stack.js';
import { TestClient } from '../../helpers/ws-client.js';
import { startPayments, postEvent, WEBHOOK_SECRET } from './helpers.js';
import type { SimEvent } from '../../../sim/stripe/stripe-objects.js';

t.setTimeout(120_000);

/** A subscription bought on the simulated Stripe without any delivery: its events are the test's to post. */
async function silentPurchase(s: Awaited<ReturnType<typeof startPayments>>, token: string): Promise<{ subId: string; events: SimEvent[] }> {
  const res = await s.call('POST', '/api/v1/payments/checkout', { token, body: { plan: 'pro' } });
  const session = s.stripe.completeCheckout(res.body.data.sessionId);
  return { subId: session.subscription!, events: s.stripe.events.filter((e) => e.type !== 'customer.created') };
}

const retrievals = (s: Awaited<ReturnType<typeof startPayments>>, subId: string) => s.stripe.requests.filter((r) => r.method === 'GET' && r.path === `/v1/subscriptions/${subId}`).length;

t.test('signatures: a valid one is accepted; a wrong secret, a missing header, a stale timestamp and a changed body are refused, and nothing is stored', async (t) => {
  const s = await startPayments(t, { deliver: false });
  const user = await s.register();
  const { events } = await silentPurchase(s, user.accessToken);
  const created = events.find((e) => e.type === 'customer.subscription.created')!;
  const wrong = await postEvent(s.webhookUrl, created, { secret: 'whsec_someone_else' });
  t.same([wrong.status, wrong.body.error.code], [400, 'TG_ERR_WEBHOOK_SIGNATURE']);
  t.match(wrong.body.error.message, /STRIPE_WEBHOOK_SECRET/);
  const stale = await postEvent(s.webhookUrl, created, { timestamp: Math.floor(Date.now() / 1000) - 301 });
  t.same([stale.status, stale.body.error.code], [400, 'TG_ERR_WEBHOOK_SIGNATURE']);
  t.match(stale.body.error.message, /more than 300 s old/);
  const missing = await fetch(s.webhookUrl, { method: 'POST', body: JSON.stringify(created) });
  t.equal(missing.status, 400);
  t.match((await missing.json() as any).error.message, /No Stripe-Signature header/);
  // The signature covers the exact bytes: the same JSON re-serialised differently does not verify.
  const payload = JSON.stringify(created, null, 2);
  const { default: Stripe } = await import('stripe');
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
  const changed = await fetch(s.webhookUrl, { method: 'POST', headers: { 'stripe-signature': header }, body: JSON.stringify(created) });
  t.equal(changed.status, 400, 'a body that is not the signed bytes is refused');
  t.same(await sqlOn(s.db, 'SELECT id FROM payment_events'), [], 'nothing refused was stored');
  const ok = await postEvent(s.webhookUrl, created, { timestamp: Math.floor(Date.now() / 1000) - 290 });
  t.same([ok.status, ok.body.data], [200, { received: true, handled: true, duplicate: false }], 'within the 300 s tolerance');
  await s.waitPlan(user, 'pro');
  const other = await postEvent(s.webhookUrl, { ...created, id: 'evt_other_type', type: 'customer.updated' });
  t.same([other.status, other.body.data], [200, { received: true, handled: false }], 'an event type it does not handle is acknowledged');
  t.equal((await sqlOn(s.db, "SELECT count(*)::int AS n FROM payment_events WHERE id = 'evt_other_type'"))[0].n, 0, 'and not stored');
});

t.test('a replay x100 and 20 concurrent duplicates each have exactly one effect', async (t) => {
  const s = await startPayments(t, { deliver: false });
  const user = await s.register();
  const c = await TestClient.connect(`${s.wsUrl}?token=${user.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`account:${user.user.id}`);
  await c.next((f) => f.type === 'subscribed');
  const { subId, events } = await silentPurchase(s, user.accessToken);
  const created = events.find((e) => e.type === 'customer.subscription.created')!;
  const answers: boolean[] = [];
  for (let i = 0; i < 100; i++) {
    const res = await postEvent(s.webhookUrl, created);
    t.equal(res.status, 200);
    answers.push(res.body.data.duplicate);
  }
  t.same(answers.filter((d) => !d).length, 1, 'one delivery is new, 99 are replays');
  t.equal(answers[0], false, 'the first');
  await s.waitPlan(user, 'pro');
  await until(async () => (await sqlOn(s.db, 'SELECT processed_at FROM payment_events WHERE id = $1', [created.id]))[0]?.processed_at !== null, 'processed');
  t.equal(retrievals(s, subId), 1, 'Stripe was asked about the subscription once');
  const rows = await sqlOn(s.db, 'SELECT id, attempts FROM payment_events');
  t.same(rows, [{ id: created.id, attempts: 1 }], 'one stored event, processed once');

  // Concurrent duplicates of another event: the unique key settles which one is new.
  const paid = events.find((e) => e.type === 'invoice.paid')!;
  const concurrent = await Promise.all(Array.from({ length: 20 }, () => postEvent(s.webhookUrl, paid)));
  t.ok(concurrent.every((r) => r.status === 200), 'every duplicate is answered 2xx (Stripe would retry otherwise)');
  t.equal(concurrent.filter((r) => r.body.data.duplicate === false).length, 1, 'exactly one is stored');
  await until(async () => (await sqlOn(s.db, 'SELECT count(*)::int AS n FROM payment_events WHERE processed_at IS NULL'))[0].n === 0, 'processed');
  t.equal(retrievals(s, subId), 2, 'and read Stripe once more');
  await c.ping();
  t.equal(c.frames.filter((f) => f.type === 'account' && f.data.event === 'plan.changed').length, 1, 'the account channel got one plan change');
});

t.test('out of order: created, updated and deleted arriving backwards (or deleted first) end where Stripe is, not where the last event was', async (t) => {
  const s = await startPayments(t, { deliver: false });
  const user = await s.register();
  const { subId } = await silentPurchase(s, user.accessToken);
  s.stripe.failPayment(subId);
  s.stripe.renew(subId);
  s.stripe.cancel(s.stripe.subscriptions.get(subId)!);
  const of = (type: string) => s.stripe.events.filter((e) => e.type === type);
  const [created] = of('customer.subscription.created');
  const updated = of('customer.subscription.updated');
  const [deleted] = of('customer.subscription.deleted');
  t.equal(updated.length, 2);
  for (const e of [deleted!, updated[1]!, updated[0]!, created!]) t.equal((await postEvent(s.webhookUrl, e)).status, 200);
  await until(async () => (await sqlOn(s.db, 'SELECT count(*)::int AS n FROM payment_events WHERE processed_at IS NULL'))[0].n === 0, 'all processed');
  const sub = await s.subscription(user);
  t.same({ plan: sub.plan, status: sub.status }, { plan: 'free', status: 'canceled' }, 'the created event, last to arrive, did not bring pro back');

  // The other way: a second user's subscription is active at Stripe; its deleted event of an earlier subscription
  // arriving after the new one's created does not end the new one.
  const other = await s.register();
  const first = await silentPurchase(s, other.accessToken);
  s.stripe.cancel(s.stripe.subscriptions.get(first.subId)!);
  const second = await silentPurchase(s, other.accessToken);
  const secondCreated = s.stripe.events.find((e) => e.type === 'customer.subscription.created' && (e.data.object as any).id === second.subId)!;
  const firstDeleted = s.stripe.events.find((e) => e.type === 'customer.subscription.deleted' && (e.data.object as any).id === first.subId)!;
  await postEvent(s.webhookUrl, secondCreated);
  await s.waitPlan(other, 'pro', 'active');
  await postEvent(s.webhookUrl, firstDeleted);
  await until(async () => (await sqlOn(s.db, 'SELECT count(*)::int AS n FROM payment_events WHERE processed_at IS NULL'))[0].n === 0, 'all processed');
  const after = await s.subscription(other);
  t.same({ plan: after.plan, subscriptionId: after.subscriptionId }, { plan: 'pro', subscriptionId: second.subId }, 'the old subscription\'s end does not end the new one');
});

t.test('the webhook answers before the work is done; work that fails is retried, across a restart, until it holds', async (t) => {
  const s = await startPayments(t, { deliver: false, payments: { maxNetworkRetries: 0 } });
  const user = await s.register();
  const { subId, events } = await silentPurchase(s, user.accessToken);
  const created = events.find((e) => e.type === 'customer.subscription.created')!;
  // Stripe's answers take 1.5 s while the event is processed: the webhook's answer does not wait for them.
  s.stripe.setLatency(1500);
  const res = await postEvent(s.webhookUrl, created);
  t.equal(res.status, 200);
  const [row] = await sqlOn(s.db, 'SELECT processed_at FROM payment_events WHERE id = $1', [created.id]);
  t.equal(row.processed_at, null, 'answered while the subscription was still being read from Stripe');
  await s.waitPlan(user, 'pro');
  s.stripe.setLatency(0);

  // Stripe fails for a while: the event is stored, answered, and retried with backoff until Stripe answers.
  s.stripe.failApiRequests(3);
  s.stripe.failPayment(subId);
  const failed = s.stripe.events.find((e) => e.type === 'invoice.payment_failed')!;
  t.equal((await postEvent(s.webhookUrl, failed)).status, 200, 'a 2xx even though the work will fail at first');
  await s.waitPlan(user, 'free', 'past_due');
  const [done] = await sqlOn(s.db, 'SELECT attempts, last_error, processed_at FROM payment_events WHERE id = $1', [failed.id]);
  t.equal(done.attempts, 4, 'three failed attempts, then the one that held');
  t.ok(done.processed_at);
});

t.test('an event stored but not processed when the gateway stops is processed by the next start', async (t) => {
  const { testDatabase } = await import('../../helpers/database.js');
  const db = await testDatabase(t);
  const first = await startPayments(t, { deliver: false, db, payments: { maxNetworkRetries: 0, eventRetryBaseMs: 60_000 } });
  const user = await first.register();
  const { events } = await silentPurchase(first, user.accessToken);
  const created = events.find((e) => e.type === 'customer.subscription.created')!;
  first.stripe.failApiRequests(1);
  t.equal((await postEvent(first.webhookUrl, created)).status, 200);
  await until(async () => (await sqlOn(db, 'SELECT attempts FROM payment_events WHERE id = $1', [created.id]))[0]?.attempts === 1, 'one failed attempt');
  t.equal((await first.subscription(user)).plan, 'free', 'not processed yet: the next try is a minute away');
  await first.server.close();
  // The same Stripe, a new gateway on the same database: it takes the pending event up at once.
  const { startAccounts } = await import('../../helpers/accounts.js');
  const second = await startAccounts(t, { db, extraPlugins: [{ name: 'payments', config: { secretKey: 'sk_test_tickgate_tests', webhookSecret: WEBHOOK_SECRET, apiBase: first.stripe.url, prices: { pro: 'price_pro_monthly' } } }] });
  await until(async () => (await sqlOn(db, 'SELECT processed_at FROM payment_events WHERE id = $1', [created.id]))[0]?.processed_at !== null, 'processed after the restart');
  const token = (await second.login(user.user.email, user.password)).accessToken;
  const sub = await second.call('GET', '/api/v1/payments/subscription', { token });
  t.equal(sub.body.data.plan, 'pro');
});

t.test('a subscription bought for an account that was deleted before its events were processed is canceled when they arrive', async (t) => {
  const s = await startPayments(t, { deliver: false });
  const user = await s.register();
  const { subId, events } = await silentPurchase(s, user.accessToken);
  const admin = await s.register();
  await makeAdmin(s.db, admin.user.id);
  const adminToken = (await s.login(admin.user.email, admin.password)).accessToken;
  t.equal((await s.call('DELETE', `/api/v1/users/${user.user.id}`, { token: adminToken })).status, 200);
  t.equal(s.stripe.subscriptions.get(subId)!.status, 'active', 'the gateway had not heard of it');
  await postEvent(s.webhookUrl, events.find((e) => e.type === 'customer.subscription.created')!);
  await until(() => s.stripe.subscriptions.get(subId)!.status === 'canceled', 'canceled at Stripe');
  await until(async () => (await sqlOn(s.db, 'SELECT count(*)::int AS n FROM payment_events WHERE processed_at IS NULL'))[0].n === 0, 'processed');
  t.match((await sqlOn(s.db, 'SELECT last_error FROM payment_events'))[0].last_error, /account was deleted: the subscription was canceled/);
});

t.test('two gateways on one database: a plan change processed by one applies on the other\'s open connections', {
  skip: process.env.TEST_DATABASE_URL ? false : 'two gateways share a PostgreSQL server (TEST_DATABASE_URL); the embedded database is one gateway\'s',
}, async (t) => {
  const { testDatabase } = await import('../../helpers/database.js');
  const db = await testDatabase(t);
  const a = await startPayments(t, { db, payments: { refreshMs: 500 } });
  const { startAccounts } = await import('../../helpers/accounts.js');
  const b = await startAccounts(t, { db, extraPlugins: [{ name: 'payments', config: { secretKey: 'sk_test_tickgate_tests', webhookSecret: WEBHOOK_SECRET, apiBase: a.stripe.url, prices: { pro: 'price_pro_monthly' }, refreshMs: 500 } }] });
  const user = await a.register();
  const c = await TestClient.connect(`${b.wsUrl}?token=${user.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe('depth:BTCUSDT:100');
  t.equal((await c.next((f) => f.type === 'error')).data.code, 'TG_ERR_PLAN_REQUIRED');
  const subId = await a.buy(user);
  t.equal((await c.next((f) => f.type === 'limits')).data.maxChannels, 200, 'gateway B lifted the limits on its connection');
  c.subscribe('depth:BTCUSDT:100');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'depth:BTCUSDT:100');
  a.stripe.cancel(a.stripe.subscriptions.get(subId)!);
  const ended = await c.next((f) => f.type === 'error' && f.channel === 'depth:BTCUSDT:100');
  t.equal(ended.data.code, 'TG_ERR_PLAN_REQUIRED', 'and ended the gated channel when A processed the cancellation');
});
