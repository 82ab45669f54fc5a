// A gateway with payments on, against the simulated Stripe (the SDK pointed at it through apiBase), on a test database.
import type { Test } from 'tap';
import Stripe from 'stripe';
import { StripeSim, type StripeSimOptions } from '../../../sim/stripe/stripe-sim.js';
import { startAccounts, type AccountsStack, type Session } from '../../helpers/accounts.js';
import { until } from '../../helpers/stack.js';
import type { TestDatabase } from '../../helpers/database.js';

export const SECRET_KEY = 'sk_test_tickgate_tests';
export const WEBHOOK_SECRET = 'whsec_tickgate_tests_secret';
export const PRO_PRICE = 'price_pro_monthly';

export interface PaymentsStack extends AccountsStack {
  stripe: StripeSim;
  webhookUrl: string;
  /** Starts a checkout of `plan` for the session's user, pays it on the simulated Stripe, and waits for the plan. */
  buy(session: Session, plan?: string): Promise<string>;
  /** The user's subscription as GET /api/v1/payments/subscription answers it. */
  subscription(session: Session): Promise<any>;
  waitPlan(session: Session, plan: string, status?: string): Promise<any>;
}

export async function startPayments(t: Test, opts: { payments?: Record<string, unknown>; sim?: StripeSimOptions; deliver?: boolean; db?: TestDatabase; config?: Record<string, unknown>; extraBefore?: unknown[] } = {}): Promise<PaymentsStack> {
  const stripe = await new StripeSim({ secretKey: SECRET_KEY, prices: [{ id: PRO_PRICE, unitAmount: 2000 }], retryBaseMs: 50, ...opts.sim }).start();
  t.teardown(() => stripe.close());
  const stack = await startAccounts(t, {
    db: opts.db,
    config: opts.config as never,
    extraPlugins: [...(opts.extraBefore ?? []), {
      name: 'payments',
      config: { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase: stripe.url, prices: { pro: PRO_PRICE }, eventRetryBaseMs: 50, ...opts.payments },
    }],
  });
  const webhookUrl = `${stack.httpUrl}/api/v1/payments/webhook`;
  if (opts.deliver !== false) stripe.addWebhook(webhookUrl, WEBHOOK_SECRET);
  const subscription = async (s: Session) => {
    const res = await stack.call('GET', '/api/v1/payments/subscription', { token: s.accessToken });
    if (res.status !== 200) throw new Error(`subscription: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data;
  };
  const waitPlan = async (s: Session, plan: string, status?: string) => {
    let last: any;
    await until(async () => {
      last = await subscription(s);
      return last.plan === plan && (status === undefined || last.status === status);
    }, `plan ${plan}${status ? ` (${status})` : ''}`);
    return last;
  };
  const buy = async (s: Session, plan = 'pro') => {
    const res = await stack.call('POST', '/api/v1/payments/checkout', { token: s.accessToken, body: { plan } });
    if (res.status !== 201) throw new Error(`checkout: ${res.status} ${JSON.stringify(res.body)}`);
    stripe.completeCheckout(res.body.data.sessionId);
    return (await waitPlan(s, plan)).subscriptionId as string;
  };
  return { ...stack, stripe, webhookUrl, buy, subscription, waitPlan };
}

/** Posts an event to the webhook signed as Stripe signs it (by the SDK's own test helper, not the simulator's signer). */
export async function postEvent(url: string, event: unknown, opts: { secret?: string; timestamp?: number; payload?: string } = {}): Promise<{ status: number; body: any }> {
  const payload = opts.payload ?? JSON.stringify(event, null, 2);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? WEBHOOK_SECRET, timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000) });
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON: kept as text */ }
  return { status: res.status, body };
}
