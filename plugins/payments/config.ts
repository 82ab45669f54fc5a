// The payments plugin's configuration: Stripe settings and the plans with their entitlements.
import { z } from 'zod';

const PATTERN_RE = /^[a-z][a-zA-Z0-9-]*(?::(?:\*|[A-Z0-9]+|[a-z0-9][a-zA-Z0-9-]*)(?::[A-Za-z0-9*]+)?)?$/;

const planSchema = z.object({
  /** Shown to people, e.g. "Pro". */
  title: z.string().min(1).max(64).optional(),
  /**
   * Stripe Price ids that buy this plan (the first is what checkout sells). Empty: not for sale (the default plan).
   * A string is read as a comma-separated list (STRIPE_PRICE_PRO=price_123).
   */
  prices: z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v ?? []),
    z.array(z.string().regex(/^price_[A-Za-z0-9_]+$/, 'a Stripe Price id looks like price_1Pq…')).max(20)),
  /**
   * Channels only the plans that list them may subscribe: `kind` (e.g. signals), `kind:*:arg` (depth:*:100), or a
   * pattern naming a key (signals:BTCUSDT). A channel no plan lists is open to every plan.
   */
  channels: z.array(z.string().regex(PATTERN_RE, 'a channel pattern looks like signals, depth:*:100 or signals:BTCUSDT')).max(200).default([]),
  /** Channels one connection may hold (instead of limits.maxChannelsPerClient). */
  maxChannelsPerConnection: z.number().int().min(1).max(100_000),
  /** /ws connections one account may hold authenticated at once; 0: no limit. */
  maxConnectionsPerUser: z.number().int().min(0).max(100_000),
  /** Requests per minute to /api/ routes, per account (anonymous callers: per address); 0: no limit. */
  restRequestsPerMinute: z.number().int().min(0).max(10_000_000),
}).strict();

export type PlanConfig = z.infer<typeof planSchema>;

export const DEFAULT_PLANS: Record<string, z.input<typeof planSchema>> = {
  free: { title: 'Free', prices: [], channels: [], maxChannelsPerConnection: 50, maxConnectionsPerUser: 5, restRequestsPerMinute: 600 },
  pro: { title: 'Pro', prices: [], channels: ['signals', 'depth:*:100'], maxChannelsPerConnection: 200, maxConnectionsPerUser: 20, restRequestsPerMinute: 6000 },
};

export const paymentsConfigSchema = z.object({
  /** Stripe secret key (env STRIPE_SECRET_KEY). Empty: payments are off and no plan gates anything. */
  secretKey: z.string().default(''),
  /** The webhook endpoint's signing secret, whsec_… (env STRIPE_WEBHOOK_SECRET); required when secretKey is set. */
  webhookSecret: z.string().default(''),
  /** Where Stripe's API is (env STRIPE_API_BASE): Stripe's own, or a Stripe-compatible server such as npm run stripe:sim. */
  apiBase: z.string().url('must be a URL such as https://api.stripe.com or http://127.0.0.1:12111').default('https://api.stripe.com'),
  /** Oldest webhook signature timestamp accepted, in seconds. */
  webhookToleranceSeconds: z.number().int().min(1).max(86_400).default(300),
  /** Plans by name (lowercase); their order ranks them, lowest first (a user holding two gets the higher one). */
  plans: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'plan names are lowercase letters, digits and "-"'), planSchema).default(DEFAULT_PLANS as never),
  /**
   * Stripe Price ids by plan, added to that plan's prices (env STRIPE_PRICE_<PLAN>, e.g. STRIPE_PRICE_PRO=price_1Pq…;
   * a comma-separated list for several).
   */
  prices: z.record(z.string(), z.string()).default({}),
  /** The plan of anonymous connections and of users without a paid subscription. */
  defaultPlan: z.string().default('free'),
  /** Subscription statuses that grant the plan; any other (past_due, unpaid, canceled, …) falls back to the default plan. */
  activeStatuses: z.array(z.enum(['active', 'trialing', 'past_due', 'unpaid', 'paused'])).min(1).default(['active', 'trialing']),
  /** Where Stripe Checkout sends the buyer back ({CHECKOUT_SESSION_ID} is filled in by Stripe). */
  successUrl: z.string().url().default('http://localhost:3000/?checkout=success&session_id={CHECKOUT_SESSION_ID}'),
  cancelUrl: z.string().url().default('http://localhost:3000/?checkout=canceled'),
  /** Where the billing portal's "return" link leads. */
  portalReturnUrl: z.string().url().default('http://localhost:3000/'),
  /** Stripe API requests' timeout, and retries of those that failed on the network or were asked to be retried. */
  requestTimeoutMs: z.number().int().min(1000).max(120_000).default(20_000),
  maxNetworkRetries: z.number().int().min(0).max(10).default(2),
  /**
   * How often the gateway reads the subscriptions other gateways on the same database stored (a webhook is processed
   * by the gateway it reached), so a plan change applies on every gateway's connections within this time.
   */
  refreshMs: z.number().int().min(500).max(3_600_000).default(5000),
  /** A webhook event whose processing failed (Stripe unreachable) is tried again after this, doubling up to an hour. */
  eventRetryBaseMs: z.number().int().min(10).max(3_600_000).default(1000),
}).strict().transform((c, ctx) => {
  const plans = structuredClone(c.plans);
  for (const [name, list] of Object.entries(c.prices)) {
    const plan = plans[name];
    if (!plan) {
      ctx.addIssue({ code: 'custom', path: ['prices', name], message: `there is no plan "${name}" (plans: ${Object.keys(plans).join(', ')})` });
      continue;
    }
    for (const price of list.split(',').map((p) => p.trim()).filter(Boolean)) {
      if (!/^price_[A-Za-z0-9_]+$/.test(price)) ctx.addIssue({ code: 'custom', path: ['prices', name], message: `${price} is not a Stripe Price id (they look like price_1Pq…)` });
      else if (!plan.prices.includes(price)) plan.prices.push(price);
    }
  }
  return { ...c, plans };
}).superRefine((c, ctx) => {
  const names = Object.keys(c.plans);
  if (names.length === 0) ctx.addIssue({ code: 'custom', path: ['plans'], message: 'list at least the default plan' });
  if (!Object.hasOwn(c.plans, c.defaultPlan)) ctx.addIssue({ code: 'custom', path: ['defaultPlan'], message: `"${c.defaultPlan}" is not one of the plans (${names.join(', ')})` });
  const seen = new Map<string, string>();
  for (const [name, plan] of Object.entries(c.plans)) {
    for (const price of plan.prices) {
      const other = seen.get(price);
      if (other) ctx.addIssue({ code: 'custom', path: ['plans', name, 'prices'], message: `${price} is also a price of plan "${other}": a price buys one plan` });
      seen.set(price, name);
    }
  }
  if (c.secretKey !== '' && c.webhookSecret === '') {
    ctx.addIssue({ code: 'custom', path: ['webhookSecret'], message: 'is required when secretKey is set (STRIPE_WEBHOOK_SECRET: the endpoint\'s whsec_… secret): without it no payment would ever reach the gateway' });
  }
});

export type PaymentsConfig = z.infer<typeof paymentsConfigSchema>;
