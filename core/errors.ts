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
  TG_ERR_INVALID_RATE: { status: 400, message: 'Invalid @RATE suffix: use @100ms, @250ms, @500ms, @1s, @2s, @5s, @10s, @30s or @60s, on a channel kind that can be conflated (e.g. price:BTCUSDT@1s)' },
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
  TG_ERR_SYMBOL_LIMIT: { status: 503, message: 'This server streams as many symbols at once as it is configured to: use a symbol that is already streaming, or retry later' },
  TG_ERR_AUTH_UNAVAILABLE: { status: 501, message: 'This server has no authentication plugin: connect without credentials (public channels), or enable the auth plugin in config.yaml' },
  TG_ERR_VALIDATION: { status: 400, message: 'The request is not valid: error.details names each field and what it needs' },
  TG_ERR_BODY_TOO_LARGE: { status: 413, message: 'Request body too large: send a smaller body' },
  TG_ERR_TOKEN_INVALID: { status: 401, message: 'The access token or API key is not valid: sign in again (POST /api/v1/auth/login) or use a valid API key' },
  TG_ERR_TOKEN_EXPIRED: { status: 401, message: 'The access token expired: get a new one with POST /api/v1/auth/refresh (on /ws, send {"type":"auth","token":"…"} before it expires)' },
  TG_ERR_USER_CONNECTION_LIMIT: { status: 429, message: 'This account holds as many connections as it may: close one before opening another' },
  TG_ERR_REQUEST_LIMIT: { status: 429, message: 'Too many requests: wait for the number of seconds in the Retry-After header, then retry' },
  TG_ERR_BAD_REQUEST: { status: 400, message: 'The request is malformed: fix the client (or the proxy in front of tickgate) and send one well-formed HTTP/1.1 request' },
  TG_ERR_ORIGIN_FORBIDDEN: { status: 403, message: 'Pages from this origin may not open the feed: the server admits the origins in its server.wsOrigins' },
  TG_ERR_WS_VERSION: { status: 426, message: 'Only WebSocket version 13 (RFC 6455) is served: connect with a current WebSocket client' },
} as const satisfies Record<string, ErrorDef>;

/** A code of the core's own table. */
export type ErrorCode = keyof typeof ERRORS;
/** A code of the core's table or of a plugin's (plugins register theirs with defineErrors). */
export type AnyErrorCode = ErrorCode | (string & {});

/** WebSocket close codes tickgate uses. 4000–4499: reconnecting is fine; 4500–4999: do not reconnect unchanged. */
export const CLOSE_CODES = {
  /** Server shutting down (RFC 6455 "going away"): reconnect with backoff. */
  GOING_AWAY: 1001,
  /** A message over the documented size limit (RFC 6455 "message too big"). */
  MESSAGE_TOO_BIG: 1009,
  /** Message rate over the documented limit: reconnect after a pause. */
  RATE_LIMITED: 4429,
  /** The client read too slowly: more queued for it than its share of the server's send-queue budget. */
  SLOW_CONSUMER: 4507,
} as const;

/** Plain, thread-safe error shape: errors cross threads as this, never as class instances. */
export interface ErrorData {
  code: AnyErrorCode;
  message: string;
  /** What to check, where the message alone does not say (e.g. why a symbol is refused). */
  hint?: string;
  /** Per-field problems of a request that failed validation (TG_ERR_VALIDATION). */
  details?: FieldError[];
}

/** One field of a request body that failed validation: its path (e.g. "password") and what it needs. */
export interface FieldError {
  field: string;
  message: string;
}

export function errorData(code: ErrorCode, message?: string): ErrorData {
  return { code, message: message ?? ERRORS[code].message };
}

/**
 * An error with a stable code, thrown inside the process and turned into ErrorData at the boundary. The code is the
 * core's or a registered plugin's; without a message, the table's message for the code is used.
 */
export class TickgateError extends Error {
  readonly code: AnyErrorCode;
  /** What to check, where the message alone does not say; sent to the client with the code. */
  readonly hint: string | undefined;
  /** Per-field problems (TG_ERR_VALIDATION); sent to the client as error.details. */
  details: FieldError[] | undefined;
  /** Seconds before a retry can succeed (a 429): sent as the Retry-After header. */
  retryAfter: number | undefined;
  constructor(code: AnyErrorCode, message?: string, hint?: string) {
    super(message ?? (Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode].message : ''));
    this.code = code;
    this.hint = hint;
    this.details = undefined;
    this.retryAfter = undefined;
    this.name = 'TickgateError';
  }
}

/** Codes: uppercase words joined by underscores, e.g. SPREAD_NO_BOOK. */
const CODE_RE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
/** A plugin's prefix: uppercase words, each followed by an underscore, e.g. SPREAD_ or ACME_SPREAD_. */
const PREFIX_RE = /^(?:[A-Z][A-Z0-9]*_)+$/;
/** The prefix of the core's codes; built-in plugins may use it too, a plugin loaded by path may not. */
export const CORE_PREFIX = 'TG_';

/** A plugin's own error codes: plain data, so it crosses to the shard threads with the plugin. */
export interface ErrorTable<C extends string = string> {
  readonly prefix: string;
  readonly codes: Readonly<Record<C, ErrorDef>>;
}

/** What defineErrors returns: the table, and a typed way to throw one of its errors. */
export interface PluginErrors<C extends string = string> extends ErrorTable<C> {
  /** A TickgateError with this code and the table's message (or a more specific one). */
  error(code: C, message?: string): TickgateError;
}

