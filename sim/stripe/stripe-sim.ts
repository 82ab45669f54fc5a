// A Stripe-compatible server for running payments offline: the few API endpoints tickgate calls, checkout and portal
// pages a person can click through, idempotency keys as Stripe keeps them, and signed webhook deliveries with retries.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parse as parseForm } from 'qs';
import type {
  SimBillingPortalSession, SimCheckoutSession, SimCustomer, SimErrorBody, SimEvent, SimInvoice, SimPrice,
  SimSubscription, SubscriptionStatus,
} from './stripe-objects.js';

export interface StripeSimOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The only secret key accepted (`Authorization: Bearer …`); undefined: any key starting with sk_test_. */
  secretKey?: string;
  /** Prices that exist; a checkout for another price is refused as Stripe refuses it (resource_missing). */
  prices?: Array<{ id: string; unitAmount: number; currency?: string; interval?: 'month' | 'year'; nickname?: string }>;
  /** Webhook endpoints events are delivered to, each signed with its secret. More can be added at POST /_sim/webhooks. */
  webhooks?: Array<{ url: string; secret: string }>;
  /** Delivery attempts per event and endpoint before giving up (Stripe retries for three days). */
  maxDeliveryAttempts?: number;
  /** First retry delay; doubles each attempt. */
  retryBaseMs?: number;
  /** The API version stamped on events. */
  apiVersion?: string;
  /** How long each API request takes, so that concurrent requests overlap as they do against Stripe. */
  latencyMs?: number;
}

interface Endpoint {
  url: string;
  secret: string;
}

/** One delivery as the sim attempted it, for tests and GET /_sim/deliveries. */
export interface Delivery {
  eventId: string;
  type: string;
  url: string;
  attempts: number;
  status: number | undefined;
  delivered: boolean;
}

class SimError extends Error {
  constructor(readonly status: number, readonly body: SimErrorBody, readonly headers: Record<string, string> = {}) {
    super(body.error.message);
  }
}

function invalid(message: string, param?: string, code?: string): SimError {
  return new SimError(400, { error: { type: 'invalid_request_error', message, ...(param ? { param } : {}), ...(code ? { code } : {}) } });
}

