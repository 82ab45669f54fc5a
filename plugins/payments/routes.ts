// The payments plugin's routes: the plans (public), checkout, billing portal and subscription (signed in), and the
// webhook Stripe delivers events to.
import { z } from 'zod';
import type Stripe from 'stripe';
import type { AcceptorApi, RouteResult } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { okAnswer } from '../../core/openapi.js';
import type { UsersService } from '../users/service.js';
import { PAYMENTS_ERRORS } from './errors.js';
import type { PaymentsConfig } from './config.js';
import type { PlanCatalogue } from './plans.js';
import type { Entitlements } from './entitlements.js';
import type { PaymentStore } from './payment-store.js';
import type { EventProcessor } from './event-processor.js';
import { invoiceSubscription, type StripeApi } from './stripe-api.js';

import { KeyedQueue } from '../../core/keyed-queue.js';

export const BASE = '/api/v1/payments';

export const WEBHOOK_PATH = `${BASE}/webhook`;

/** The events the webhook acts on; any other is acknowledged and ignored. */
export const HANDLED_EVENTS: ReadonlySet<string> = new Set([
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
  'invoice.payment_failed',
]);

function ok(data: unknown, status = 200): RouteResult {
  return { status, body: { success: true, data } };
}

const checkoutBody = z.object({ plan: z.string().min(1, 'is required').max(64) }).strict();

const TAGS = ['payments'];

/** A plan as GET /api/v1/payments/plans lists it (plans.ts's PlanView). */
const planAnswer = z.object({
  name: z.string(), title: z.string(), default: z.boolean(), forSale: z.boolean(),
  entitlements: z.object({
    channels: z.array(z.string()), maxChannelsPerConnection: z.number().int(),
    maxConnectionsPerUser: z.number().int().nullable().meta({ description: 'null: no limit' }),
    restRequestsPerMinute: z.number().int().nullable().meta({ description: 'null: no limit' }),
  }),
});

/** The user's plan and subscription (entitlements.ts's SubscriptionView, with the plan's entitlements). */
const subscriptionAnswer = z.object({
  plan: z.string(), status: z.string().nullable(), currentPeriodEnd: z.string().nullable(), cancelAtPeriodEnd: z.boolean(),
  subscriptionId: z.string().nullable(), entitlements: planAnswer.shape.entitlements,
});

const webhookDoc = {
  tags: TAGS,
  summary: 'Stripe\'s webhook deliveries (signed with Stripe-Signature): stored, then processed',
  response: { 200: okAnswer(z.object({ received: z.literal(true), handled: z.boolean(), duplicate: z.boolean().optional() })) },
};

/** The subscription an event is about, read from its object (the object itself is not trusted: Stripe is asked again). */
export function eventSubscription(event: Stripe.Event): string | null {
  const object = event.data.object as unknown as Record<string, unknown>;
  if (event.type.startsWith('customer.subscription.')) return typeof object.id === 'string' ? object.id : null;
  if (event.type.startsWith('invoice.')) return invoiceSubscription(object);
  if (event.type === 'checkout.session.completed') {
    const sub = object.subscription as string | { id: string } | null | undefined;
    return sub === null || sub === undefined ? null : typeof sub === 'string' ? sub : sub.id;
  }
  return null;
}

export function plansRoute(api: AcceptorApi, catalogue: PlanCatalogue, enabled: boolean): void {
  api.route('get', `${BASE}/plans`, () => ok({
    enabled,
    defaultPlan: catalogue.defaultPlan.name,
    plans: catalogue.plans.map((p) => catalogue.view(p)),
  }), {
    schema: {
      tags: TAGS, summary: 'The plans and what each one allows',
      response: { 200: okAnswer(z.object({ enabled: z.boolean().meta({ description: 'false: payments are off and every channel is open' }), defaultPlan: z.string(), plans: z.array(planAnswer) })) },
    },
  });
}

/** Payments off: the plans are listed (gating nothing), and the rest says why it cannot serve. */
export function offRoutes(api: AcceptorApi, catalogue: PlanCatalogue): void {
  plansRoute(api, catalogue, false);
  const off = (): never => {
    throw PAYMENTS_ERRORS.error('TG_ERR_PAYMENTS_OFF', 'Payments are off on this server: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET to turn them on (README, "Payments"); until then every channel is open');
  };
  const schema = { tags: TAGS, summary: 'Payments are off on this server: 503 TG_ERR_PAYMENTS_OFF' };
  api.route('post', `${BASE}/checkout`, off, { schema });
  api.route('post', `${BASE}/portal`, off, { schema });
  api.route('get', `${BASE}/subscription`, off, { schema });
  api.route('post', WEBHOOK_PATH, off, { rawBody: true, maxBodyBytes: 1024 * 1024, schema });
}

export interface PaymentsDeps {
  config: PaymentsConfig;
  catalogue: PlanCatalogue;
  entitlements: Entitlements;
  store: PaymentStore;
  stripe: StripeApi;
  users: UsersService;
  processor: EventProcessor;
}

