// Request input checked against a schema: the value, or TG_ERR_VALIDATION naming each bad field and what it needs.
import type { ConfigSchema } from './plugin-api.js';
import { TickgateError, type AnyErrorCode, type FieldError } from './errors.js';

/** An issue as zod reports it; `params` is set by a refinement that names its own error code. */
interface Issue {
  path: readonly PropertyKey[];
  message: string;
  params?: { code?: unknown; hint?: unknown };
}

/**
 * Validates a value with a zod schema, or anything with zod's `safeParse` shape. Throws a TickgateError
 * TG_ERR_VALIDATION (400) whose `details` list each field ("email", "items.0.price") and its message; `root` names
 * an issue of the value as a whole. An issue whose `params.code` is a string (a refinement declared with
 * `{ params: { code } }`) is answered with that code and its message instead, the first such issue before any other:
 * an API that answered a bad parameter with its own code keeps it.
 */
export function validateInput<T>(schema: ConfigSchema<T>, value: unknown, root: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues as readonly Issue[];
  const coded = issues.find((i) => typeof i.params?.code === 'string');
  if (coded) {
    const hint = coded.params!.hint;
    throw new TickgateError(coded.params!.code as AnyErrorCode, coded.message, typeof hint === 'string' ? hint : undefined);
  }
  const details: FieldError[] = issues.map((i) => ({ field: i.path.length ? i.path.map(String).join('.') : root, message: i.message }));
  const summary = details.slice(0, 5).map((d) => `${d.field}: ${d.message}`).join('; ');
  const err = new TickgateError('TG_ERR_VALIDATION', `Invalid request: ${summary}${details.length > 5 ? '; …' : ''}`);
  err.details = details;
  throw err;
}

/** Validates a route's body (or query) by hand, as `validateInput`; a route's `schema` does the same before the handler. */
export function validateBody<T>(schema: ConfigSchema<T>, body: unknown): T {
  return validateInput(schema, body, '(body)');
}
