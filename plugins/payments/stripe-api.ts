// The Stripe calls the payments plugin makes, through the official SDK pointed at STRIPE_API_BASE.
import { createHash } from 'node:crypto';
import Stripe from 'stripe';
import type { Logger } from '../../core/logger.js';
import { PAYMENTS_ERRORS } from './errors.js';
import type { PaymentsConfig } from './config.js';

/** A subscription as tickgate needs it from Stripe's object, whatever the account's API version. */
export interface SubscriptionFacts {
  id: string;
  customerId: string;
  status: string;
  priceId: string | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  /** The tickgate user the subscription was bought for (set at checkout), if Stripe kept it. */
  userId: string | undefined;
}

export function stripeClient(cfg: Pick<PaymentsConfig, 'secretKey' | 'apiBase' | 'requestTimeoutMs' | 'maxNetworkRetries'>): Stripe {
  const base = new URL(cfg.apiBase);
  const protocol = base.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(cfg.secretKey, {
    host: base.hostname,
    port: base.port === '' ? (protocol === 'http' ? 80 : 443) : Number(base.port),
    protocol,
    timeout: cfg.requestTimeoutMs,
    maxNetworkRetries: cfg.maxNetworkRetries,
    telemetry: false,
    appInfo: { name: 'tickgate' },
  });
}

function idOf(v: string | { id: string } | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : v.id;
}

/** The subscription an invoice belongs to: `parent.subscription_details` now, `subscription` in older API versions. */
export function invoiceSubscription(invoice: Record<string, unknown>): string | null {
  const parent = invoice.parent as { subscription_details?: { subscription?: string | { id: string } | null } | null } | null | undefined;
  return idOf(parent?.subscription_details?.subscription ?? (invoice.subscription as string | { id: string } | null | undefined) ?? null);
}

export function subscriptionFacts(sub: Stripe.Subscription): SubscriptionFacts {
  const item = sub.items?.data?.[0] as (Stripe.SubscriptionItem & { current_period_end?: number }) | undefined;
  // The period end moved from the subscription to its items in 2025; accounts on older versions still send it on top.
  const legacyEnd = (sub as unknown as { current_period_end?: number }).current_period_end;
  const end = item?.current_period_end ?? legacyEnd;
  return {
    id: sub.id,
    customerId: idOf(sub.customer as string | { id: string })!,
    status: sub.status,
    priceId: item?.price?.id ?? null,
    currentPeriodEnd: typeof end === 'number' ? new Date(end * 1000) : null,
    cancelAtPeriodEnd: sub.cancel_at_period_end === true,
    userId: typeof sub.metadata?.tickgateUserId === 'string' ? sub.metadata.tickgateUserId : undefined,
  };
}

/** Whether Stripe answered that the object does not exist (retrying cannot help). */
export function isMissing(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeError && err.code === 'resource_missing';
}

export function customerIdempotencyKey(userId: string, email: string): string {
  return `tickgate-customer-${userId}-${createHash('sha256').update(email).digest('hex').slice(0, 16)}`;
}

export class StripeApi {
  constructor(
    readonly stripe: Stripe,
    private readonly log: Logger,
  ) {}

  /** Runs a call; a Stripe failure is logged (type, code, request id: never the key) and answered as TG_ERR_PAYMENT_PROVIDER. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError) {
        this.log.error({ call: what, type: err.type, code: err.code, status: err.statusCode, requestId: err.requestId, message: err.message }, 'Stripe refused or failed a request');
        // Stripe's own text stays in the log: it can name the key's last digits, price ids and other configuration.
        throw PAYMENTS_ERRORS.error('TG_ERR_PAYMENT_PROVIDER', `Stripe could not ${what}: retry later (the server logged Stripe's answer${err.requestId ? `, request ${err.requestId}` : ''})`);
      }
      throw err;
    }
  }

  /**
   * Creates the user's customer. The idempotency key is the user's (and their email's, which the request carries):
   * two first checkouts at once, here or on another gateway, get the same customer from Stripe.
   */
  createCustomer(userId: string, email: string): Promise<string> {
    return this.call('create the customer', async () => {
      // Stripe keeps a key's answer for a day, a failure (5xx) too: a replayed failure moves on to the key's next
      // generation, which every gateway reaches the same way, so concurrent first checkouts still meet on one key.
      for (let generation = 0; ; generation++) {
        const base = customerIdempotencyKey(userId, email);
        try {
          const c = await this.stripe.customers.create({ email, metadata: { tickgateUserId: userId } }, { idempotencyKey: generation === 0 ? base : `${base}-${generation}` });
          return c.id;
        } catch (err) {
          const replayedFailure = err instanceof Stripe.errors.StripeError && (err.statusCode ?? 0) >= 500 && err.headers?.['idempotent-replayed'] === 'true';
          if (!replayedFailure || generation >= 3) throw err;
        }
      }
    });
  }

  checkout(p: { customerId: string; userId: string; plan: string; priceId: string; successUrl: string; cancelUrl: string }): Promise<{ id: string; url: string }> {
    return this.call('start a checkout', async () => {
      const s = await this.stripe.checkout.sessions.create({
        mode: 'subscription',
        customer: p.customerId,
        client_reference_id: p.userId,
        line_items: [{ price: p.priceId, quantity: 1 }],
        success_url: p.successUrl,
        cancel_url: p.cancelUrl,
        metadata: { tickgateUserId: p.userId, plan: p.plan },
        subscription_data: { metadata: { tickgateUserId: p.userId, plan: p.plan } },
      });
      if (!s.url) throw new Error('Stripe returned a checkout session without a url');
      return { id: s.id, url: s.url };
    });
  }

  portal(customerId: string, returnUrl: string): Promise<{ url: string }> {
    return this.call('open the billing portal', async () => {
      const s = await this.stripe.billingPortal.sessions.create({ customer: customerId, return_url: returnUrl });
      return { url: s.url };
    });
  }

  /** Expires the customer's open Checkout Sessions, so that only the one about to be made can start a subscription. */
  expireOpenCheckouts(customerId: string): Promise<number> {
    return this.call('expire an older checkout', async () => {
      const open = await this.stripe.checkout.sessions.list({ customer: customerId, status: 'open', limit: 20 });
      for (const s of open.data) {
        try {
          await this.stripe.checkout.sessions.expire(s.id);
        } catch (err) {
          // Paid or expired meanwhile: the subscription list or the webhook will tell.
          if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
        }
      }
      return open.data.length;
    });
  }

  /** The customer's subscriptions Stripe holds that are not over (to refuse a second paid one). */
  openSubscriptions(customerId: string): Promise<SubscriptionFacts[]> {
    return this.call('list the subscriptions', async () => {
      const list = await this.stripe.subscriptions.list({ customer: customerId, status: 'all', limit: 20 });
      return list.data.map(subscriptionFacts).filter((s) => !['canceled', 'incomplete_expired'].includes(s.status));
    });
  }

  /** Cancels a subscription at once (its customer's account is gone). */
  async cancel(id: string): Promise<void> {
    await this.stripe.subscriptions.cancel(id);
  }

  /** Reads a subscription as Stripe holds it now; rejects with the SDK's error (the caller decides about retries). */
  async subscription(id: string): Promise<SubscriptionFacts> {
    return subscriptionFacts(await this.stripe.subscriptions.retrieve(id));
  }
}
