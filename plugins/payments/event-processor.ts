// Works through the stored webhook events after they were answered: each one makes the gateway read its subscription
// from Stripe again and store what Stripe holds now, so the order events arrive in decides nothing. Failures are
// retried with backoff, and events left unprocessed by a stop are taken up at the next start.
import type { Logger } from '../../core/logger.js';
import type { PaymentStore, PendingEvent, SubscriptionRow } from './payment-store.js';
import { isMissing, type StripeApi } from './stripe-api.js';

/** The longest wait between two attempts of one event. */
const MAX_RETRY_MS = 3_600_000;
const BATCH = 20;

export type SyncListener = (userId: string, rows: SubscriptionRow[]) => void;

export class EventProcessor {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Counts since start, for logs and tests. */
  readonly counts = { processed: 0, failed: 0 };

  constructor(
    private readonly store: PaymentStore,
    private readonly stripe: StripeApi,
    private readonly onSynced: SyncListener,
    private readonly log: Logger,
    /** First retry delay; doubles with each failed attempt up to an hour. */
    private readonly retryBaseMs = 1000,
  ) {}

  /** Processes what is due now, and keeps doing so as events arrive (`wake`) or retries fall due. */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.drain().catch((err: unknown) => {
      this.log.error({ err }, 'webhook event processing stopped on a database error: retrying in 5 s');
      this.schedule(new Date(Date.now() + 5000));
    }).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Resolves once nothing is being processed (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const due = await this.store.dueEvents(BATCH);
      for (const e of due) {
        if (this.closed) return;
        await this.process(e);
      }
      if (due.length < BATCH) break;
    }
    const next = await this.store.nextDue();
    if (next) this.schedule(next);
  }

  private schedule(at: Date): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, Math.max(0, Math.min(at.getTime() - Date.now(), MAX_RETRY_MS)));
    this.timer.unref();
  }

  private async process(e: PendingEvent): Promise<void> {
    if (!e.subscriptionId) {
      // A one-time payment's checkout, for instance: nothing tickgate sells.
      await this.store.markProcessed(e.id, 'not about a subscription');
      return;
    }
    try {
      const note = await this.sync(e.subscriptionId);
      await this.store.markProcessed(e.id, note ?? null);
      this.counts.processed++;
    } catch (err) {
      if (isMissing(err)) {
        this.log.warn({ event: e.id, type: e.type, subscription: e.subscriptionId }, 'Stripe has no such subscription: the event is dropped');
        await this.store.markProcessed(e.id, 'Stripe has no such subscription');
        return;
      }
      this.counts.failed++;
      const delay = Math.min(this.retryBaseMs * 2 ** e.attempts, MAX_RETRY_MS);
      const message = err instanceof Error ? err.message : String(err);
      this.log[e.attempts >= 4 ? 'error' : 'warn']({ event: e.id, type: e.type, subscription: e.subscriptionId, attempt: e.attempts + 1, retryInMs: delay, err: message }, 'webhook event not processed: retrying');
      await this.store.markFailed(e.id, message, delay);
    }
  }

  /**
   * Reads the subscription from Stripe and stores it; then the user's plan is worked out again from everything
   * stored. Returns a note when the subscription is not a tickgate user's (nothing to retry).
   */
  async sync(subscriptionId: string): Promise<string | undefined> {
    const fetchedAt = new Date();
    const facts = await this.stripe.subscription(subscriptionId);
    let userId = await this.store.userOfCustomer(facts.customerId);
    if (!userId && facts.userId && await this.store.userExists(facts.userId)) {
      userId = facts.userId;
      await this.store.saveCustomer(userId, facts.customerId);
    }
    if (!userId && facts.userId && await this.store.wasDeleted(facts.userId)) {
      if (facts.status === 'canceled' || facts.status === 'incomplete_expired') return 'the account was deleted; the subscription is over';
      await this.stripe.cancel(facts.id);
      this.log.info({ subscription: facts.id, userId: facts.userId }, 'subscription of a deleted account canceled');
      return 'the account was deleted: the subscription was canceled';
    }
    if (!userId) {
      this.log.warn({ subscription: facts.id, customer: facts.customerId }, 'a subscription of a Stripe customer that is no tickgate user: ignored');
      return 'the customer is no tickgate user';
    }
    await this.store.saveSubscription({
      id: facts.id, userId, customerId: facts.customerId, status: facts.status, priceId: facts.priceId,
      currentPeriodEnd: facts.currentPeriodEnd, cancelAtPeriodEnd: facts.cancelAtPeriodEnd, fetchedAt,
    });
    this.onSynced(userId, await this.store.subscriptionsOf(userId));
    return undefined;
  }
}
