// Pins the error-code table and close codes: clients depend on them, so they change only on purpose.
import t from 'tap';
import { ERRORS, CLOSE_CODES, errorData, TickgateError } from '../../core/errors.js';

t.test('error codes and their HTTP statuses are stable', async (t) => {
  const table = Object.fromEntries(Object.entries(ERRORS).map(([code, def]) => [code, def.status]));
  t.same(table, {
    TG_ERR_INVALID_JSON: 400,
    TG_ERR_BINARY_UNSUPPORTED: 400,
    TG_ERR_INVALID_MESSAGE: 400,
    TG_ERR_UNKNOWN_TYPE: 400,
    TG_ERR_INVALID_CHANNELS: 400,
    TG_ERR_INVALID_CHANNEL: 400,
    TG_ERR_UNKNOWN_CHANNEL_KIND: 400,
    TG_ERR_INVALID_SYMBOL: 400,
    TG_ERR_UNKNOWN_SYMBOL: 404,
    TG_ERR_SYMBOLS_UNAVAILABLE: 503,
    TG_ERR_INVALID_INTERVAL: 400,
    TG_ERR_INVALID_ARGUMENT: 400,
    TG_ERR_INVALID_RATE: 400,
    TG_ERR_AUTH_REQUIRED: 401,
    TG_ERR_FORBIDDEN: 403,
    TG_ERR_CHANNEL_LIMIT: 429,
    TG_ERR_TOO_MANY_IN_MESSAGE: 400,
    TG_ERR_NOT_SUBSCRIBED: 400,
    TG_ERR_MESSAGE_TOO_BIG: 413,
    TG_ERR_RATE_LIMITED: 429,
    TG_ERR_CHANNEL_FAILED: 500,
    TG_ERR_DATA_UNAVAILABLE: 503,
    TG_ERR_UPSTREAM_REJECTED: 502,
    TG_ERR_TOO_MANY_CONNECTIONS: 429,
    TG_ERR_ROUTE_TIMEOUT: 504,
    TG_ERR_UPGRADE_REQUIRED: 426,
    TG_ERR_NOT_FOUND: 404,
    TG_ERR_METHOD_NOT_ALLOWED: 405,
    TG_ERR_INTERNAL: 500,
    TG_ERR_SHUTTING_DOWN: 503,
    TG_ERR_SYMBOL_LIMIT: 503,
    TG_ERR_AUTH_UNAVAILABLE: 501,
    TG_ERR_VALIDATION: 400,
    TG_ERR_BODY_TOO_LARGE: 413,
    TG_ERR_TOKEN_INVALID: 401,
    TG_ERR_TOKEN_EXPIRED: 401,
    TG_ERR_USER_CONNECTION_LIMIT: 429,
    TG_ERR_REQUEST_LIMIT: 429,
    TG_ERR_BAD_REQUEST: 400,
    TG_ERR_WS_VERSION: 426,
    TG_ERR_ORIGIN_FORBIDDEN: 403,
  });
  t.same(CLOSE_CODES, { GOING_AWAY: 1001, MESSAGE_TOO_BIG: 1009, RATE_LIMITED: 4429, SLOW_CONSUMER: 4507 });
  t.equal(ERRORS.TG_ERR_AUTH_REQUIRED.message, 'Authentication required for this channel', 'the guide\'s text');
});

t.test('the built-in plugins\' error codes and their statuses are stable too', async (t) => {
  const { AUTH_ERRORS } = await import('../../plugins/auth/errors.js');
  const { USERS_ERRORS } = await import('../../plugins/users/errors.js');
  const statuses = (codes: Record<string, { status: number }>) => Object.fromEntries(Object.entries(codes).map(([code, def]) => [code, def.status]));
  t.same(statuses(USERS_ERRORS.codes), {
    TG_ERR_EMAIL_TAKEN: 409,
    TG_ERR_USER_NOT_FOUND: 404,
    TG_ERR_WRONG_PASSWORD: 403,
    TG_ERR_SELF_CHANGE: 409,
    TG_ERR_API_KEY_NOT_FOUND: 404,
    TG_ERR_API_KEY_LIMIT: 409,
    TG_ERR_TOO_MANY_ATTEMPTS: 429,
    TG_ERR_ACCOUNT_DISABLED: 403,
  });
  t.same(statuses(AUTH_ERRORS.codes), {
    TG_ERR_INVALID_CREDENTIALS: 401,
    TG_ERR_REFRESH_INVALID: 401,
    TG_ERR_REFRESH_REUSED: 401,
    TG_ERR_SESSION_REVOKED: 401,
    TG_ERR_REGISTRATION_CLOSED: 403,
  });
  const { PAYMENTS_ERRORS } = await import('../../plugins/payments/errors.js');
  t.same(statuses(PAYMENTS_ERRORS.codes), {
    TG_ERR_PLAN_REQUIRED: 403,
    TG_ERR_PAYMENTS_OFF: 503,
    TG_ERR_UNKNOWN_PLAN: 400,
    TG_ERR_PLAN_NOT_FOR_SALE: 400,
    TG_ERR_ALREADY_SUBSCRIBED: 409,
    TG_ERR_NO_BILLING_ACCOUNT: 409,
    TG_ERR_PAYMENT_PROVIDER: 502,
    TG_ERR_WEBHOOK_SIGNATURE: 400,
  });
  const { TRADING_ERRORS } = await import('../../plugins/trading/errors.js');
  t.same(statuses(TRADING_ERRORS.codes), {
    TG_ERR_ORDER_PRICE_FILTER: 400,
    TG_ERR_ORDER_LOT_SIZE: 400,
    TG_ERR_ORDER_MIN_NOTIONAL: 400,
    TG_ERR_INSUFFICIENT_BALANCE: 400,
    TG_ERR_BOOK_STALE: 503,
    TG_ERR_ORDER_NOT_FOUND: 404,
    TG_ERR_ORDER_NOT_OPEN: 409,
    TG_ERR_TOO_MANY_ORDERS: 409,
    TG_ERR_TRADING_UNAVAILABLE: 503,
  });
});