export function paymentRoutes(api: AcceptorApi, d: PaymentsDeps): void {
  const { config, catalogue, entitlements, store, stripe, users, processor } = d;
  plansRoute(api, catalogue, true);

  const checkouts = new KeyedQueue();

  /** The user's customer: the stored one, or one created now (the idempotency key makes concurrent creations one). */
  const customerFor = async (userId: string): Promise<string> => {
    const known = await store.customerOf(userId);
    if (known) return known;
    const user = await users.store.get(userId);
    if (!user) throw new TickgateError('TG_ERR_TOKEN_INVALID', 'This account no longer exists');
    return store.saveCustomer(userId, await stripe.createCustomer(userId, user.email));
  };

  api.route('post', `${BASE}/checkout`, async (req) => {
    const { plan: name } = req.body;
    const plan = catalogue.get(name);
    if (!plan) throw PAYMENTS_ERRORS.error('TG_ERR_UNKNOWN_PLAN', `No plan "${name}": the plans are ${catalogue.plans.map((p) => p.name).join(', ')} (GET /api/v1/payments/plans)`);
    if (plan.prices.length === 0) throw PAYMENTS_ERRORS.error('TG_ERR_PLAN_NOT_FOR_SALE', `The ${plan.name} plan has no Stripe price${plan === catalogue.defaultPlan ? ': it is the default plan, which every account has' : ' configured (plans.' + plan.name + '.prices)'}`);
    const userId = req.identity!.userId;
    const current = entitlements.of(userId).plan;
    if (current === plan) throw PAYMENTS_ERRORS.error('TG_ERR_ALREADY_SUBSCRIBED', `You are on the ${plan.name} plan already: manage it in the billing portal (POST /api/v1/payments/portal)`);
    if (current !== catalogue.defaultPlan) throw PAYMENTS_ERRORS.error('TG_ERR_ALREADY_SUBSCRIBED', `You are on the ${current.name} plan: change plans in the billing portal (POST /api/v1/payments/portal), not with a second subscription`);
    // One checkout at a time per user on this gateway: the list-expire-create below is then not interleaved.
    return checkouts.run(userId, async () => {
      const customerId = await customerFor(userId);
      // The plan in memory lags a payment whose webhook is still on its way, and a lapsed subscription is on the default
      // plan: Stripe's own list says whether a second subscription would be sold.
      const open = await stripe.openSubscriptions(customerId);
      if (open.length > 0) {
        throw PAYMENTS_ERRORS.error('TG_ERR_ALREADY_SUBSCRIBED', `You have a subscription (${open[0]!.status}) already: pay, change or cancel it in the billing portal (POST /api/v1/payments/portal), not with a second one`);
      }
      // An older checkout left open (another tab) could be paid too: only the newest one stays payable.
      const expired = await stripe.expireOpenCheckouts(customerId);
      const session = await stripe.checkout({ customerId, userId, plan: plan.name, priceId: plan.prices[0]!, successUrl: config.successUrl, cancelUrl: config.cancelUrl });
      api.log.info({ userId, plan: plan.name, session: session.id, expiredOlder: expired }, 'checkout started');
      return ok({ url: session.url, sessionId: session.id, plan: plan.name }, 201);
    });
  }, {
    auth: 'user', maxBodyBytes: 1024,
    schema: {
      tags: TAGS, summary: 'Starts a Stripe Checkout for a plan: open its url to pay', body: checkoutBody,
      response: { 201: okAnswer(z.object({ url: z.string(), sessionId: z.string(), plan: z.string() })) },
    },
  });

  api.route('post', `${BASE}/portal`, async (req) => {
    const customerId = await store.customerOf(req.identity!.userId);
    if (!customerId) throw PAYMENTS_ERRORS.error('TG_ERR_NO_BILLING_ACCOUNT');
    return ok(await stripe.portal(customerId, config.portalReturnUrl), 201);
  }, {
    auth: 'user', maxBodyBytes: 1024,
    schema: { tags: TAGS, summary: 'Opens Stripe\'s billing portal: change, pay or cancel the subscription at its url', response: { 201: okAnswer(z.object({ url: z.string() })) } },
  });

  api.route('get', `${BASE}/subscription`, (req) => {
    const userId = req.identity!.userId;
    return ok({ ...entitlements.view(userId), entitlements: catalogue.view(entitlements.of(userId).plan).entitlements });
  }, { auth: 'user', schema: { tags: TAGS, summary: 'Your plan, your subscription\'s state and what the plan allows', response: { 200: okAnswer(subscriptionAnswer) } } });

  api.route('post', WEBHOOK_PATH, async (req) => {
    const signature = req.headers['stripe-signature'];
    if (!signature) throw PAYMENTS_ERRORS.error('TG_ERR_WEBHOOK_SIGNATURE', 'No Stripe-Signature header: this endpoint takes Stripe\'s webhook deliveries only');
    if (!req.rawBody) throw PAYMENTS_ERRORS.error('TG_ERR_WEBHOOK_SIGNATURE', 'The webhook body is empty');
    let event: Stripe.Event;
    try {
      event = stripe.stripe.webhooks.constructEvent(req.rawBody, signature, config.webhookSecret, config.webhookToleranceSeconds);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const stale = /tolerance/i.test(message);
      api.log.warn({ reason: stale ? 'timestamp too old' : 'signature mismatch', remoteAddress: req.remoteAddress }, 'webhook refused: its signature does not verify');
      throw PAYMENTS_ERRORS.error('TG_ERR_WEBHOOK_SIGNATURE', stale
        ? `The webhook's signature timestamp is more than ${config.webhookToleranceSeconds} s old: a replay is refused (a clock far off also causes this)`
        : 'The webhook signature does not match: check that STRIPE_WEBHOOK_SECRET is this endpoint\'s signing secret (stripe listen prints it; the dashboard shows it per endpoint)');
    }
    if (!HANDLED_EVENTS.has(event.type)) return ok({ received: true, handled: false });
    // Stored before the answer, processed after it: a stored event is never lost, and a duplicate is not stored twice.
    const fresh = await store.recordEvent({ id: event.id, type: event.type, subscriptionId: eventSubscription(event), created: new Date(event.created * 1000) });
    if (fresh) processor.wake();
    else api.log.debug({ event: event.id, type: event.type }, 'webhook event seen before: nothing to do');
    return ok({ received: true, handled: true, duplicate: !fresh });
  }, { rawBody: true, maxBodyBytes: 1024 * 1024, schema: webhookDoc });
}
