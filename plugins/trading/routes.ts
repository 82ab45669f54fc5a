// The paper-trading REST API: orders, fills, the portfolio and its reset, a symbol's order rules.
import { z } from 'zod';
import type { AcceptorApi, RouteRequest } from '../../core/plugin-api.js';
import { validateBody } from '../../core/validation.js';
import { parseNewOrder, rulesView } from './order-rules.js';
import { fillView, orderView, type OrderService } from './order-service.js';
import type { Portfolios } from './portfolio.js';
import type { TradingStore } from './trading-store.js';
import { OPEN_STATUSES } from './ledger.js';
import { TRADING_ERRORS } from './errors.js';
import type { TradingConfig } from './config.js';

function ok(data: unknown, status = 200) {
  return { status, body: { success: true, data } };
}

const me = (req: RouteRequest): string => req.identity!.userId;

const STATUSES = ['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED', 'OPEN'] as const;

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
  const query = (req: RouteRequest) => Object.fromEntries(req.query);
  const outside = { outsideNamespace: true, auth: 'user' as const };

  api.route('post', '/api/v1/orders', async (req) => {
    const { order, created } = await orders.place(me(req), parseNewOrder(req.body));
    return ok({ order }, created ? 201 : 200);
  }, outside);

  api.route('get', '/api/v1/orders', async (req) => {
    const q = validateBody(orderQuery, query(req));
    const statuses = q.status === 'OPEN' ? OPEN_STATUSES : q.status ? [q.status] : undefined;
    const rows = await store.orders(me(req), { ...(statuses ? { statuses } : {}), ...(q.symbol ? { symbol: q.symbol } : {}), ...(q.before ? { beforeId: q.before } : {}), limit: q.limit });
    return ok({ orders: rows.map(orderView), next: rows.length === q.limit ? `?before=${rows.at(-1)!.id}` : null });
  }, outside);

  api.route('get', '/api/v1/orders/:id', async (req) => {
    const id = Number(req.params.id);
    const row = Number.isSafeInteger(id) && id > 0 ? await store.order(me(req), id) : undefined;
    if (!row) throw TRADING_ERRORS.error('TG_ERR_ORDER_NOT_FOUND');
    return ok({ order: orderView(row) });
  }, outside);

  api.route('del', '/api/v1/orders/:id', async (req) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw TRADING_ERRORS.error('TG_ERR_ORDER_NOT_FOUND');
    return ok({ order: await orders.cancel(me(req), { id }) });
  }, outside);

  api.route('get', '/api/v1/orders/rules/:symbol', (req) => ok({ rules: rulesView(api.symbols.validate(req.params.symbol!.toUpperCase())) }), { outsideNamespace: true });

  api.route('get', '/api/v1/fills', async (req) => {
    const q = validateBody(fillQuery, query(req));
    const rows = await store.fills(me(req), { ...(q.symbol ? { symbol: q.symbol } : {}), ...(q.orderId ? { orderId: q.orderId } : {}), ...(q.before ? { beforeId: q.before } : {}), limit: q.limit });
    return ok({ fills: rows.map(fillView), next: rows.length === q.limit ? `?before=${rows.at(-1)!.id}` : null });
  }, outside);

  api.route('get', '/api/v1/portfolio', async (req) => ok(await portfolios.view(me(req))), outside);

  api.route('post', '/api/v1/portfolio/reset', async (req) => {
    await orders.reset(me(req));
    portfolios.touch(me(req));
    return ok(await portfolios.view(me(req)));
  }, outside);
}
