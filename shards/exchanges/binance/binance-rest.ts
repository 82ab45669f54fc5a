// Binance REST over undici: JSON GETs with timeouts, Binance error codes, and Retry-After on 429/418.
import { Pool } from 'undici';
import type { Logger } from '../../../core/logger.js';
import type { SymbolFilters, SymbolInfo } from '../../../core/symbol-registry.js';

export class BinanceRestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly binanceCode: number | undefined,
    /** Milliseconds the exchange asked us to wait (429/418 Retry-After), if any. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    this.name = 'BinanceRestError';
  }
}

interface ExchangeSymbol {
  symbol: string;
  status: string;
  baseAsset: string;
  quoteAsset: string;
  filters?: Array<Record<string, unknown>>;
}

/** Decimal places of a step as Binance writes it: "0.01000000" → 2, "1.00000000" → 0. */
export function decimalsOf(step: string): number {
  const dot = step.indexOf('.');
  if (dot < 0) return 0;
  const frac = step.slice(dot + 1).replace(/0+$/, '');
  return frac.length;
}

/** PRICE_FILTER, LOT_SIZE and NOTIONAL (or the older MIN_NOTIONAL) as numbers; a filter not stated does not limit. */
export function symbolFilters(filters: Array<Record<string, unknown>> = []): SymbolFilters {
  const byType = new Map(filters.map((f) => [String(f.filterType), f]));
  const num = (f: Record<string, unknown> | undefined, key: string, dflt: number) => {
    const n = Number(f?.[key]);
    return f && f[key] !== undefined && Number.isFinite(n) ? n : dflt;
  };
  const price = byType.get('PRICE_FILTER');
  const lot = byType.get('LOT_SIZE');
  const notional = byType.get('NOTIONAL') ?? byType.get('MIN_NOTIONAL');
  const maxPrice = num(price, 'maxPrice', 0);
  const maxQty = num(lot, 'maxQty', 0);
  const maxNotional = num(notional, 'maxNotional', 0);
  return {
    tickSize: num(price, 'tickSize', 0),
    minPrice: num(price, 'minPrice', 0),
    // Binance writes 0 for "no limit".
    maxPrice: maxPrice > 0 ? maxPrice : Infinity,
    stepSize: num(lot, 'stepSize', 0),
    minQty: num(lot, 'minQty', 0),
    maxQty: maxQty > 0 ? maxQty : Infinity,
    minNotional: num(notional, 'minNotional', 0),
    maxNotional: maxNotional > 0 ? maxNotional : Infinity,
    priceDecimals: typeof price?.tickSize === 'string' ? decimalsOf(price.tickSize) : 8,
    quantityDecimals: typeof lot?.stepSize === 'string' ? decimalsOf(lot.stepSize) : 8,
  };
}

export interface BinanceRestOptions {
  baseUrl: string;
  timeoutMs: number;
  /** Request weight per minute (as the exchange counts it for this IP) above which optional requests are not sent. */
  optionalWeightBudget: number;
  log: Logger;
}

export interface RequestOptions {
  /** The endpoint's request weight, for the budget check. */
  weight?: number;
  /** Optional requests (conveniences such as a channel's first value) give way to keep weight for required ones. */
  optional?: boolean;
  /** A weight budget of its own for this kind of request (e.g. order-book snapshots), checked like `optional`. */
  budget?: number;
}

export class BinanceRest {
  private readonly pool: Pool;
  private readonly basePath: string;
  /** Request weight used in the minute of the last answer, as reported by X-MBX-USED-WEIGHT-1M. */
  private reportedWeight = 0;
  private reportedMinute = 0;
  /** Weight of requests sent but not answered yet, counted against the budget. */
  private pendingWeight = 0;
  private bannedUntil = 0;

  constructor(private readonly opts: BinanceRestOptions) {
    const url = new URL(opts.baseUrl);
    this.basePath = url.pathname.replace(/\/$/, '');
    this.pool = new Pool(url.origin, {
      connections: 4,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connectTimeout: opts.timeoutMs,
    });
  }

