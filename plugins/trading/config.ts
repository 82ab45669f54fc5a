// The trading plugin's configuration: starting balances, fees, limits and how resting orders fill.
import { z } from 'zod';

const ASSET_RE = /^[A-Z0-9]{1,20}$/;
const amount = z.union([z.number(), z.string()]).transform((v) => String(v)).pipe(z.string().regex(/^\d{1,20}(\.\d{1,18})?$/, 'a non-negative decimal amount, e.g. 10000 or 0.5'));
const rate = z.number().min(0).max(0.1);

export const configSchema = z.object({
  /** What a new (or reset) paper account holds, by asset. */
  startingBalances: z.record(z.string().regex(ASSET_RE, 'an asset name such as USDT'), amount).default({ USDT: '10000' }),
  /** Fee rates: maker (a resting limit order filled by a trade), taker (an order filled against the book at once). */
  fees: z.object({ maker: rate.default(0.001), taker: rate.default(0.001) }).strict().default({ maker: 0.001, taker: 0.001 }),
  /** The asset equity is counted in: other assets are valued at the live price of <ASSET><valuationAsset>. */
  valuationAsset: z.string().regex(ASSET_RE).default('USDT'),
  /** Open (resting) orders one account may hold. */
  maxOpenOrdersPerUser: z.number().int().min(1).max(10_000).default(200),
  /** `cross`: a resting limit order fills on a trade beyond its price; `touch`: also on a trade at its price. */
  limitFill: z.enum(['cross', 'touch']).default('cross'),
  /** Least time between two portfolio: frames of one user. */
  portfolioIntervalMs: z.number().int().min(100).max(60_000).default(1000),
  /** How long a new order waits for the symbol's book to become current before it is refused (TG_ERR_BOOK_STALE). */
  bookWaitMs: z.number().int().min(0).max(30_000).default(5000),
  /** How long a symbol's book and trades stay open in its shard after the last order or resting order needs them. */
  marketIdleMs: z.number().int().min(1000).default(300_000),
  /** Largest page of GET /api/v1/orders and /api/v1/fills. */
  maxPageSize: z.number().int().min(1).max(1000).default(500),
  /** The Binance-compatible signed endpoints (/api/v3/order, account, myTrades …). */
  binanceApi: z.boolean().default(true),
  /** Largest recvWindow a signed Binance-style request may name (Binance: 60000). */
  maxRecvWindowMs: z.number().int().min(1000).max(600_000).default(60_000),
}).strict();

export type TradingConfig = z.infer<typeof configSchema>;
