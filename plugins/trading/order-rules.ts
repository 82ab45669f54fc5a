// A new order's input checked: its fields, then the exchange's filters of its symbol (tick size, step size, notional).
import { z } from 'zod';
import { validateBody } from '../../core/validation.js';
import { TickgateError } from '../../core/errors.js';
import type { SymbolFilters, SymbolInfo } from '../../core/symbol-registry.js';
import { D, type Dec, type OrderType, type Side, type TimeInForce } from './ledger.js';
import { TRADING_ERRORS } from './errors.js';

/** At most 8 decimal places, as Binance's amounts: price × quantity then fits the 18 the database keeps, exactly. */
export const DECIMAL_RE = /^\d{1,20}(\.\d{1,8})?$/;
const decimal = z.union([z.string(), z.number()])
  .transform((v) => (typeof v === 'number' ? (Number.isFinite(v) ? new D(v).toFixed() : 'NaN') : v.trim()))
  .pipe(z.string().regex(DECIMAL_RE, 'a positive decimal number, e.g. 0.001 (at most 8 decimal places)'))
  .transform((v) => new D(v))
  .refine((d) => d.gt(0), 'must be greater than 0');

/** Binance's newClientOrderId: letters, digits and `.:/_-`, at most 36 characters. */
export const CLIENT_ORDER_ID_RE = /^[a-zA-Z0-9.:/_-]{1,36}$/;

export const newOrderSchema = z.object({
  symbol: z.string().regex(/^[A-Za-z0-9]{2,20}$/, 'a symbol such as BTCUSDT').transform((s) => s.toUpperCase()),
  side: z.enum(['BUY', 'SELL'], { message: 'BUY or SELL' }),
  type: z.enum(['MARKET', 'LIMIT'], { message: 'MARKET or LIMIT' }),
  quantity: decimal,
  price: decimal.optional(),
  timeInForce: z.enum(['GTC', 'IOC'], { message: 'GTC or IOC' }).optional(),
  clientOrderId: z.string().regex(CLIENT_ORDER_ID_RE, 'letters, digits and . : / _ - (at most 36)').optional(),
}).strict();

export interface NewOrder {
  symbol: string;
  side: Side;
  type: OrderType;
  quantity: Dec;
  price: Dec | undefined;
  timeInForce: TimeInForce | null;
  clientOrderId: string | undefined;
}

/** An order whose fields passed newOrderSchema, checked for what its type must and must not carry. */
export function orderInput(o: z.output<typeof newOrderSchema>): NewOrder {
  return checkShape({ ...o, price: o.price, timeInForce: o.timeInForce ?? null, clientOrderId: o.clientOrderId });
}

/** The body of POST /api/v1/orders, checked; TG_ERR_VALIDATION names each bad field. */
export function parseNewOrder(body: unknown): NewOrder {
  return orderInput(validateBody(newOrderSchema, body));
}

/** What a limit and a market order must and must not carry. */
export function checkShape(o: NewOrder): NewOrder {
  if (o.type === 'LIMIT') {
    if (!o.price) throw fieldError('price', 'a LIMIT order needs a price');
    return { ...o, timeInForce: o.timeInForce ?? 'GTC' };
  }
  if (o.price) throw fieldError('price', 'a MARKET order takes no price: it fills at the book\'s prices (use LIMIT to name one)');
  if (o.timeInForce) throw fieldError('timeInForce', 'a MARKET order takes no timeInForce: it fills at once as far as the book allows');
  return { ...o, timeInForce: null };
}

function fieldError(field: string, message: string): TickgateError {
  const err = new TickgateError('TG_ERR_VALIDATION', `Invalid request: ${field}: ${message}`);
  err.details = [{ field, message }];
  return err;
}

function multipleOf(value: Dec, step: Dec, from: Dec): boolean {
  return step.isZero() || value.sub(from).mod(step).isZero();
}

/** The symbol's filters as exact decimals. */
export function filtersOf(f: SymbolFilters): { tick: Dec; minPrice: Dec; maxPrice: Dec; step: Dec; minQty: Dec; maxQty: Dec; minNotional: Dec; maxNotional: Dec | undefined } {
  return {
    tick: new D(f.tickSize), minPrice: new D(f.minPrice), maxPrice: new D(f.maxPrice),
    step: new D(f.stepSize), minQty: new D(f.minQty), maxQty: new D(f.maxQty),
    minNotional: new D(f.minNotional), maxNotional: Number.isFinite(f.maxNotional) ? new D(f.maxNotional) : undefined,
  };
}

