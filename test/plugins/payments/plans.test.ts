// Plans from config: patterns that gate channels, allowances and their messages, and the configuration's checks.
import t from 'tap';
import { paymentsConfigSchema } from '../../../plugins/payments/config.js';
import { PlanCatalogue } from '../../../plugins/payments/plans.js';
import { loadConfig } from '../../../core/config.js';

function parse(input: Record<string, unknown>) {
  return paymentsConfigSchema.safeParse(input);
}

t.test('the shipped plans: signals and depth:*:100 on pro only, every other channel open to all', async (t) => {
  const r = parse({});
  t.ok(r.success);
  const c = new PlanCatalogue(r.data!);
  const free = c.get('free')!;
  const pro = c.get('pro')!;
  t.equal(c.defaultPlan, free);
  t.same(c.refuses(free, 'signals', 'BTCUSDT', undefined)?.map((p) => p.name), ['pro']);
  t.same(c.refuses(free, 'signals', 'BTCUSDT', '5m')?.map((p) => p.name), ['pro'], 'a kind pattern covers every argument');
  t.same(c.refuses(free, 'depth', 'BTCUSDT', '100')?.map((p) => p.name), ['pro']);
  t.equal(c.refuses(free, 'depth', 'BTCUSDT', '20'), undefined, 'depth:SYM:20 is not listed: open');
  t.equal(c.refuses(free, 'price', 'BTCUSDT', undefined), undefined);
  t.equal(c.refuses(pro, 'signals', 'ETHUSDT', undefined), undefined);
  t.equal(free.channelAllowance.max, 50, 'the guide\'s 50 channels on free');
  t.match(free.channelAllowance.message, /on the free plan reached: unsubscribe from another channel first, or move to the pro plan \(200 per connection\)/);
  t.notMatch(pro.channelAllowance.message, /move to/, 'nothing above pro to name');
});

t.test('patterns naming a key, several plans granting one channel, and plans ranked by their order', async (t) => {
  const r = parse({
    plans: {
      basic: { channels: [], maxChannelsPerConnection: 5, maxConnectionsPerUser: 1, restRequestsPerMinute: 10 },
      plus: { prices: 'price_plus_a, price_plus_b', channels: ['klines:*:1s', 'trades:BTCUSDT'], maxChannelsPerConnection: 10, maxConnectionsPerUser: 0, restRequestsPerMinute: 0 },
      max: { prices: ['price_max'], channels: ['klines:*:1s', 'trades:BTCUSDT', 'trades'], maxChannelsPerConnection: 10, maxConnectionsPerUser: 0, restRequestsPerMinute: 0 },
    },
    defaultPlan: 'basic',
  });
  t.ok(r.success, JSON.stringify(r.error?.issues));
  const c = new PlanCatalogue(r.data!);
  const [basic, plus, max] = c.plans;
  t.same(plus!.prices, ['price_plus_a', 'price_plus_b'], 'a comma-separated string is a list');
  t.equal(c.forPrice('price_plus_b'), plus);
  t.same(c.refuses(basic!, 'klines', 'BTCUSDT', '1s')?.map((p) => p.name), ['plus', 'max'], 'the plans that may, lowest first');
  t.equal(c.refuses(basic!, 'klines', 'BTCUSDT', '1m'), undefined);
  t.same(c.refuses(plus!, 'trades', 'ETHUSDT', undefined)?.map((p) => p.name), ['max']);
  t.equal(c.refuses(plus!, 'trades', 'BTCUSDT', undefined), undefined, 'a pattern naming the symbol grants it');
  t.equal(c.refuses(max!, 'trades', 'ETHUSDT', undefined), undefined);
  t.same(basic!.connectionAllowance, { max: 1, message: 'The basic plan allows 1 authenticated connection per account at once: close one first, or move to the plus plan' });
  t.equal(plus!.connectionAllowance, undefined, '0: no limit');
  t.same(c.view(plus!).entitlements, { channels: ['klines:*:1s', 'trades:BTCUSDT'], maxChannelsPerConnection: 10, maxConnectionsPerUser: null, restRequestsPerMinute: null });
});