function missing(kind: string, id: string, param = 'id'): SimError {
  return new SimError(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${id}'`, param } });
}

const PERIOD_SECONDS = { month: 30 * 86400, year: 365 * 86400, week: 7 * 86400, day: 86400 } as const;

type Form = Record<string, unknown>;

function str(form: Form, key: string): string | undefined {
  const v = form[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function record(v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object') return {};
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Stripe's webhook signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>" with the endpoint secret>`. */
export function signPayload(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

export class StripeSim {
  private server: Server | undefined;
  private readonly opts: Required<Omit<StripeSimOptions, 'secretKey' | 'webhooks' | 'prices'>> & { secretKey: string | undefined };
  readonly prices = new Map<string, SimPrice>();
  readonly customers = new Map<string, SimCustomer>();
  readonly sessions = new Map<string, SimCheckoutSession>();
  readonly subscriptions = new Map<string, SimSubscription>();
  readonly invoices = new Map<string, SimInvoice>();
  readonly portalSessions = new Map<string, SimBillingPortalSession>();
  readonly events: SimEvent[] = [];
  readonly deliveries: Delivery[] = [];
  readonly endpoints: Endpoint[] = [];
  /** Requests by method and path (`POST /v1/customers`), for tests that count calls. */
  readonly requests: Array<{ method: string; path: string; idempotencyKey: string | undefined }> = [];
  /** Idempotency keys: the request's fingerprint and its answer (a promise while the first request runs). */
  private readonly idempotency = new Map<string, { fingerprint: string; answer: Promise<{ status: number; body: unknown; headers?: Record<string, string> }>; done: boolean }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private deliveriesPaused = false;
  /** API requests still to be answered with a 500 (an outage), from `failApiRequests`. */
  private failing = 0;
  private readonly heldDeliveries: Array<() => void> = [];
  private seq = 0;
  url = '';

  constructor(options: StripeSimOptions = {}) {
    this.opts = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      secretKey: options.secretKey,
      maxDeliveryAttempts: options.maxDeliveryAttempts ?? 8,
      retryBaseMs: options.retryBaseMs ?? 1000,
      apiVersion: options.apiVersion ?? '2026-10-28.endive',
      latencyMs: options.latencyMs ?? 0,
    };
    for (const p of options.prices ?? [{ id: 'price_pro_monthly', unitAmount: 2000, nickname: 'Pro monthly' }]) {
      this.prices.set(p.id, {
        id: p.id, object: 'price', active: true, currency: p.currency ?? 'usd', unit_amount: p.unitAmount,
        recurring: { interval: p.interval ?? 'month', interval_count: 1 }, product: `prod_${p.id.replace(/^price_/, '')}`,
        nickname: p.nickname ?? null, livemode: false,
      });
    }
    for (const w of options.webhooks ?? []) this.endpoints.push({ ...w });
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.url = `http://${this.opts.host}:${port}`;
    return this;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const release of this.heldDeliveries.splice(0)) release();
    await Promise.allSettled([...this.inFlight]);
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `n` API requests get a 500 api_error, as during an outage of Stripe's. */
  failApiRequests(n: number): void {
    this.failing = n;
  }

  /** How long each API request takes from now on (the latencyMs option). */
  setLatency(ms: number): void {
    this.opts.latencyMs = ms;
  }

  addWebhook(url: string, secret: string): void {
    this.endpoints.push({ url, secret });
  }

  /** Holds webhook deliveries (they are sent, in order, on `resumeDeliveries`), to test what arrives late or out of order. */
  pauseDeliveries(): void {
    this.deliveriesPaused = true;
  }

  resumeDeliveries(): void {
    this.deliveriesPaused = false;
    for (const release of this.heldDeliveries.splice(0)) release();
  }

  private id(prefix: string): string {
    return `${prefix}_sim${(++this.seq).toString(36).padStart(4, '0')}${randomBytes(6).toString('hex')}`;
  }

  private now(): number {
    return Math.floor(Date.now() / 1000);
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    try {
      if (url.pathname.startsWith('/v1/')) return await this.api(req, res, method, url, raw);
      if (url.pathname.startsWith('/_sim/')) return this.control(res, method, url, raw);
      return this.page(res, method, url, raw);
    } catch (err) {
      if (err instanceof SimError) return this.json(res, err.status, err.body, err.headers);
      this.json(res, 500, { error: { type: 'api_error', message: `The simulated Stripe failed: ${(err as Error).message}` } });
    }
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body, null, 2);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': `req_${randomBytes(7).toString('hex')}`, ...headers });
    res.end(text);
  }

  private html(res: ServerResponse, status: number, title: string, body: string): void {
    const text = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}button{font-size:1rem;padding:.5rem 1rem}</style>
</head><body><p><small>Simulated Stripe (offline, test mode)</small></p>${body}</body></html>`;
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async api(req: IncomingMessage, res: ServerResponse, method: string, url: URL, raw: string): Promise<void> {
    const auth = req.headers.authorization ?? '';
    const key = /^Bearer (\S+)$/.exec(auth)?.[1];
    const idempotencyKey = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    this.requests.push({ method, path: url.pathname, idempotencyKey });
    if (!key || (this.opts.secretKey ? key !== this.opts.secretKey : !key.startsWith('sk_test_'))) {
      throw new SimError(401, { error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${key ? `${key.slice(0, 8)}****` : '(none)'}` } });
    }
    const form = (method === 'GET' || method === 'DELETE' ? parseForm(url.search.slice(1)) : parseForm(raw)) as Form;
    if (method === 'POST' && idempotencyKey) {
      // Stripe keeps a key's first answer and replays it; the same key with other parameters is an error.
      const fingerprint = createHash('sha256').update(`${method} ${url.pathname} ${raw}`).digest('hex');
      const seen = this.idempotency.get(idempotencyKey);
      if (seen) {
        if (seen.fingerprint !== fingerprint) {
          throw new SimError(400, { error: { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.` } });
        }
        // As Stripe does: a request whose key is still being served is refused (409; Stripe's SDKs retry it), and one
        // that comes after gets the stored answer.
        if (!seen.done) {
          throw new SimError(409, { error: { type: 'idempotency_error', code: 'idempotency_key_in_use', message: 'There is currently another in-progress request using this Stripe API key and idempotency key. Please try again later.' } });
        }
        const answer = await seen.answer;
        return this.json(res, answer.status, answer.body, { 'idempotent-replayed': 'true', 'original-request': 'req_sim' });
      }
      const answer = this.delay().then(() => this.route(method, url.pathname, form)).then(
        (body) => ({ status: 200, body, headers: {} as Record<string, string> }),
        (err: unknown) => {
          if (err instanceof SimError) return { status: err.status, body: err.body as unknown, headers: err.headers };
          throw err;
        },
      );
      const entry = { fingerprint, answer, done: false };
      this.idempotency.set(idempotencyKey, entry);
      const a = await answer.finally(() => {
        entry.done = true;
      });
      return this.json(res, a.status, a.body, a.headers);
    }
    await this.delay();
    this.json(res, 200, await this.route(method, url.pathname, form));
  }

  private delay(): Promise<void> {
    const ms = this.opts.latencyMs;
    return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
  }

  private async route(method: string, path: string, form: Form): Promise<unknown> {
    // Inside the request's execution: like a failure of Stripe's, it is kept under an idempotency key and replayed.
    if (this.failing > 0) {
      this.failing--;
      throw new SimError(500, { error: { type: 'api_error', message: 'The simulated Stripe is failing on purpose (an outage).' } }, { 'stripe-should-retry': 'false' });
    }
    const parts = path.split('/').filter(Boolean).slice(1);
    const [a, b, c] = parts;
    if (method === 'POST' && a === 'customers' && parts.length === 1) return this.createCustomer(form);
    if (method === 'GET' && a === 'customers' && b && parts.length === 2) return this.customers.get(b) ?? Promise.reject(missing('customer', b));
    if (method === 'GET' && a === 'prices' && b && parts.length === 2) return this.prices.get(b) ?? Promise.reject(missing('price', b));
    if (method === 'POST' && a === 'checkout' && b === 'sessions' && parts.length === 2) return this.createCheckout(form);
    if (method === 'GET' && a === 'checkout' && b === 'sessions' && parts.length === 2) {
      const customer = str(form, 'customer');
      const status = str(form, 'status');
      const data = [...this.sessions.values()].filter((x) => (!customer || x.customer === customer) && (!status || x.status === status)).reverse().map((x) => this.publicSession(x));
      return { object: 'list', data, has_more: false, url: '/v1/checkout/sessions' };
    }
    if (method === 'POST' && a === 'checkout' && b === 'sessions' && c && parts[3] === 'expire' && parts.length === 4) {
      const session = this.sessions.get(c);
      if (!session) throw missing('checkout.session', c);
      if (session.status !== 'open') throw invalid(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".`);
      session.status = 'expired';
      session.url = null;
      this.emit('checkout.session.expired', this.publicSession(session));
      return this.publicSession(session);
    }
    if (method === 'GET' && a === 'checkout' && b === 'sessions' && c && parts.length === 3) return this.publicSession(this.sessions.get(c) ?? (() => { throw missing('checkout.session', c); })());
    if (method === 'POST' && a === 'billing_portal' && b === 'sessions' && parts.length === 2) return this.createPortal(form);
    if (a === 'subscriptions' && b && parts.length === 2) {
      const sub = this.subscriptions.get(b);
      if (!sub) throw missing('subscription', b);
      if (method === 'GET') return sub;
      if (method === 'DELETE') return this.cancel(sub);
      if (method === 'POST') return this.updateSubscription(sub, form);
    }
    if (method === 'GET' && a === 'subscriptions' && parts.length === 1) {
      const customer = str(form, 'customer');
      const data = [...this.subscriptions.values()].filter((s) => !customer || s.customer === customer).reverse();
      return { object: 'list', data, has_more: false, url: '/v1/subscriptions' };
    }
    if (method === 'GET' && a === 'events' && parts.length === 1) {
      return { object: 'list', data: [...this.events].reverse(), has_more: false, url: '/v1/events' };
    }
    if (method === 'GET' && a === 'events' && b && parts.length === 2) return this.events.find((e) => e.id === b) ?? Promise.reject(missing('event', b));
    throw new SimError(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path}). The simulated Stripe serves customers, prices, checkout/sessions, billing_portal/sessions, subscriptions and events.` } });
  }

  private createCustomer(form: Form): SimCustomer {
    const customer: SimCustomer = { id: this.id('cus'), object: 'customer', created: this.now(), email: str(form, 'email') ?? null, metadata: record(form.metadata), livemode: false };
    this.customers.set(customer.id, customer);
    this.emit('customer.created', customer);
    return customer;
  }

  private createCheckout(form: Form): Omit<SimCheckoutSession, 'price' | 'subscription_metadata'> {
    if (str(form, 'mode') !== 'subscription') throw invalid('The simulated Stripe sells subscriptions only: mode must be subscription.', 'mode');
    const customerId = str(form, 'customer');
    if (!customerId) throw invalid('Pass a customer: the simulated Stripe does not create customers in checkout.', 'customer');
    if (!this.customers.has(customerId)) throw missing('customer', customerId, 'customer');
    const items = Array.isArray(form.line_items) ? form.line_items as Form[] : [];
    const price = items[0] && str(items[0], 'price');
    if (!price || items.length !== 1) throw invalid('Pass exactly one line item with a price.', 'line_items');
    if (!this.prices.has(price)) throw missing('price', price, 'line_items[0][price]');
    const successUrl = str(form, 'success_url');
    if (!successUrl) throw invalid('Missing required param: success_url.', 'success_url');
    const id = this.id('cs_test');
    const session: SimCheckoutSession = {
      id, object: 'checkout.session', created: this.now(), mode: 'subscription', status: 'open', payment_status: 'unpaid',
      customer: customerId, client_reference_id: str(form, 'client_reference_id') ?? null, subscription: null,
      success_url: successUrl, cancel_url: str(form, 'cancel_url') ?? null, url: `${this.url}/checkout/${id}`,
      metadata: record(form.metadata), price, subscription_metadata: record((form.subscription_data as Form | undefined)?.metadata), livemode: false,
    };
    this.sessions.set(id, session);
    return this.publicSession(session);
  }

  private publicSession(s: SimCheckoutSession): Omit<SimCheckoutSession, 'price' | 'subscription_metadata'> {
    const { price: _p, subscription_metadata: _m, ...rest } = s;
    return rest;
  }

  private createPortal(form: Form): SimBillingPortalSession {
    const customer = str(form, 'customer');
    if (!customer) throw invalid('Missing required param: customer.', 'customer');
    if (!this.customers.has(customer)) throw missing('customer', customer, 'customer');
    const id = this.id('bps');
    const session: SimBillingPortalSession = { id, object: 'billing_portal.session', created: this.now(), customer, return_url: str(form, 'return_url') ?? null, url: `${this.url}/portal/${id}`, livemode: false };
    this.portalSessions.set(id, session);
    return session;
  }

  private updateSubscription(sub: SimSubscription, form: Form): SimSubscription {
    const previous: Record<string, unknown> = {};
    if (form.cancel_at_period_end !== undefined) {
      previous.cancel_at_period_end = sub.cancel_at_period_end;
      sub.cancel_at_period_end = form.cancel_at_period_end === 'true';
    }
    const items = Array.isArray(form.items) ? form.items as Form[] : [];
    const price = items[0] && str(items[0], 'price');
    if (price) {
      const p = this.prices.get(price);
      if (!p) throw missing('price', price, 'items[0][price]');
      previous.items = structuredClone(sub.items);
      sub.items.data[0]!.price = p;
    }
    this.emit('customer.subscription.updated', sub, previous);
    return sub;
  }

  // ---- What happens on Stripe's side: payment, renewal, failure, cancellation -----------------------------------

  /** Pays an open checkout session: the subscription starts, and the events Stripe sends for it go out. */
  completeCheckout(sessionId: string): SimCheckoutSession {
    const session = this.sessions.get(sessionId);
    if (!session) throw missing('checkout.session', sessionId);
    if (session.status !== 'open') throw invalid(`This checkout session is ${session.status}.`);
    const price = this.prices.get(session.price)!;
    const now = this.now();
    const subId = this.id('sub');
    const sub: SimSubscription = {
      id: subId, object: 'subscription', created: now, customer: session.customer, status: 'active', cancel_at_period_end: false,
      canceled_at: null, ended_at: null, metadata: session.subscription_metadata, latest_invoice: null, livemode: false,
      items: { object: 'list', has_more: false, url: `/v1/subscription_items?subscription=${subId}`, data: [{ id: this.id('si'), object: 'subscription_item', price, quantity: 1, current_period_start: now, current_period_end: now + PERIOD_SECONDS[price.recurring.interval] }] },
    };
    this.subscriptions.set(subId, sub);
    session.status = 'complete';
    session.payment_status = 'paid';
    session.subscription = subId;
    session.url = null;
    const invoice = this.invoice(sub, 'paid');
    this.emit('customer.subscription.created', sub);
    this.emit('invoice.paid', invoice);
    this.emit('checkout.session.completed', this.publicSession(session));
    return session;
  }

  private invoice(sub: SimSubscription, status: 'paid' | 'open'): SimInvoice {
    const price = sub.items.data[0]!.price;
    const invoice: SimInvoice = {
      id: this.id('in'), object: 'invoice', created: this.now(), customer: sub.customer, status, currency: price.currency,
      amount_due: price.unit_amount, amount_paid: status === 'paid' ? price.unit_amount : 0,
      parent: { type: 'subscription_details', subscription_details: { subscription: sub.id, metadata: sub.metadata } }, livemode: false,
    };
    this.invoices.set(invoice.id, invoice);
    sub.latest_invoice = invoice.id;
    return invoice;
  }

  /** A renewal whose payment fails: the subscription goes past_due. */
  failPayment(subId: string): SimSubscription {
    const sub = this.subscriptions.get(subId);
    if (!sub) throw missing('subscription', subId);
    const previous = { status: sub.status };
    sub.status = 'past_due';
    const invoice = this.invoice(sub, 'open');
    this.emit('invoice.payment_failed', invoice);
    this.emit('customer.subscription.updated', sub, previous);
    return sub;
  }

  /** A renewal that is paid: a new period, and the subscription active again. */
  renew(subId: string): SimSubscription {
    const sub = this.subscriptions.get(subId);
    if (!sub) throw missing('subscription', subId);
    const item = sub.items.data[0]!;
    const previous = { status: sub.status, items: structuredClone(sub.items) };
    item.current_period_start = Math.max(this.now(), item.current_period_end);
    item.current_period_end = item.current_period_start + PERIOD_SECONDS[item.price.recurring.interval];
    sub.status = 'active';
    const invoice = this.invoice(sub, 'paid');
    this.emit('invoice.paid', invoice);
    this.emit('customer.subscription.updated', sub, previous);
    return sub;
  }

  /** Cancels at once (DELETE /v1/subscriptions/:id, or the portal's cancel button). */
  cancel(sub: SimSubscription): SimSubscription {
    if (sub.status === 'canceled') throw invalid(`No such subscription: '${sub.id}' is canceled already.`, undefined, 'resource_missing');
    const now = this.now();
    sub.status = 'canceled';
    sub.canceled_at = now;
    sub.ended_at = now;
    this.emit('customer.subscription.deleted', sub);
    return sub;
  }

  // ---- Events and webhook deliveries ---------------------------------------------------------------------------

  private emit(type: string, object: unknown, previous?: unknown): SimEvent {
    const event: SimEvent = {
      id: this.id('evt'), object: 'event', api_version: this.opts.apiVersion, created: this.now(), type,
      data: previous === undefined ? { object: structuredClone(object) } : { object: structuredClone(object), previous_attributes: previous },
      livemode: false, pending_webhooks: this.endpoints.length, request: { id: null, idempotency_key: null },
    };
    this.events.push(event);
    for (const endpoint of this.endpoints) this.deliver(event, endpoint);
    return event;
  }

  private deliver(event: SimEvent, endpoint: Endpoint): void {
    const delivery: Delivery = { eventId: event.id, type: event.type, url: endpoint.url, attempts: 0, status: undefined, delivered: false };
    this.deliveries.push(delivery);
    const payload = JSON.stringify(event, null, 2);
    const attempt = async (): Promise<void> => {
      if (!this.server) return;
      delivery.attempts++;
      try {
        const res = await fetch(endpoint.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signPayload(payload, endpoint.secret), 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
          body: payload,
          signal: AbortSignal.timeout(10_000),
        });
        delivery.status = res.status;
        await res.arrayBuffer();
        if (res.ok) {
          delivery.delivered = true;
          return;
        }
      } catch {
        delivery.status = undefined;
      }
      if (delivery.attempts >= this.opts.maxDeliveryAttempts || !this.server) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.track(attempt());
      }, this.opts.retryBaseMs * 2 ** (delivery.attempts - 1));
      this.timers.add(timer);
    };
    if (this.deliveriesPaused) this.heldDeliveries.push(() => this.track(attempt()));
    else this.track(attempt());
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  // ---- Pages people click, and controls for tests and demos ------------------------------------------------------

  private page(res: ServerResponse, method: string, url: URL, raw: string): void {
    const [kind, id, action] = url.pathname.split('/').filter(Boolean);
    if (kind === 'checkout' && id) {
      const session = this.sessions.get(id);
      if (!session) return this.html(res, 404, 'Not found', '<h1>No such checkout session</h1>');
      if (session.status === 'expired') return this.html(res, 410, 'Expired', '<h1>This checkout expired</h1><p>A newer checkout replaced it: start again from the app.</p>');
      if (method === 'POST' && action === 'pay') {
        if (session.status === 'open') this.completeCheckout(id);
        res.writeHead(303, { location: session.success_url.replace('{CHECKOUT_SESSION_ID}', id) });
        return void res.end();
      }
      const price = this.prices.get(session.price)!;
      if (session.status !== 'open') return this.html(res, 200, 'Paid', `<h1>Paid</h1><p>Subscription ${escapeHtml(session.subscription ?? '')} is active.</p>`);
      return this.html(res, 200, 'Checkout', `<h1>Subscribe: ${escapeHtml(price.nickname ?? price.id)}</h1>
<p>${(price.unit_amount / 100).toFixed(2)} ${escapeHtml(price.currency.toUpperCase())} per ${price.recurring.interval}. Nothing is charged: this is a simulation.</p>
<form method="post" action="/checkout/${escapeHtml(id)}/pay"><button type="submit">Pay</button></form>
${session.cancel_url ? `<p><a href="${escapeHtml(session.cancel_url)}">Cancel</a></p>` : ''}
<p><small>Or: <code>curl -X POST ${escapeHtml(this.url)}/checkout/${escapeHtml(id)}/pay</code></small></p>`);
    }
    if (kind === 'portal' && id) {
      const session = this.portalSessions.get(id);
      if (!session) return this.html(res, 404, 'Not found', '<h1>No such portal session</h1>');
      const subs = [...this.subscriptions.values()].filter((s) => s.customer === session.customer && s.status !== 'canceled');
      if (method === 'POST' && action === 'cancel') {
        const subId = new URLSearchParams(raw).get('subscription') ?? '';
        const sub = subs.find((s) => s.id === subId);
        if (sub) this.cancel(sub);
        res.writeHead(303, { location: session.return_url ?? `/portal/${id}` });
        return void res.end();
      }
      const list = subs.map((s) => `<li>${escapeHtml(s.items.data[0]!.price.nickname ?? s.items.data[0]!.price.id)}: ${s.status}
<form method="post" action="/portal/${escapeHtml(id)}/cancel" style="display:inline"><input type="hidden" name="subscription" value="${escapeHtml(s.id)}"><button type="submit">Cancel now</button></form></li>`).join('');
      return this.html(res, 200, 'Billing', `<h1>Your subscriptions</h1>${list ? `<ul>${list}</ul>` : '<p>None.</p>'}
<p><small>Or: <code>curl -X POST -d subscription=SUB_ID ${escapeHtml(this.url)}/portal/${escapeHtml(id)}/cancel</code></small></p>`);
    }
    if (method === 'GET' && url.pathname === '/') {
      return this.html(res, 200, 'Simulated Stripe', `<h1>Simulated Stripe</h1><p>API at ${escapeHtml(this.url)}/v1. Controls: POST /_sim/subscriptions/:id/{fail-payment,renew,cancel}, GET /_sim/deliveries.</p>`);
    }
    this.json(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${url.pathname}).` } });
  }

  private control(res: ServerResponse, method: string, url: URL, raw: string): void {
    const parts = url.pathname.split('/').filter(Boolean).slice(1);
    if (method === 'GET' && parts[0] === 'deliveries') return this.json(res, 200, this.deliveries);
    if (method === 'POST' && parts[0] === 'webhooks') {
      const body = JSON.parse(raw || '{}') as { url?: unknown; secret?: unknown };
      if (typeof body.url !== 'string' || typeof body.secret !== 'string') throw invalid('Send {"url": "...", "secret": "whsec_..."}.');
      this.addWebhook(body.url, body.secret);
      return this.json(res, 200, { added: body.url });
    }
    if (method === 'POST' && parts[0] === 'checkout' && parts[1] && parts[2] === 'complete') return this.json(res, 200, this.publicSession(this.completeCheckout(parts[1])));
    if (method === 'POST' && parts[0] === 'subscriptions' && parts[1]) {
      const sub = this.subscriptions.get(parts[1]);
      if (!sub) throw missing('subscription', parts[1]);
      const actions: Record<string, () => SimSubscription> = {
        'fail-payment': () => this.failPayment(sub.id),
        renew: () => this.renew(sub.id),
        cancel: () => this.cancel(sub),
      };
      const act = parts[2] && actions[parts[2]];
      if (act) return this.json(res, 200, act());
    }
    this.json(res, 404, { error: { type: 'invalid_request_error', message: `No simulator control ${method} ${url.pathname}: see GET /` } });
  }
}

export type { SubscriptionStatus };