function checkTable(owner: string, table: ErrorTable): void {
  if (typeof table.prefix !== 'string' || !PREFIX_RE.test(table.prefix)) {
    throw new Error(`${owner}: error prefix ${JSON.stringify(table.prefix)} must be uppercase words each followed by "_", e.g. "SPREAD_"`);
  }
  if (table.codes === null || typeof table.codes !== 'object') throw new Error(`${owner}: error codes must be an object of { status, message }`);
  for (const [code, def] of Object.entries(table.codes as Record<string, ErrorDef>)) {
    if (!code.startsWith(table.prefix) || !CODE_RE.test(code) || code === table.prefix.slice(0, -1)) {
      throw new Error(`${owner}: error code "${code}" must start with the prefix "${table.prefix}" and be uppercase words joined by "_"`);
    }
    if (!def || !Number.isInteger(def.status) || def.status < 400 || def.status > 599) {
      throw new Error(`${owner}: error code "${code}" needs an HTTP status from 400 to 599`);
    }
    if (typeof def.message !== 'string' || def.message.trim() === '') {
      throw new Error(`${owner}: error code "${code}" needs a message that tells the client what to do`);
    }
  }
}

/**
 * Declares a plugin's error codes: each starts with the plugin's prefix and has an HTTP status and a message that
 * says what to do. List the result as `errors` in definePlugin; throw with `errors.error(code)` in either half.
 */
export function defineErrors<const T extends Record<string, ErrorDef>>(prefix: string, codes: T): PluginErrors<keyof T & string> {
  const table = { prefix, codes };
  checkTable('defineErrors', table);
  return {
    prefix,
    codes,
    error: (code, message) => new TickgateError(code, message ?? codes[code]?.message),
  };
}

export interface RegisteredError extends ErrorDef {
  /** "core" or the plugin that registered the code. */
  readonly owner: string;
}

/** A coded error as it reaches a client: code, message and the HTTP status of its code. */
export interface ClientError extends ErrorData {
  status: number;
  /** Seconds before a retry can succeed, when the error says (Retry-After). */
  retryAfter?: number;
}

function isFieldError(d: unknown): d is FieldError {
  return d !== null && typeof d === 'object' && typeof (d as FieldError).field === 'string' && typeof (d as FieldError).message === 'string';
}

/** Reads a property of a value that may be hostile (a getter that throws): undefined instead of an exception. */
function read(value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * The one error table of a running gateway (one per thread): the core's codes and the codes plugins registered.
 * Every path that turns a thrown value into a client-visible error (routes, shard answers, channel producers) uses
 * `toClientError`, so the rule is the same everywhere.
 */
export class ErrorRegistry {
  private readonly table = new Map<string, RegisteredError>();
  private readonly prefixes = new Map<string, string>();

  constructor() {
    for (const [code, def] of Object.entries(ERRORS)) this.table.set(code, { ...def, owner: 'core' });
    this.prefixes.set(CORE_PREFIX, 'core');
  }

  /**
   * Adds a plugin's codes. Refused: a malformed table, a prefix another plugin uses (or the core's, unless the plugin
   * is built in), a code already registered.
   */
  register(owner: string, table: ErrorTable, builtIn: boolean): void {
    checkTable(`plugin "${owner}"`, table);
    const holder = this.prefixes.get(table.prefix);
    if (table.prefix.startsWith(CORE_PREFIX) && !builtIn) {
      throw new Error(`plugin "${owner}": the error prefix "${CORE_PREFIX}" belongs to tickgate itself: choose your own, e.g. "${owner.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_"`);
    }
    if (holder && holder !== owner && holder !== 'core') throw new Error(`plugin "${owner}": the error prefix "${table.prefix}" is already used by plugin "${holder}"`);
    for (const code of Object.keys(table.codes)) {
      const existing = this.table.get(code);
      if (existing && existing.owner !== owner) throw new Error(`plugin "${owner}": error code ${code} is already registered by ${existing.owner === 'core' ? 'the core' : `plugin "${existing.owner}"`}`);
    }
    // The core's prefix stays the core's: built-in plugins share it, code by code.
    if (!holder && !table.prefix.startsWith(CORE_PREFIX)) this.prefixes.set(table.prefix, owner);
    for (const [code, def] of Object.entries(table.codes as Record<string, ErrorDef>)) this.table.set(code, { status: def.status, message: def.message, owner });
  }

  get(code: string): RegisteredError | undefined {
    return this.table.get(code);
  }

  /** Every registered code, the core's first, in registration order. */
  entries(): Array<[string, RegisteredError]> {
    return [...this.table];
  }

  /**
   * The rule for every path: a thrown value with a registered `code` (a TickgateError, from this package or a copy
   * of it) reaches the client as that code, its message (or the table's) and the code's status. Anything else is
   * not the client's business: undefined, and the caller logs it and answers with its generic code.
   */
  toClientError(err: unknown): ClientError | undefined {
    if (err === null || typeof err !== 'object') return undefined;
    const code = read(err, 'code');
    if (typeof code !== 'string') return undefined;
    const def = this.table.get(code);
    if (!def) return undefined;
    const message = read(err, 'message');
    const hint = read(err, 'hint');
    const out: ClientError = { code, message: typeof message === 'string' && message !== '' ? message : def.message, status: def.status };
    if (typeof hint === 'string') out.hint = hint;
    const details = read(err, 'details');
    if (Array.isArray(details)) out.details = details.filter(isFieldError);
    const retryAfter = read(err, 'retryAfter');
    if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0) out.retryAfter = Math.ceil(retryAfter);
    return out;
  }

  /** The error data for a code, with the table's message when none is given; an unregistered code is an internal error. */
  data(code: string, message?: string): ErrorData {
    const def = this.table.get(code);
    if (!def) return errorData('TG_ERR_INTERNAL');
    return { code, message: message ?? def.message };
  }
}
