// Payments in the database: each user's Stripe customer, subscriptions as last read from Stripe, and webhook events.
import { QueryTypes, type Sequelize } from 'sequelize';
import type { Database } from '../db/database.js';

/** A subscription as stored: what Stripe said when it was last read. */
export interface SubscriptionRow {
  id: string;
  userId: string;
  customerId: string;
  status: string;
  priceId: string | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  fetchedAt: Date;
  updatedAt: Date;
}

/** A stored webhook event waiting to be processed (or retried). */
export interface PendingEvent {
  id: string;
  type: string;
  subscriptionId: string | null;
  attempts: number;
}

interface RawSubscription {
  id: string;
  user_id: string;
  customer_id: string;
  status: string;
  price_id: string | null;
  current_period_end: Date | string | null;
  cancel_at_period_end: boolean;
  fetched_at: Date | string;
  updated_at: Date | string;
}

function date(v: Date | string): Date {
  return v instanceof Date ? v : new Date(v);
}

function toRow(r: RawSubscription): SubscriptionRow {
  return {
    id: r.id, userId: r.user_id, customerId: r.customer_id, status: r.status, priceId: r.price_id,
    currentPeriodEnd: r.current_period_end === null ? null : date(r.current_period_end), cancelAtPeriodEnd: r.cancel_at_period_end,
    fetchedAt: date(r.fetched_at), updatedAt: date(r.updated_at),
  };
}

export class PaymentStore {
  private readonly sql: Sequelize;

  constructor(db: Database) {
    this.sql = db.sequelize;
  }

