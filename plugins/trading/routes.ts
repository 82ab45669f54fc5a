// The paper-trading REST API: orders, fills, the portfolio and its reset, a symbol's order rules.
import { z } from 'zod';
import type { AcceptorApi, RouteRequest } from '../../core/plugin-api.js';
import { okAnswer } from '../../core/openapi.js';
import { newOrderSchema, orderInput, rulesView } from './order-rules.js';
import { fillView, orderView, type OrderService } from './order-service.js';
import type { Portfolios } from './portfolio.js';
import type { TradingStore } from './trading-store.js';
import { OPEN_STATUSES } from './ledger.js';
import { TRADING_ERRORS } from './errors.js';
import type { TradingConfig } from './config.js';
import { fillAnswer, nextPage, orderAnswer, portfolioAnswer, rulesAnswer } from './answers.js';

function ok(data: unknown, status = 200) {
  return { status, body: { success: true, data } };
}

const me = (req: RouteRequest<unknown, unknown, unknown>): string => req.identity!.userId;

const STATUSES = ['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED', 'OPEN'] as const;

/** An order's id in a path: a malformed one is no order of the caller's (404), as an unknown one. */
const orderId = z.object({
  id: z.string().transform(Number).refine((id) => Number.isSafeInteger(id) && id > 0, {
    message: TRADING_ERRORS.codes.TG_ERR_ORDER_NOT_FOUND.message, params: { code: 'TG_ERR_ORDER_NOT_FOUND' },
  }).meta({ description: 'The order\'s id' }),
});
const TAGS = ['trading'];
const orderOne = okAnswer(z.object({ order: orderAnswer }));

export function tradingRoutes(api: AcceptorApi<TradingConfig>, orders: OrderService, store: TradingStore, portfolios: Portfolios): void {
  const max = api.config.maxPageSize;
  const page = {
    limit: z.coerce.number().int().min(1).max(max).default(Math.min(100, max)),
    before: z.coerce.number().int().min(1).optional(),
  };
  const orderQuery = z.object({
    ...page,
    status: z.enum(STATUSES, { message: `one of ${STATUSES.join(', ')} (OPEN: NEW and PARTIALLY_FILLED)` }).optional(),
    symbol: z.string().regex(/^[A-Za-z0-9]{2,20}$/).transform((s) => s.toUpperCase()).optional(),
  }).strict();
  const fillQuery = z.object({
    ...page,
    symbol: z.string().regex(/^[A-Za-z0-9]{2,20}$/).transform((s) => s.toUpperCase()).optional(),
    orderId: z.coerce.number().int().min(1).optional(),
  }).strict();
  const outside = { outsideNamespace: true, auth: 'user' as const };

  api.route('post', '/api/v1/orders', async (req) => {
    const { order, created } = await orders.place(me(req), orderInput(req.body));
    return ok({ order }, created ? 201 : 200);
  }, {
    ...outside,
    schema: {
      tags: TAGS, summary: 'Places a paper order, filled against the live order book (a repeated clientOrderId answers the first order, 200)',
      body: newOrderSchema, response: { 201: orderOne, 200: orderOne },
    },
  });

  api.route('get', '/api/v1/orders', async (req) => {
    const q = req.query;
    const statuses = q.status === 'OPEN' ? OPEN_STATUSES : q.status ? [q.status] : undefined;
    const rows = await store.orders(me(req), { ...(statuses ? { statuses } : {}), ...(q.symbol ? { symbol: q.symbol } : {}), ...(q.before ? { beforeId: q.before } : {}), limit: q.limit });
    return ok({ orders: rows.map(orderView), next: rows.length === q.limit ? `?before=${rows.at(-1)!.id}` : null });
  }, {
    ...outside,
    schema: {
      tags: TAGS, summary: 'Your orders, newest first, a page at a time (status OPEN: NEW and PARTIALLY_FILLED)', query: orderQuery,
      response: { 200: okAnswer(z.object({ orders: z.array(orderAnswer), next: nextPage })) },
    },
  });

  api.route('get', '/api/v1/orders/:id', async (req) => {
    const row = await store.order(me(req), req.params.id);
    if (!row) throw TRADING_ERRORS.error('TG_ERR_ORDER_NOT_FOUND');
    return ok({ order: orderView(row) });
  }, { ...outside, schema: { tags: TAGS, summary: 'One of your orders', params: orderId, response: { 200: orderOne } } });

  api.route('del', '/api/v1/orders/:id', async (req) => ok({ order: await orders.cancel(me(req), { id: req.params.id }) }), {
    ...outside, schema: { tags: TAGS, summary: 'Cancels one of your open orders', params: orderId, response: { 200: orderOne } },
  });

  api.route('get', '/api/v1/orders/rules/:symbol', (req) => ok({ rules: rulesView(api.symbols.validate(req.params.symbol.toUpperCase())) }), {
    outsideNamespace: true,
    schema: {
      tags: TAGS, summary: 'A symbol\'s order rules: tick size, step size, quantity and notional limits (from the exchange)',
      params: z.object({ symbol: z.string().meta({ examples: ['BTCUSDT'] }) }), response: { 200: okAnswer(z.object({ rules: rulesAnswer })) },
    },
  });

  api.route('get', '/api/v1/fills', async (req) => {
    const q = req.query;
    const rows = await store.fills(me(req), { ...(q.symbol ? { symbol: q.symbol } : {}), ...(q.orderId ? { orderId: q.orderId } : {}), ...(q.before ? { beforeId: q.before } : {}), limit: q.limit });
    return ok({ fills: rows.map(fillView), next: rows.length === q.limit ? `?before=${rows.at(-1)!.id}` : null });
  }, {
    ...outside,
    schema: {
      tags: TAGS, summary: 'Your fills, newest first, a page at a time', query: fillQuery,
      response: { 200: okAnswer(z.object({ fills: z.array(fillAnswer), next: nextPage })) },
    },
  });

  api.route('get', '/api/v1/portfolio', async (req) => ok(await portfolios.view(me(req))), {
    ...outside, schema: { tags: TAGS, summary: 'Your balances and positions, valued at live prices', response: { 200: okAnswer(portfolioAnswer) } },
  });

  api.route('post', '/api/v1/portfolio/reset', async (req) => {
    await orders.reset(me(req));
    portfolios.touch(me(req));
    return ok(await portfolios.view(me(req)));
  }, {
    ...outside, schema: { tags: TAGS, summary: 'Cancels your open orders and starts your account again from the starting balances', response: { 200: okAnswer(portfolioAnswer) } },
  });
}
