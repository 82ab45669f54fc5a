// Built-in payments plugin: Stripe subscriptions, plans whose entitlements gate channels, connections and requests
// live, and verified, idempotent webhooks. Without a Stripe secret key it is off and gates nothing.
import { definePlugin } from '../../core/plugin-api.js';
import type { Database } from '../db/database.js';
import type { UsersService } from '../users/service.js';
import { paymentsConfigSchema } from './config.js';
import { PAYMENTS_ERRORS } from './errors.js';
import { PlanCatalogue } from './plans.js';
import { PAYMENTS_MIGRATIONS } from './migrations.js';
import { PaymentStore, type SubscriptionRow } from './payment-store.js';
import { Entitlements } from './entitlements.js';
import { StripeApi, stripeClient } from './stripe-api.js';
import { EventProcessor } from './event-processor.js';
import { offRoutes, paymentRoutes, WEBHOOK_PATH } from './routes.js';

export type { PaymentsConfig } from './config.js';

/** How far back each refresh reads before the newest change it saw (commits land out of their statements' order). */
const REFRESH_OVERLAP_MS = 10_000;

export default definePlugin({
  name: 'payments',
  configSchema: paymentsConfigSchema,
  errors: PAYMENTS_ERRORS,
  async acceptor(api) {
    const config = api.config;
    const catalogue = new PlanCatalogue(config);
    if (config.secretKey === '') {
      api.log.info('payments are off (no Stripe secret key: STRIPE_SECRET_KEY): no plan gates anything');
      offRoutes(api, catalogue);
      return;
    }
    if (!api.authenticates()) {
      throw new Error('payments need accounts: list the db, users and auth plugins before payments in config.yaml (or leave STRIPE_SECRET_KEY unset)');
    }
    const db = api.use<Database>('db');
    const users = api.use<UsersService>('users');
    await db.migrate('payments', PAYMENTS_MIGRATIONS);
    const store = new PaymentStore(db);
    const entitlements = new Entitlements(catalogue, config.activeStatuses, WEBHOOK_PATH);
    // The mark first, then the rows: a row stored in between is read again by the first refresh, never skipped.
    let seenUntil = (await store.changedSince(undefined)).latest;
    entitlements.load(await store.allSubscriptions());
    const stripe = new StripeApi(stripeClient(config), api.log);

    /**
     * A user's subscriptions were read again: their plan applies at once on their open connections. `announce`: tell
     * the user's account channel too (in a cluster, only the gateway that processed the change does).
     */
    const synced = (userId: string, rows: SubscriptionRow[], announce = true): void => {
      const before = entitlements.set(userId, rows);
      const beforeView = JSON.stringify(entitlements.viewOf(before));
      const after = entitlements.of(userId);
      const subscription = entitlements.view(userId);
      if (after.plan !== before.plan) {
        if (announce) users.accountEvent(userId, 'plan.changed', { plan: catalogue.view(after.plan), previousPlan: before.plan.name, subscription });
        api.clients.recheck(userId);
        api.log.info({ userId, from: before.plan.name, to: after.plan.name, status: subscription.status }, 'plan changed');
      } else if (announce && JSON.stringify(subscription) !== beforeView) {
        users.accountEvent(userId, 'subscription.updated', { subscription });
      }
    };

    const processor = new EventProcessor(store, stripe, synced, api.log.child({ component: 'webhook-events' }), config.eventRetryBaseMs);
    api.onSubscribe(entitlements.subscribeRule);
    api.limitClients(entitlements.policy);
    api.onRequest(entitlements.requestRule);
    users.addAdminField('plan', (userId) => entitlements.view(userId));
    users.store.onChange((change) => {
      if (change.event !== 'account.deleted') return;
      // The account is gone (its payment rows with it): what Stripe would go on charging it for ends too.
      const open = entitlements.of(change.userId).rows.filter((r) => !['canceled', 'incomplete_expired'].includes(r.status));
      entitlements.forget(change.userId);
      // Remembered, so that a subscription this gateway has not heard of yet is canceled when its events arrive.
      store.recordDeleted(change.userId).catch((err: unknown) => api.log.error({ err, userId: change.userId }, 'could not record the deleted account for payments'));
      for (const row of open) {
        stripe.cancel(row.id).then(
          () => api.log.info({ userId: change.userId, subscription: row.id }, 'subscription of a deleted account canceled'),
          (err: unknown) => api.log.error({ userId: change.userId, subscription: row.id, customer: row.customerId, err: err instanceof Error ? err.message : String(err) }, 'could not cancel the subscription of a deleted account: cancel it in the Stripe dashboard'),
        );
      }
    });
    paymentRoutes(api, { config, catalogue, entitlements, store, stripe, users, processor });
    api.provide('payments', { entitlements, processor, store });
    // What other gateways on the same database stored (their webhooks) reaches this gateway's connections too.
    // updated_at is a statement's start, and statements commit in another order: each refresh looks a little further
    // back than the newest row it saw (re-applying a row changes nothing: a change is what is announced).
    let refreshing: Promise<void> | undefined;
    const refresh = setInterval(() => {
      if (refreshing) return;
      refreshing = (async () => {
        const since = seenUntil && new Date(seenUntil.getTime() - REFRESH_OVERLAP_MS);
        const { userIds, latest } = await store.changedSince(since);
        // In a cluster the gateway that processed the change announced it to every gateway's connections.
        for (const userId of userIds) synced(userId, await store.subscriptionsOf(userId), !api.clustered);
        if (latest && (!seenUntil || latest > seenUntil)) seenUntil = latest;
      })().catch((err: unknown) => api.log.warn({ err }, 'reading subscriptions stored by other gateways failed: retrying')).finally(() => {
        refreshing = undefined;
      });
    }, config.refreshMs);
    refresh.unref();
    api.onClose(async () => {
      clearInterval(refresh);
      await refreshing;
      await processor.close();
    });
    // Events stored but not processed when the gateway last stopped are taken up now.
    await store.makePendingDue();
    processor.wake();
    const forSale = catalogue.plans.filter((p) => p.prices.length > 0).map((p) => p.name);
    api.log.info({ apiBase: config.apiBase, mode: config.secretKey.startsWith('sk_live_') || config.secretKey.startsWith('rk_live_') ? 'live' : 'test', plans: catalogue.plans.map((p) => p.name), forSale, defaultPlan: catalogue.defaultPlan.name }, 'payments are on');
    if (forSale.length === 0) api.log.warn('no plan has a Stripe price (plans.<name>.prices, or STRIPE_PRICE_PRO): nothing can be bought');
  },
});