  async customerOf(userId: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ customer_id: string }>('SELECT customer_id FROM payment_customers WHERE user_id = :userId', { replacements: { userId }, type: QueryTypes.SELECT });
    return rows[0]?.customer_id;
  }

  async userOfCustomer(customerId: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ user_id: string }>('SELECT user_id FROM payment_customers WHERE customer_id = :customerId', { replacements: { customerId }, type: QueryTypes.SELECT });
    return rows[0]?.user_id;
  }

  /** Keeps the user's customer id; when one is kept already (a concurrent first checkout), that one is the answer. */
  async saveCustomer(userId: string, customerId: string): Promise<string> {
    await this.sql.query(
      'INSERT INTO payment_customers (user_id, customer_id, created_at) VALUES (:userId, :customerId, now()) ON CONFLICT (user_id) DO NOTHING',
      { replacements: { userId, customerId } },
    );
    const kept = await this.customerOf(userId);
    if (kept === undefined) throw new Error(`the customer of user ${userId} was not kept`);
    return kept;
  }

  async userExists(userId: string): Promise<boolean> {
    const rows = await this.sql.query('SELECT 1 FROM users WHERE id = :userId', { replacements: { userId }, type: QueryTypes.SELECT });
    return rows.length > 0;
  }

  async recordDeleted(userId: string): Promise<void> {
    await this.sql.query('INSERT INTO payment_deleted_accounts (user_id, deleted_at) VALUES (:userId, now()) ON CONFLICT (user_id) DO NOTHING', { replacements: { userId } });
  }

  async wasDeleted(userId: string): Promise<boolean> {
    const rows = await this.sql.query('SELECT 1 FROM payment_deleted_accounts WHERE user_id = :userId', { replacements: { userId }, type: QueryTypes.SELECT });
    return rows.length > 0;
  }

  /**
   * Stores a subscription as read from Stripe at `fetchedAt`, unless a read that started later is stored already (two
   * events of one subscription processed at once, here or on another gateway): the later read is the newer truth.
   * Returns whether it was stored.
   */
  async saveSubscription(s: Omit<SubscriptionRow, 'updatedAt'>): Promise<boolean> {
    const rows = await this.sql.query<{ id: string }>(
      `INSERT INTO payment_subscriptions (id, user_id, customer_id, status, price_id, current_period_end, cancel_at_period_end, fetched_at, updated_at)
       VALUES (:id, :userId, :customerId, :status, :priceId, :currentPeriodEnd, :cancelAtPeriodEnd, :fetchedAt, now())
       ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, customer_id = EXCLUDED.customer_id, status = EXCLUDED.status,
         price_id = EXCLUDED.price_id, current_period_end = EXCLUDED.current_period_end,
         cancel_at_period_end = EXCLUDED.cancel_at_period_end, fetched_at = EXCLUDED.fetched_at, updated_at = now()
       WHERE payment_subscriptions.fetched_at <= EXCLUDED.fetched_at RETURNING id`,
      { replacements: { ...s }, type: QueryTypes.SELECT },
    );
    return rows.length === 1;
  }

  async subscriptionsOf(userId: string): Promise<SubscriptionRow[]> {
    const rows = await this.sql.query<RawSubscription>('SELECT * FROM payment_subscriptions WHERE user_id = :userId', { replacements: { userId }, type: QueryTypes.SELECT });
    return rows.map(toRow);
  }

  /** Every stored subscription, by user: what the gateway keeps in memory to judge subscriptions synchronously. */
  async allSubscriptions(): Promise<Map<string, SubscriptionRow[]>> {
    const rows = await this.sql.query<RawSubscription>('SELECT * FROM payment_subscriptions', { type: QueryTypes.SELECT });
    const byUser = new Map<string, SubscriptionRow[]>();
    for (const r of rows.map(toRow)) {
      const list = byUser.get(r.userId);
      if (list) list.push(r);
      else byUser.set(r.userId, [r]);
    }
    return byUser;
  }

  /**
   * Users whose subscriptions were stored after `since` (by the database's clock), and the newest such time: how a
   * gateway learns what another gateway on the same database processed.
   */
  async changedSince(since: Date | undefined): Promise<{ userIds: string[]; latest: Date | undefined }> {
    const rows = await this.sql.query<{ user_id: string; at: Date | string }>(
      `SELECT user_id, max(updated_at) AS at FROM payment_subscriptions ${since ? 'WHERE updated_at > :since' : ''} GROUP BY user_id`,
      { replacements: { since: since ?? null }, type: QueryTypes.SELECT },
    );
    let latest = since;
    for (const r of rows) {
      const at = date(r.at);
      if (!latest || at > latest) latest = at;
    }
    return { userIds: rows.map((r) => r.user_id), latest };
  }

  /** Stores a verified event once: false when it was stored before (a replay, or a duplicate arriving at the same time). */
  async recordEvent(e: { id: string; type: string; subscriptionId: string | null; created: Date }): Promise<boolean> {
    const rows = await this.sql.query<{ id: string }>(
      `INSERT INTO payment_events (id, type, subscription_id, stripe_created_at, received_at, attempts, next_attempt_at)
       VALUES (:id, :type, :subscriptionId, :created, now(), 0, now()) ON CONFLICT (id) DO NOTHING RETURNING id`,
      { replacements: e, type: QueryTypes.SELECT },
    );
    return rows.length === 1;
  }

  /** Events due for processing, oldest first (by Stripe's time; the order only spreads the work, it decides nothing). */
  async dueEvents(limit: number): Promise<PendingEvent[]> {
    const rows = await this.sql.query<{ id: string; type: string; subscription_id: string | null; attempts: number }>(
      `SELECT id, type, subscription_id, attempts FROM payment_events
       WHERE processed_at IS NULL AND next_attempt_at <= now() ORDER BY stripe_created_at, received_at LIMIT :limit`,
      { replacements: { limit }, type: QueryTypes.SELECT },
    );
    return rows.map((r) => ({ id: r.id, type: r.type, subscriptionId: r.subscription_id, attempts: r.attempts }));
  }

  /** When the next unprocessed event is due; undefined when none waits. */
  async nextDue(): Promise<Date | undefined> {
    const rows = await this.sql.query<{ at: Date | string | null }>('SELECT min(next_attempt_at) AS at FROM payment_events WHERE processed_at IS NULL', { type: QueryTypes.SELECT });
    const at = rows[0]?.at;
    return at === null || at === undefined ? undefined : date(at);
  }

  /** Makes every unprocessed event due now (a start takes up what the last run left, without waiting out backoffs). */
  async makePendingDue(): Promise<void> {
    await this.sql.query('UPDATE payment_events SET next_attempt_at = now() WHERE processed_at IS NULL AND next_attempt_at > now()');
  }

  async markProcessed(id: string, note: string | null = null): Promise<void> {
    await this.sql.query('UPDATE payment_events SET processed_at = now(), attempts = attempts + 1, last_error = :note WHERE id = :id', { replacements: { id, note } });
  }

  async markFailed(id: string, error: string, retryInMs: number): Promise<void> {
    await this.sql.query(
      `UPDATE payment_events SET attempts = attempts + 1, last_error = :error, next_attempt_at = now() + (:ms || ' milliseconds')::interval WHERE id = :id`,
      { replacements: { id, error: error.slice(0, 500), ms: String(Math.round(retryInMs)) } },
    );
  }

  /** Counts for /health-like views and tests. */
  async eventCounts(): Promise<{ received: number; pending: number }> {
    const rows = await this.sql.query<{ received: string; pending: string }>(
      'SELECT count(*) AS received, count(*) FILTER (WHERE processed_at IS NULL) AS pending FROM payment_events',
      { type: QueryTypes.SELECT },
    );
    return { received: Number(rows[0]?.received ?? 0), pending: Number(rows[0]?.pending ?? 0) };
  }
}
