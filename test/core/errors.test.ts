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
  });
  t.same(CLOSE_CODES, { GOING_AWAY: 1001, MESSAGE_TOO_BIG: 1009, RATE_LIMITED: 4429 });
  t.equal(ERRORS.TG_ERR_AUTH_REQUIRED.message, 'Authentication required for this channel', 'the guide\'s text');
});

t.test('error data and errors carry the code and a message', async (t) => {
  t.same(errorData('TG_ERR_INTERNAL'), { code: 'TG_ERR_INTERNAL', message: ERRORS.TG_ERR_INTERNAL.message });
  t.same(errorData('TG_ERR_INTERNAL', 'x'), { code: 'TG_ERR_INTERNAL', message: 'x' });
  const e = new TickgateError('TG_ERR_NOT_FOUND');
  t.equal(e.code, 'TG_ERR_NOT_FOUND');
  t.equal(e.message, ERRORS.TG_ERR_NOT_FOUND.message);
});
