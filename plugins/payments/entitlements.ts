// Who is on which plan (kept in memory, from the stored subscriptions), and the rules that make plans gate: the
// subscribe rule, the per-connection limits and the per-caller request limits.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { ClientInfo, ClientPolicy, Identity, RequestContext, RouteRequest, SubscribeRequest } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { addressBucket } from '../../core/client-address.js';
import { PAYMENTS_ERRORS } from './errors.js';
import type { Plan, PlanCatalogue } from './plans.js';
import type { SubscriptionRow } from './payment-store.js';

/** A user's plan and the subscription behind it (the one granting it, or else the latest one, e.g. canceled). */
export interface UserPlan {
  plan: Plan;
  subscription: SubscriptionRow | undefined;
  /** All the user's stored subscriptions. */
  rows: readonly SubscriptionRow[];
}

/** The subscription as the API and the account channel show it. */
export interface SubscriptionView {
  plan: string;
  /** Stripe's status of the subscription behind the plan; null on the default plan without any subscription. */
  status: string | null;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  subscriptionId: string | null;
}

export class Entitlements {
  private readonly byUser = new Map<string, UserPlan>();
  private readonly limiters = new Map<Plan, RateLimiterMemory>();

  constructor(
    readonly catalogue: PlanCatalogue,
    private readonly activeStatuses: readonly string[],
    /** The route that is never limited (Stripe's webhook deliveries). */
    private readonly exemptRoute: string,
  ) {
    for (const plan of catalogue.plans) {
      const points = plan.config.restRequestsPerMinute;
      if (points > 0) this.limiters.set(plan, new RateLimiterMemory({ points, duration: 60, keyPrefix: `plan-${plan.name}` }));
    }
  }

  /** Which plan a user's subscriptions give: the highest-ranked one among those in a granting status. */
  resolve(rows: readonly SubscriptionRow[]): UserPlan {
    let best: { plan: Plan; row: SubscriptionRow } | undefined;
    let latest: SubscriptionRow | undefined;
    for (const row of rows) {
      if (!latest || row.updatedAt > latest.updatedAt) latest = row;
      if (!this.activeStatuses.includes(row.status) || row.priceId === null) continue;
      const plan = this.catalogue.forPrice(row.priceId);
      if (plan && (!best || plan.rank > best.plan.rank)) best = { plan, row };
    }
    return best ? { plan: best.plan, subscription: best.row, rows } : { plan: this.catalogue.defaultPlan, subscription: latest, rows };
  }

  load(all: Map<string, SubscriptionRow[]>): void {
    this.byUser.clear();
    for (const [userId, rows] of all) this.byUser.set(userId, this.resolve(rows));
  }

  /**
   * Sets a user's plan from their subscriptions as just read; returns the plan before. A read that raced a newer one
   * (a refresh against the webhook processor) keeps, per subscription, the row read from Stripe last.
   */
  set(userId: string, rows: readonly SubscriptionRow[]): UserPlan {
    const before = this.of(userId);
    const merged = new Map(rows.map((r) => [r.id, r]));
    for (const held of before.rows) {
      const read = merged.get(held.id);
      if (!read || held.fetchedAt > read.fetchedAt) merged.set(held.id, held);
    }
    if (merged.size === 0) this.byUser.delete(userId);
    else this.byUser.set(userId, this.resolve([...merged.values()]));
    return before;
  }

  forget(userId: string): void {
    this.byUser.delete(userId);
  }

  of(userId: string | undefined): UserPlan {
    return (userId !== undefined && this.byUser.get(userId)) || { plan: this.catalogue.defaultPlan, subscription: undefined, rows: [] };
  }

  view(userId: string): SubscriptionView {
    return this.viewOf(this.of(userId));
  }

  viewOf({ plan, subscription: s }: UserPlan): SubscriptionView {
    return {
      plan: plan.name,
      status: s?.status ?? null,
      currentPeriodEnd: s?.currentPeriodEnd?.toISOString() ?? null,
      cancelAtPeriodEnd: s?.cancelAtPeriodEnd ?? false,
      subscriptionId: s?.id ?? null,
    };
  }

  /** The subscribe rule: a gated channel needs a plan that lists it (admins are not gated). */
  readonly subscribeRule = (req: SubscribeRequest): void => {
    const id = req.client.identity;
    if (id?.role === 'admin') return;
    const { plan } = this.of(id?.userId);
    const needed = this.catalogue.refuses(plan, req.kind, req.key, req.arg);
    if (!needed) return;
    const names = needed.map((p) => p.name);
    const which = names.length === 1 ? `the ${names[0]} plan` : `one of the plans ${names.join(', ')}`;
    const how = id
      ? `upgrade with POST /api/v1/payments/checkout {"plan":"${names[0]}"}`
      : `sign in (anonymous clients are on the ${plan.name} plan), then upgrade with POST /api/v1/payments/checkout {"plan":"${names[0]}"}`;
    throw PAYMENTS_ERRORS.error('TG_ERR_PLAN_REQUIRED', `${req.channel} needs ${which}; ${id ? `your plan is ${plan.name}` : 'you are not signed in'}: ${how}`);
  };

  readonly policy: ClientPolicy = {
    channels: (client: ClientInfo) => this.of(client.userId).plan.channelAllowance,
    connections: (identity: Identity) => this.of(identity.userId).plan.connectionAllowance,
  };

  /** The request rule: each plan's requests per minute, per account, or per address for anonymous callers. */
  readonly requestRule = (req: RouteRequest, ctx: RequestContext): void | Promise<void> => {
    if (ctx.route === this.exemptRoute) return;
    const { plan } = this.of(ctx.identity?.userId);
    const limiter = this.limiters.get(plan);
    // A plan without a request limit costs no promise.
    if (!limiter) return;
    const key = ctx.identity ? `u:${ctx.identity.userId}` : `ip:${addressBucket(req.remoteAddress)}`;
    return this.consume(limiter, key, plan, ctx);
  };

  private async consume(limiter: RateLimiterMemory, key: string, plan: Plan, ctx: RequestContext): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      const more = this.catalogue.plans.find((p) => p.rank > plan.rank && (p.config.restRequestsPerMinute === 0 || p.config.restRequestsPerMinute > plan.config.restRequestsPerMinute));
      const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      const err = new TickgateError('TG_ERR_REQUEST_LIMIT', `The ${plan.name} plan allows ${plan.config.restRequestsPerMinute} requests per minute${ctx.identity ? ' per account' : ' per address for anonymous callers'}: retry in ${seconds} s${more ? `, or move to the ${more.name} plan (${more.config.restRequestsPerMinute === 0 ? 'no limit' : `${more.config.restRequestsPerMinute} per minute`})` : ''}`);
      err.retryAfter = seconds;
      throw err;
    }
  }
}
