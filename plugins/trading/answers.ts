// The paper-trading answers as the OpenAPI document shows them: an order, a fill, a portfolio, a symbol's rules.
import { z } from 'zod';

const decimal = z.string().meta({ description: 'A decimal, as a string (exact)' });

export const orderAnswer = z.object({
  id: z.number().int(),
  clientOrderId: z.string(),
  symbol: z.string(),
  side: z.enum(['BUY', 'SELL']),
  type: z.enum(['MARKET', 'LIMIT']),
  timeInForce: z.enum(['GTC', 'IOC']).nullable(),
  price: decimal.nullable(),
  quantity: decimal,
  filledQuantity: decimal,
  averagePrice: decimal.nullable(),
  quoteQuantity: decimal,
  fee: decimal,
  feeAsset: z.string(),
  status: z.enum(['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED']),
  reason: z.object({ code: z.string(), message: z.string() }).nullable().meta({ description: 'Why a REJECTED order was refused' }),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const fillAnswer = z.object({
  id: z.number().int(),
  orderId: z.number().int(),
  symbol: z.string(),
  side: z.enum(['BUY', 'SELL']),
  price: decimal,
  quantity: decimal,
  quoteQuantity: decimal,
  fee: decimal,
  feeAsset: z.string(),
  liquidity: z.enum(['maker', 'taker']),
  time: z.string(),
});

export const portfolioAnswer = z.object({
  balances: z.record(z.string(), z.object({ free: decimal, locked: decimal })),
  positions: z.array(z.object({
    symbol: z.string(), quantity: decimal, averagePrice: decimal, markPrice: decimal.nullable(), unrealizedPnl: decimal.nullable(), realizedPnl: decimal,
  })),
  equity: decimal.meta({ description: 'Every balance valued in valuationAsset at live prices' }),
  valuationAsset: z.string(),
  unvalued: z.array(z.string()).meta({ description: 'Assets held that have no live price in the valuation asset: not counted in equity' }),
  time: z.string(),
});

export const rulesAnswer = z.object({
  symbol: z.string(), baseAsset: z.string(), quoteAsset: z.string(), status: z.string(),
  tickSize: decimal, minPrice: decimal, maxPrice: decimal, stepSize: decimal, minQty: decimal, maxQty: decimal,
  minNotional: decimal, maxNotional: decimal.nullable(),
});

/** A page of a list: `next` is the query of the following page, or null on the last. */
export const nextPage = z.string().nullable().meta({ description: 'The query of the next (older) page, e.g. ?before=123; null on the last' });
