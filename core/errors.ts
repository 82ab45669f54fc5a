// The one table of client-visible errors and close codes: every code, its HTTP status and what the client should do.

export interface ErrorDef {
  /** HTTP status when the error answers a request. */
  readonly status: number;
  /** Default message; may be replaced by a more specific one that still says what to do. */
  readonly message: string;
}

/**
 * Stable error codes. A test pins this table: changing or removing a code is a breaking change of the protocol.
 * Codes are only ever added.
 */
export const ERRORS = {
  TG_ERR_INVALID_JSON: { status: 400, message: 'Message is not valid JSON: send one JSON object per text frame, e.g. {"type":"ping"}' },
  TG_ERR_BINARY_UNSUPPORTED: { status: 400, message: 'Binary frames are not supported: send JSON as a text frame' },
  TG_ERR_INVALID_MESSAGE: { status: 400, message: 'Message must be a JSON object with a string "type" field' },
  TG_ERR_UNKNOWN_TYPE: { status: 400, message: 'Unknown message type: use "subscribe", "unsubscribe" or "ping"' },
  TG_ERR_INVALID_CHANNELS: { status: 400, message: '"channels" must be a non-empty array of channel names, e.g. ["price:BTCUSDT"]' },
  TG_ERR_INVALID_CHANNEL: { status: 400, message: 'Channel names look like kind:SYMBOL or kind:SYMBOL:ARG, e.g. price:BTCUSDT or klines:BTCUSDT:1m' },
  TG_ERR_UNKNOWN_CHANNEL_KIND: { status: 400, message: 'Unknown channel kind' },
  TG_ERR_INVALID_SYMBOL: { status: 400, message: 'Symbols are uppercase letters and digits, e.g. BTCUSDT' },
  TG_ERR_UNKNOWN_SYMBOL: { status: 404, message: 'Failed to fetch quote for this symbol' },
  TG_ERR_SYMBOLS_UNAVAILABLE: { status: 503, message: 'The exchange symbol list is not loaded yet: retry in a few seconds' },
  TG_ERR_INVALID_INTERVAL: { status: 400, message: 'Invalid kline interval: use one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w 1M' },
  TG_ERR_INVALID_ARGUMENT: { status: 400, message: 'Invalid channel argument' },
  TG_ERR_AUTH_REQUIRED: { status: 401, message: 'Authentication required for this channel' },
  TG_ERR_FORBIDDEN: { status: 403, message: 'This channel belongs to another user' },
  TG_ERR_CHANNEL_LIMIT: { status: 429, message: 'Channel limit reached: unsubscribe from a channel before subscribing to another' },
  TG_ERR_TOO_MANY_IN_MESSAGE: { status: 400, message: 'Too many channels in one message: split the list over several messages' },
  TG_ERR_NOT_SUBSCRIBED: { status: 400, message: 'Not subscribed to this channel: nothing to unsubscribe' },
  TG_ERR_MESSAGE_TOO_BIG: { status: 413, message: 'Message too big: the connection is closed; keep messages under the limit in the "connected" frame' },
  TG_ERR_RATE_LIMITED: { status: 429, message: 'Too many messages: the connection is closed; reconnect after a pause and stay under the rate in the "connected" frame' },
  TG_ERR_CHANNEL_FAILED: { status: 500, message: 'The producer of this channel failed: the server logged the cause; resubscribe later' },
  TG_ERR_DATA_UNAVAILABLE: { status: 503, message: 'No data for this symbol yet (its stream is starting or the exchange is unreachable): retry in a few seconds' },
  TG_ERR_UPSTREAM_REJECTED: { status: 502, message: 'The exchange rejected the stream for this channel' },
  TG_ERR_TOO_MANY_CONNECTIONS: { status: 429, message: 'Too many connections from this address: close some before opening more' },
  TG_ERR_ROUTE_TIMEOUT: { status: 504, message: 'The route did not answer in time: retry later' },
  TG_ERR_UPGRADE_REQUIRED: { status: 426, message: '/ws is a WebSocket endpoint: connect with a WebSocket client, e.g. wscat -c ws://HOST:PORT/ws' },
  TG_ERR_NOT_FOUND: { status: 404, message: 'No such route: see GET /health and GET /api/v1/ws/stats' },
  TG_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this route' },
  TG_ERR_INTERNAL: { status: 500, message: 'Internal error: the server logged the cause' },
  TG_ERR_SHUTTING_DOWN: { status: 503, message: 'The server is shutting down: reconnect to another instance or retry shortly' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

/** WebSocket close codes tickgate uses. 4000–4499: reconnecting is fine; 4500–4999: do not reconnect unchanged. */
export const CLOSE_CODES = {
  /** Server shutting down (RFC 6455 "going away"): reconnect with backoff. */
  GOING_AWAY: 1001,
  /** A message over the documented size limit (RFC 6455 "message too big"). */
  MESSAGE_TOO_BIG: 1009,
  /** Message rate over the documented limit: reconnect after a pause. */
  RATE_LIMITED: 4429,
} as const;

/** Plain, thread-safe error shape: errors cross threads as this, never as class instances. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
}

export function errorData(code: ErrorCode, message?: string): ErrorData {
  return { code, message: message ?? ERRORS[code].message };
}

/** An error with a stable code, thrown inside the process and turned into ErrorData at the boundary. */
export class TickgateError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string) {
    super(message ?? ERRORS[code].message);
    this.code = code;
    this.name = 'TickgateError';
  }
}