  /** Weight used in the current minute; the exchange's counter restarts every minute. */
  get usedWeight(): number {
    return this.reportedMinute === Math.floor(Date.now() / 60_000) ? this.reportedWeight : 0;
  }

  async get<T>(path: string, query: Record<string, string | number | undefined> = {}, opts: RequestOptions = {}): Promise<T> {
    const now = Date.now();
    const wait = this.bannedUntil - now;
    if (wait > 0) throw new BinanceRestError(`exchange asked to wait ${wait} ms before the next request`, 429, -1003, wait);
    const weight = opts.weight ?? 1;
    const budget = opts.budget ?? (opts.optional ? this.opts.optionalWeightBudget : undefined);
    if (budget !== undefined && this.usedWeight + this.pendingWeight + weight > budget) {
      throw new BinanceRestError(`request deferred: ${this.usedWeight + this.pendingWeight} request weight already used this minute (budget ${budget})`, 429, undefined, 60_000 - (now % 60_000));
    }
    this.pendingWeight += weight;
    try {
      return await this.send<T>(path, query);
    } finally {
      this.pendingWeight -= weight;
    }
  }

  private async send<T>(path: string, query: Record<string, string | number | undefined>): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const fullPath = `${this.basePath}${path}${qs.size ? `?${qs}` : ''}`;
    const res = await this.pool.request({ method: 'GET', path: fullPath, headers: { accept: 'application/json' } });
    const used = Number(res.headers['x-mbx-used-weight-1m']);
    if (Number.isFinite(used)) {
      this.reportedWeight = used;
      this.reportedMinute = Math.floor(Date.now() / 60_000);
    }
    const text = await res.body.text();
    if (res.statusCode === 429 || res.statusCode === 418) {
      const retryAfterS = Number(res.headers['retry-after']);
      const retryAfterMs = Number.isFinite(retryAfterS) ? retryAfterS * 1000 : 60_000;
      this.bannedUntil = Date.now() + retryAfterMs;
      this.opts.log.warn({ status: res.statusCode, retryAfterMs, path }, 'exchange rate limit hit: pausing REST requests');
      throw new BinanceRestError(`exchange rate limit (HTTP ${res.statusCode})`, res.statusCode, -1003, retryAfterMs);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new BinanceRestError(`non-JSON answer from ${path} (HTTP ${res.statusCode})`, res.statusCode, undefined, undefined);
    }
    if (res.statusCode >= 400) {
      const b = body as { code?: number; msg?: string };
      throw new BinanceRestError(`${path}: ${b.msg ?? 'error'} (HTTP ${res.statusCode}, code ${b.code})`, res.statusCode, b.code, undefined);
    }
    return body as T;
  }

  async exchangeInfo(): Promise<SymbolInfo[]> {
    const info = await this.get<{ symbols?: ExchangeSymbol[] }>('/api/v3/exchangeInfo', {}, { weight: 20 });
    if (!Array.isArray(info.symbols)) throw new BinanceRestError('exchangeInfo has no symbols array', 200, undefined, undefined);
    return info.symbols.map((s) => ({ symbol: s.symbol, status: s.status, baseAsset: s.baseAsset, quoteAsset: s.quoteAsset, filters: symbolFilters(s.filters) }));
  }

  /** Raw kline rows: [openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, …]. */
  async klines(symbol: string, interval: string, limit: number, range: { startTime?: number; endTime?: number; optional?: boolean } = {}): Promise<unknown[][]> {
    const { startTime, endTime, optional = true } = range;
    const rows = await this.get<unknown>('/api/v3/klines', { symbol, interval, limit, startTime, endTime }, { weight: 2, optional });
    if (!Array.isArray(rows)) throw new BinanceRestError('klines answer is not an array', 200, undefined, undefined);
    return rows as unknown[][];
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
