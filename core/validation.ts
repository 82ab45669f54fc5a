// Request bodies checked against a schema: the value, or TG_ERR_VALIDATION naming each bad field and what it needs.
import type { ConfigSchema } from './plugin-api.js';
import { TickgateError, type FieldError } from './errors.js';

/**
 * Validates a route's body (or query) with a zod schema, or anything with zod's `safeParse` shape. Throws a
 * TickgateError TG_ERR_VALIDATION (400) whose `details` list each field ("email", "items.0.price") and its message.
 */
export function validateBody<T>(schema: ConfigSchema<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const details: FieldError[] = parsed.error.issues.map((i) => ({ field: i.path.length ? i.path.map(String).join('.') : '(body)', message: i.message }));
  const summary = details.slice(0, 5).map((d) => `${d.field}: ${d.message}`).join('; ');
  const err = new TickgateError('TG_ERR_VALIDATION', `Invalid request: ${summary}${details.length > 5 ? '; …' : ''}`);
  err.details = details;
  throw err;
}
