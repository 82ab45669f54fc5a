// The simulated Stripe's objects: the fields of customers, prices, checkout and portal sessions, subscriptions,
// invoices and events that tickgate reads, shaped as Stripe's API returns them.

export interface SimPrice {
  id: string;
  object: 'price';
  active: boolean;
  currency: string;
  unit_amount: number;
  recurring: { interval: 'day' | 'week' | 'month' | 'year'; interval_count: number };
  product: string;
  nickname: string | null;
  livemode: false;
}

export interface SimCustomer {
  id: string;
  object: 'customer';
  created: number;
  email: string | null;
  metadata: Record<string, string>;
  livemode: false;
}

export interface SimCheckoutSession {
  id: string;
  object: 'checkout.session';
  created: number;
  mode: 'subscription';
  status: 'open' | 'complete' | 'expired';
  payment_status: 'unpaid' | 'paid';
  customer: string;
  client_reference_id: string | null;
  subscription: string | null;
  success_url: string;
  cancel_url: string | null;
  url: string | null;
  metadata: Record<string, string>;
  /** Not an API field of the session itself: what it sells (Stripe keeps it behind line_items). */
  price: string;
  subscription_metadata: Record<string, string>;
  livemode: false;
}

export type SubscriptionStatus = 'incomplete' | 'incomplete_expired' | 'trialing' | 'active' | 'past_due' | 'canceled' | 'unpaid' | 'paused';

export interface SimSubscriptionItem {
  id: string;
  object: 'subscription_item';
  price: SimPrice;
  quantity: number;
  current_period_start: number;
  current_period_end: number;
}

export interface SimSubscription {
  id: string;
  object: 'subscription';
  created: number;
  customer: string;
  status: SubscriptionStatus;
  cancel_at_period_end: boolean;
  canceled_at: number | null;
  ended_at: number | null;
  metadata: Record<string, string>;
  items: { object: 'list'; data: SimSubscriptionItem[]; has_more: false; url: string };
  latest_invoice: string | null;
  livemode: false;
}

export interface SimInvoice {
  id: string;
  object: 'invoice';
  created: number;
  customer: string;
  status: 'paid' | 'open';
  amount_due: number;
  amount_paid: number;
  currency: string;
  parent: { type: 'subscription_details'; subscription_details: { subscription: string; metadata: Record<string, string> } };
  livemode: false;
}

export interface SimBillingPortalSession {
  id: string;
  object: 'billing_portal.session';
  created: number;
  customer: string;
  return_url: string | null;
  url: string;
  livemode: false;
}

export interface SimEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  type: string;
  data: { object: unknown; previous_attributes?: unknown };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
}

/** Stripe's error body: `{ error: { type, code, message, param } }`. */
export interface SimErrorBody {
  error: { type: string; code?: string; message: string; param?: string };
}