t.test('configuration errors name the key and what to do', async (t) => {
  const issues = (input: Record<string, unknown>) => {
    const r = parse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  t.match(issues({ secretKey: 'sk_test_x' }).join('\n'), /webhookSecret: is required when secretKey is set/);
  t.match(issues({ defaultPlan: 'gold' }).join('\n'), /defaultPlan: "gold" is not one of the plans \(free, pro\)/);
  t.match(issues({ prices: { gold: 'price_x' } }).join('\n'), /prices.gold: there is no plan "gold"/);
  t.match(issues({ prices: { pro: 'prod_x' } }).join('\n'), /prod_x is not a Stripe Price id/);
  t.match(issues({ plans: { free: { prices: ['price_a'], maxChannelsPerConnection: 1, maxConnectionsPerUser: 0, restRequestsPerMinute: 0 }, pro: { prices: ['price_a'], maxChannelsPerConnection: 1, maxConnectionsPerUser: 0, restRequestsPerMinute: 0 } } }).join('\n'), /price_a is also a price of plan "free"/);
  t.match(issues({ plans: { pro: { channels: ['Signals!'], maxChannelsPerConnection: 1, maxConnectionsPerUser: 0, restRequestsPerMinute: 0 } }, defaultPlan: 'pro' }).join('\n'), /channel pattern looks like/);
  t.match(issues({ apiBase: 'not a url' }).join('\n'), /apiBase: must be a URL/);
});

t.test('STRIPE_* environment variables set the plugin\'s keys; STRIPE_PRICE_PRO adds the pro plan\'s price', async (t) => {
  const cfg = loadConfig({ env: { STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_WEBHOOK_SECRET: 'whsec_def', STRIPE_API_BASE: 'http://127.0.0.1:12111', STRIPE_PRICE_PRO: 'price_123' } });
  const entry = cfg.plugins.find((p) => p.name === 'payments')!;
  t.ok(entry, 'payments is in the shipped config');
  const r = parse(entry.config);
  t.ok(r.success, JSON.stringify(r.error?.issues));
  t.equal(r.data!.secretKey, 'sk_test_abc');
  t.equal(r.data!.webhookSecret, 'whsec_def');
  t.equal(r.data!.apiBase, 'http://127.0.0.1:12111');
  t.same(r.data!.plans.pro!.prices, ['price_123']);
  t.same(r.data!.plans.free!.prices, []);
  t.match(cfg.source, /STRIPE_PRICE_PRO/);
  t.notMatch(cfg.source, /sk_test_abc/, 'the config source names variables, never their values');
});

t.test('a user\'s subscriptions read in a race keep, per subscription, the row read from Stripe last', async (t) => {
  const { Entitlements } = await import('../../../plugins/payments/entitlements.js');
  const r = parse({ prices: { pro: 'price_pro' } });
  const e = new Entitlements(new PlanCatalogue(r.data!), ['active', 'trialing'], '/api/v1/payments/webhook');
  const row = (status: string, fetchedAt: number) => ({ id: 'sub_1', userId: 'u1', customerId: 'cus_1', status, priceId: 'price_pro', currentPeriodEnd: null, cancelAtPeriodEnd: false, fetchedAt: new Date(fetchedAt), updatedAt: new Date(fetchedAt) });
  e.set('u1', [row('active', 2000)]);
  t.equal(e.of('u1').plan.name, 'pro');
  const before = e.set('u1', [row('canceled', 1000)]);
  t.equal(before.plan.name, 'pro');
  t.equal(e.of('u1').plan.name, 'pro', 'an older read (a refresh that raced the webhook) does not undo a newer one');
  e.set('u1', [row('canceled', 3000)]);
  t.equal(e.of('u1').plan.name, 'free', 'a newer read applies');
  t.equal(e.view('u1').status, 'canceled');
});
