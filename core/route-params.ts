// Schemas of route parameters the market routes share, refused with the codes and messages those routes always gave.
import { z } from 'zod';
import { TickgateError, type AnyErrorCode } from './errors.js';
import type { SymbolsService } from './symbol-registry.js';

/**
 * A path's symbol: parsed to the served symbol, or refused with the registry's own code, message and hint
 * (TG_ERR_INVALID_SYMBOL, TG_ERR_UNKNOWN_SYMBOL, TG_ERR_SYMBOLS_UNAVAILABLE). In `schema.params`, it is checked
 * before the query: a bad symbol is reported before a bad parameter.
 */
export function servedSymbol(symbols: SymbolsService) {
  return z.string().transform((raw, ctx) => {
    try {
      return symbols.validate(raw).symbol;
    } catch (err) {
      if (!(err instanceof TickgateError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message, params: { code: err.code, hint: err.hint } });
      return z.NEVER;
    }
  }).meta({ description: 'A symbol this server serves (GET /api/v1/market/symbols lists them)', examples: ['BTCUSDT'] });
}

/**
 * A query parameter that is an integer from 1 to `max` (digits only), `dflt` when absent; anything else
 * TG_ERR_INVALID_ARGUMENT "<name> must be an integer from 1 to <max>". A query value is a string: the metadata
 * tells the document what it must hold.
 */
export function countParam(name: string, dflt: number, max: number) {
  const message = `${name} must be an integer from 1 to ${max}`;
  return z.string()
    .refine((raw) => /^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= max, { message, params: { code: 'TG_ERR_INVALID_ARGUMENT' } })
    .transform(Number)
    .default(dflt)
    .meta({ type: 'integer', minimum: 1, maximum: max, description: `From 1 to ${max}; default ${dflt}` });
}

/**
 * A query parameter that must be one of `values`, refused with `code` and `message` otherwise. Absent (or empty):
 * `fallback`, or, without one, refused the same way (the query object's metadata should then list it as required).
 */
export function choiceParam(values: readonly string[], code: AnyErrorCode, message: string, fallback?: string) {
  return z.string().optional()
    .transform((raw, ctx) => {
      if ((raw === undefined || raw === '') && fallback !== undefined) return fallback;
      if (raw !== undefined && values.includes(raw)) return raw;
      ctx.addIssue({ code: 'custom', message, params: { code } });
      return z.NEVER;
    })
    .meta({ type: 'string', enum: [...values], ...(fallback === undefined ? {} : { description: `Default ${fallback}` }) });
}