/**
 * Checks the order against its symbol's filters; throws the coded refusal. A market order's notional is checked
 * once its fills are known (`checkNotional` with their average price).
 */
export function checkFilters(o: NewOrder, info: SymbolInfo): void {
  const f = filtersOf(info.filters);
  const s = info.symbol;
  if (o.price) {
    if (o.price.lt(f.minPrice) || (f.maxPrice.gt(0) && o.price.gt(f.maxPrice))) {
      throw TRADING_ERRORS.error('TG_ERR_ORDER_PRICE_FILTER', `Price ${o.price.toFixed()} is outside ${s}'s range ${f.minPrice.toFixed()} to ${f.maxPrice.gt(0) ? f.maxPrice.toFixed() : 'any'}`);
    }
    if (!multipleOf(o.price, f.tick, f.minPrice.gt(0) ? f.minPrice : new D(0))) {
      const down = o.price.div(f.tick).floor().mul(f.tick);
      throw TRADING_ERRORS.error('TG_ERR_ORDER_PRICE_FILTER', `Price ${o.price.toFixed()} is not a multiple of ${s}'s tick size ${f.tick.toFixed()}: use ${down.toFixed()} or ${down.add(f.tick).toFixed()}`);
    }
  }
  if (o.quantity.lt(f.minQty) || (f.maxQty.gt(0) && o.quantity.gt(f.maxQty))) {
    throw TRADING_ERRORS.error('TG_ERR_ORDER_LOT_SIZE', `Quantity ${o.quantity.toFixed()} is outside ${s}'s range ${f.minQty.toFixed()} to ${f.maxQty.toFixed()}`);
  }
  if (!multipleOf(o.quantity, f.step, f.minQty.gt(0) ? f.minQty : new D(0))) {
    const down = o.quantity.div(f.step).floor().mul(f.step);
    throw TRADING_ERRORS.error('TG_ERR_ORDER_LOT_SIZE', `Quantity ${o.quantity.toFixed()} is not a multiple of ${s}'s step size ${f.step.toFixed()}: use ${down.toFixed()} or ${down.add(f.step).toFixed()}`);
  }
  if (o.price) checkNotional(o.quantity, o.price, info);
}

/** price × quantity within the symbol's notional range; for a market order, price is its fills' average. */
export function checkNotional(quantity: Dec, price: Dec, info: SymbolInfo): void {
  const f = filtersOf(info.filters);
  const notional = quantity.mul(price);
  if (notional.lt(f.minNotional)) {
    throw TRADING_ERRORS.error('TG_ERR_ORDER_MIN_NOTIONAL', `Price × quantity is ${notional.toDecimalPlaces(8).toFixed()} ${info.quoteAsset}; ${info.symbol} needs at least ${f.minNotional.toFixed()} ${info.quoteAsset}`);
  }
  if (f.maxNotional && notional.gt(f.maxNotional)) {
    throw TRADING_ERRORS.error('TG_ERR_ORDER_MIN_NOTIONAL', `Price × quantity is ${notional.toDecimalPlaces(8).toFixed()} ${info.quoteAsset}; ${info.symbol} allows at most ${f.maxNotional.toFixed()} ${info.quoteAsset}`);
  }
}

/** The symbol's rules as GET /api/v1/orders/rules/:symbol shows them. */
export function rulesView(info: SymbolInfo): Record<string, unknown> {
  const f = filtersOf(info.filters);
  return {
    symbol: info.symbol, baseAsset: info.baseAsset, quoteAsset: info.quoteAsset, status: info.status,
    tickSize: f.tick.toFixed(), minPrice: f.minPrice.toFixed(), maxPrice: f.maxPrice.toFixed(),
    stepSize: f.step.toFixed(), minQty: f.minQty.toFixed(), maxQty: f.maxQty.toFixed(),
    minNotional: f.minNotional.toFixed(), maxNotional: f.maxNotional?.toFixed() ?? null,
  };
}