t.test('error data and errors carry the code and a message', async (t) => {
  t.same(errorData('TG_ERR_INTERNAL'), { code: 'TG_ERR_INTERNAL', message: ERRORS.TG_ERR_INTERNAL.message });
  t.same(errorData('TG_ERR_INTERNAL', 'x'), { code: 'TG_ERR_INTERNAL', message: 'x' });
  const e = new TickgateError('TG_ERR_NOT_FOUND');
  t.equal(e.code, 'TG_ERR_NOT_FOUND');
  t.equal(e.message, ERRORS.TG_ERR_NOT_FOUND.message);
});

t.test('the README\'s error table lists exactly the codes and statuses of the table, the built-in plugins\' included', async (t) => {
  const { readFileSync, readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { PACKAGE_ROOT } = await import('../../core/config.js');
  const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Errors'), readme.indexOf('### Close codes'));
  const documented = Object.fromEntries([...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
  const table: Record<string, number> = Object.fromEntries(Object.entries(ERRORS).map(([code, def]) => [code, def.status]));
  for (const name of readdirSync(join(PACKAGE_ROOT, 'dist/plugins'))) {
    const def = ((await import(join(PACKAGE_ROOT, 'dist/plugins', name, 'index.js'))) as { default: { errors?: { codes: Record<string, { status: number }> } } }).default;
    for (const [code, d] of Object.entries(def.errors?.codes ?? {})) table[code] = d.status;
  }
  t.same(documented, table);
});

t.test('defineErrors checks a plugin\'s table and throws its codes with their messages', async (t) => {
  const { defineErrors, ErrorRegistry } = await import('../../core/errors.js');
  const errors = defineErrors('ACME_', { ACME_NOPE: { status: 409, message: 'Nope: do something else' } });
  const e = errors.error('ACME_NOPE');
  t.ok(e instanceof TickgateError);
  t.equal(e.code, 'ACME_NOPE');
  t.equal(e.message, 'Nope: do something else');
  t.equal(errors.error('ACME_NOPE', 'more specific').message, 'more specific');
  t.throws(() => defineErrors('acme', {}), /error prefix "acme" must be uppercase words/);
  t.throws(() => defineErrors('ACME_', { ACME: { status: 400, message: 'x' } }), /must start with the prefix "ACME_"/);
  t.throws(() => defineErrors('ACME_', { ACME_X: { status: 400, message: ' ' } }), /needs a message/);
  const registry = new ErrorRegistry();
  registry.register('acme', errors, false);
  t.same(registry.toClientError(e), { code: 'ACME_NOPE', message: 'Nope: do something else', status: 409 });
  t.same(registry.toClientError({ code: 'ACME_NOPE', message: '' }), { code: 'ACME_NOPE', message: 'Nope: do something else', status: 409 }, 'a plain {code} from another copy of the package works too');
  t.equal(registry.toClientError(new Error('plain')), undefined, 'an uncoded error is not the client\'s business');
  t.equal(registry.toClientError({ code: 'ACME_OTHER', message: 'x' }), undefined, 'nor an unregistered code');
  t.equal(registry.toClientError(Object.defineProperty({}, 'code', { get: () => { throw new Error('hostile'); } })), undefined, 'a hostile getter is survived');
  registry.register('acme', errors, false);
  t.pass('registering the same plugin\'s table again is harmless');
  t.doesNotThrow(() => registry.register('other', { prefix: 'OTHER_', codes: { OTHER_X: { status: 400, message: 'x' } } }, false), 'a second plugin with its own prefix is fine');
  t.throws(() => registry.register('third', { prefix: 'THIRD_', codes: { ACME_NOPE: { status: 400, message: 'x' } } }, false), /must start with the prefix/);
  t.throws(() => registry.register('fourth', { prefix: 'ACME_', codes: {} }, false), /already used by plugin "acme"/);
});
