// The payments plugin's error codes (a built-in plugin: TG_ERR_ codes, in the README's one error table).
import { defineErrors } from '../../core/errors.js';

export const PAYMENTS_ERRORS = defineErrors('TG_ERR_', {
  TG_ERR_PLAN_REQUIRED: { status: 403, message: 'Your plan does not include this: upgrade with POST /api/v1/payments/checkout (GET /api/v1/payments/plans lists the plans)' },
  TG_ERR_PAYMENTS_OFF: { status: 503, message: 'Payments are off on this server (no Stripe secret key is set): every channel is open to every client' },
  TG_ERR_UNKNOWN_PLAN: { status: 400, message: 'No such plan: GET /api/v1/payments/plans lists the plans' },
  TG_ERR_PLAN_NOT_FOR_SALE: { status: 400, message: 'This plan has no Stripe price: it cannot be bought (the default plan is what everyone has)' },
  TG_ERR_ALREADY_SUBSCRIBED: { status: 409, message: 'You already have this plan: change or cancel it in the billing portal (POST /api/v1/payments/portal)' },
  TG_ERR_NO_BILLING_ACCOUNT: { status: 409, message: 'You have no billing account yet: buy a plan first (POST /api/v1/payments/checkout)' },
  TG_ERR_PAYMENT_PROVIDER: { status: 502, message: 'Stripe did not accept the request or could not be reached: retry later; the server logged the cause' },
  TG_ERR_WEBHOOK_SIGNATURE: { status: 400, message: 'The webhook signature is missing, wrong or too old: check that the endpoint secret (STRIPE_WEBHOOK_SECRET) is this endpoint\'s' },
});
