// HTTP routes on the uWS app: JSON in and out, abort-safe async handlers, coded errors, a JSON 404 for the rest.
import { STATUS_CODES } from 'node:http';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { RouteTarget } from './app-group.js';
import type { HttpMethod, RouteHandler, RouteOptions, RouteRequest, RouteResult, RouteSchema } from './plugin-api.js';
import { isJsonText } from './plugin-api.js';
import { ERRORS, type AnyErrorCode, type ErrorCode, type ErrorRegistry } from './errors.js';
import type { Logger } from './logger.js';
import type { ClientAddressResolver } from './client-address.js';
import { credentialFrom, type AccessControl } from './access-control.js';
import { TickgateError } from './errors.js';
import type { ClientInfo, Identity } from './plugin-api.js';
import type { ErrorData } from './errors.js';
import { validateInput } from './validation.js';

const BODY_METHODS = new Set<HttpMethod>(['post', 'put', 'patch']);
const DEFAULT_MAX_BODY = 64 * 1024;

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

interface Serialised {
  status: number;
  headers: Array<[string, string]>;
  text: string | Buffer;
  contentType: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Headers tickgate writes itself: a handler may not set them. */
const RESERVED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'content-type']);

/** Checks a handler's answer and turns it into bytes; throws when it is not a valid, JSON-serialisable answer. */
function serialise(result: RouteResult): Serialised {
  if (result === null || typeof result !== 'object' || !('body' in result)) throw new Error('a route handler must return { status?, headers?, body }');
  const status = result.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new Error(`invalid HTTP status ${String(status)}`);
  const headers = Object.entries(result.headers ?? {}).map(([k, v]) => {
    const value = String(v);
    if (!HEADER_NAME.test(k) || RESERVED_HEADERS.has(k.toLowerCase())) throw new Error(`header name ${JSON.stringify(k)} is invalid or reserved`);
    if (!HEADER_VALUE.test(value)) throw new Error(`header ${k} has a value with control characters`);
    return [k, value] as [string, string];
  });
  const text = isJsonText(result.body) ? result.body.text : JSON.stringify(result.body);
  if (typeof text !== 'string' && !Buffer.isBuffer(text)) throw new Error('the body is not JSON-serialisable');
  const contentType = (result.body as { contentType?: unknown } | null)?.contentType;
  return { status, headers, text, contentType: isJsonText(result.body) && typeof contentType === 'string' ? contentType : JSON_TYPE };
}

const INTERNAL: Serialised = serialise({ status: 500, body: errorBody('TG_ERR_INTERNAL') });

export function errorBody(code: ErrorCode, message?: string): { success: false; error: { code: AnyErrorCode; message: string } };
export function errorBody(code: AnyErrorCode, message: string): { success: false; error: { code: AnyErrorCode; message: string } };
export function errorBody(code: AnyErrorCode, message?: string): { success: false; error: { code: AnyErrorCode; message: string } } {
  return { success: false, error: { code, message: message ?? ERRORS[code as ErrorCode].message } };
}

/**
 * Why a request's body framing is ambiguous (a proxy in front may read it differently from uWS: request smuggling),
 * or undefined: two different Content-Length headers, more than one Transfer-Encoding header, or a Transfer-Encoding
 * other than plain "chunked".
 */
export function ambiguousFraming(req: HttpRequest): string | undefined {
  let length: string | undefined;
  let encodings = 0;
  let why: string | undefined;
  req.forEach((k, v) => {
    if (k === 'content-length') {
      if (length !== undefined && length !== v) why = 'two different Content-Length headers';
      length = v;
    } else if (k === 'transfer-encoding') {
      encodings++;
      if (encodings > 1) why = 'more than one Transfer-Encoding header';
      else if (v.trim().toLowerCase() !== 'chunked') why = `Transfer-Encoding "${v.slice(0, 40)}" (only "chunked" is taken)`;
    }
  });
  return why;
}

/** A request as handlers see it: copied from uWS's, with the client address read from the socket only on demand. */
class Request implements RouteRequest<unknown, unknown> {
  readonly path: string;
  // Replaced by the parsed values on a route with a schema for them.
  params: unknown;
  query: unknown;
  readonly rawQuery: string;
  readonly headers: Record<string, string> = {};
  body: unknown = undefined;
  rawBody: Buffer | undefined = undefined;
  identity: Identity | undefined = undefined;
  // Private fields: a handler that logs the request never serialises the uWS response.
  #res: HttpResponse | undefined;
  #resolve: ClientAddressResolver;
  #address: string | undefined;

  /** Why the body framing is ambiguous (see ambiguousFraming), or undefined. */
  readonly ambiguous: string | undefined = undefined;

  constructor(req: HttpRequest, res: HttpResponse, paramNames: string[], readonly method: string, resolve: ClientAddressResolver) {
    let framing = false;
    req.forEach((k, v) => {
      if ((k === 'content-length' && this.headers[k] !== undefined) || k === 'transfer-encoding') framing = true;
      this.headers[k] = v;
    });
    // Only requests that could be ambiguous are walked again (most carry one Content-Length or none).
    if (framing) this.ambiguous = ambiguousFraming(req);
    const params: Record<string, string> = {};
    paramNames.forEach((name, i) => {
      params[name] = req.getParameter(i) ?? '';
    });
    this.params = params;
    this.path = req.getUrl();
    this.rawQuery = req.getQuery() ?? '';
    this.query = new URLSearchParams(this.rawQuery);
    this.#res = res;
    this.#resolve = resolve;
  }

  /**
   * Read when a handler asks: reading it costs a few µs a request (measured on /health), and most routes never do.
   * Once the request is answered or aborted its socket may be gone, and the address reads as ''.
   */
  get remoteAddress(): string {
    if (this.#address === undefined) {
      const res = this.#res;
      this.#address = res ? this.#resolve(Buffer.from(res.getRemoteAddressAsText()).toString(), this.headers['x-forwarded-for']) : '';
    }
    return this.#address;
  }

  answered(): void {
    this.#res = undefined;
  }

  toJSON(): Omit<RouteRequest<unknown, unknown>, 'remoteAddress'> {
    // Credentials never reach a log through a request a handler logs.
    const headers = { ...this.headers };
    if (headers.authorization !== undefined) headers.authorization = '[redacted]';
    if (headers['x-api-key'] !== undefined) headers['x-api-key'] = '[redacted]';
    if (headers['x-mbx-apikey'] !== undefined) headers['x-mbx-apikey'] = '[redacted]';
    return { method: this.method, path: this.path, params: this.params, query: this.query, rawQuery: this.rawQuery.replace(/(^|&)(signature|token|apiKey)=[^&]*/g, '$1$2=[redacted]'), headers, body: this.body, rawBody: this.rawBody === undefined ? undefined : `[${this.rawBody.length} bytes]` as unknown as Buffer, identity: this.identity };
  }
}

export interface HttpRouterOptions {
  /** A route that has not answered by then gets 504: a handler that never settles must not hold a request forever. */
  timeoutMs: number;
  /** The gateway's error table: a handler's coded error is answered with its code's status. */
  errors: ErrorRegistry;
  clientAddress: ClientAddressResolver;
  /** Identifies the callers of routes registered with `auth`. */
  access: AccessControl;
  /** Whether `client` may have the data of `channel` (the subscribe rules): undefined, or the error. */
  channelAccess(channel: string, client: ClientInfo): ErrorData | undefined;
  /** Told of every answer: the route as registered ("unmatched" for none), the method and the status (metrics). */
  answered?(route: string, method: string, status: number): void;
  /** Origins whose browsers may call the routes (CORS); "*" for any. Empty: no CORS headers. */
  corsOrigins?: string[];
  /** Headers on every answer (security headers). */
  extraHeaders?: Array<[string, string]>;
}

/** A route as registered: what `GET /openapi.json` is built from. */
export interface RegisteredRoute {
  method: HttpMethod;
  /** The HTTP method as sent: GET, POST, DELETE… */
  verb: string;
  /** As registered, with its `:params`. */
  path: string;
  /** `the core` or `plugin "<name>"`. */
  owner: string;
  opts: Readonly<RouteOptions<unknown, unknown, unknown>>;
}

/** The query string as an object for a query schema: each parameter's first value (as URLSearchParams.get reads it). */
function queryObject(query: URLSearchParams): Record<string, string> {
  const first = new Map<string, string>();
  for (const [k, v] of query) if (!first.has(k)) first.set(k, v);
  return Object.fromEntries(first);
}

/**
 * Checks the parts of a request the route's schema declares, in order (params, query, body), and hands the handler
 * their parsed values; throws the first part's coded error.
 */
function applySchema(req: Request, schema: RouteSchema<unknown, unknown, unknown>): void {
  if (schema.params) req.params = validateInput(schema.params, req.params, '(params)');
  if (schema.query) req.query = validateInput(schema.query, queryObject(req.query as URLSearchParams), '(query)');
  if (schema.body) req.body = validateInput(schema.body, req.body, '(body)');
}

/** Refuses, at registration, a schema the router could not apply. */
function checkSchema(schema: RouteSchema<unknown, unknown, unknown>, method: HttpMethod, raw: boolean, route: string): void {
  if (schema === null || typeof schema !== 'object') throw new Error(`route ${route}: schema must be an object { summary?, params?, query?, body?, response? }`);
  for (const part of ['params', 'query', 'body'] as const) {
    const s = schema[part];
    if (s !== undefined && typeof (s as { safeParse?: unknown } | null)?.safeParse !== 'function') {
      throw new Error(`route ${route}: schema.${part} must be a zod schema (anything with safeParse)`);
    }
  }
  if (schema.body !== undefined && !BODY_METHODS.has(method)) throw new Error(`route ${route}: schema.body needs a method that carries a body (POST, PUT, PATCH)`);
  // The body's bytes are the handler's to read (a signature covers them): a JSON schema would check nothing.
  if (schema.body !== undefined && raw) throw new Error(`route ${route}: schema.body cannot check a rawBody route's bytes`);
}

/** Where an answer goes: for metrics and CORS. */
interface Tag {
  route: string;
  method: string;
  origin: string;
}

/** Request headers a cross-origin caller may send (CORS preflight). */
const CORS_ALLOW_HEADERS = 'authorization, content-type, x-api-key, x-mbx-apikey, idempotency-key';

const VERBS: Record<HttpMethod, string> = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE', options: 'OPTIONS' };

export class HttpRouter {
  /** Methods by path, each with who registered it. */
  private readonly paths = new Map<string, Map<string, string>>();
  /** Every route, in registration order (a GET's implicit HEAD is not listed). */
  readonly routes: RegisteredRoute[] = [];
  /** Routes that need an authenticator, with their owners (checked when the server starts). */
  readonly guarded: Array<{ route: string; owner: string }> = [];
  private finished = false;

  constructor(
    private readonly app: RouteTarget,
    private readonly log: Logger,
    private readonly opts: HttpRouterOptions,
  ) {}

  /** `owner` ("the core", `plugin "x"`) is named when someone else registers the same method and path. */
  route<P, Q, B>(method: HttpMethod, path: string, handler: RouteHandler<P, Q, B>, opts: RouteOptions<P, Q, B> = {}, owner = 'the core'): void {
    const verb = VERBS[method];
    if (!verb) throw new Error(`unknown HTTP method "${String(method)}": use ${Object.keys(VERBS).join(', ')}`);
    if (this.finished) throw new Error(`route ${verb} ${path} registered after the server started`);
    if (typeof path !== 'string' || !path.startsWith('/')) throw new Error(`route path must start with "/": ${String(path)}`);
    if (typeof handler !== 'function') throw new Error(`route ${verb} ${path} needs a handler function`);
    const methods = this.paths.get(path) ?? new Map<string, string>();
    const holder = methods.get(verb);
    if (holder) throw new Error(`route ${verb} ${path} is already registered by ${holder}`);
    methods.set(verb, owner);
    this.paths.set(path, methods);
    const paramNames = path.split('/').filter((p) => p.startsWith(':')).map((p) => p.slice(1));
    const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const auth = opts.auth;
    if (auth !== undefined && auth !== 'user' && auth !== 'admin' && auth !== 'optional') {
      throw new Error(`route ${verb} ${path}: auth must be 'user', 'admin' or 'optional', not ${JSON.stringify(auth)}`);
    }
    if (auth) this.guarded.push({ route: `${verb} ${path}`, owner });
    if (opts.channel !== undefined && typeof opts.channel !== 'function') throw new Error(`route ${verb} ${path}: channel must be a function (req) => channel name | undefined`);
    const raw = opts.rawBody === true;
    const schema = opts.schema as RouteSchema<unknown, unknown, unknown> | undefined;
    if (schema !== undefined) checkSchema(schema, method, raw, `${verb} ${path}`);
    this.routes.push({ method, verb, path, owner, opts: opts as RouteOptions<unknown, unknown, unknown> });
    // Request rules (per-caller limits) apply to the API, not to /health and the like that load balancers poll.
    const ruled = path.startsWith('/api/');
    const serve = (headOnly: boolean) => (res: HttpResponse, req: HttpRequest) => {
      // uWS invalidates req when this callback returns: the request copies what the handler needs now.
      const request = new Request(req, res, paramNames, headOnly ? 'HEAD' : verb, this.opts.clientAddress);
      const tag: Tag = { route: path, method: request.method, origin: request.headers.origin ?? '' };
      if (request.ambiguous) return this.refuseAmbiguous(res, request.ambiguous, tag);
      let done = false;
      res.onAborted(() => {
        done = true;
        request.answered();
      });
      const finish = (response: Serialised) => {
        if (done) return;
        done = true;
        request.answered();
        this.write(res, response, tag, false, headOnly);
      };
      const run = (body: unknown) => {
        if (raw) request.rawBody = body as Buffer | undefined;
        else request.body = body;
        const timer = setTimeout(() => {
          this.log.error({ method: request.method, path: request.path, timeoutMs: this.opts.timeoutMs }, 'route handler did not answer in time');
          finish(serialise({ status: 504, body: errorBody('TG_ERR_ROUTE_TIMEOUT') }));
        }, this.opts.timeoutMs);
        void this.invoke(handler as RouteHandler<unknown, unknown, unknown>, request, auth, ruled ? { route: path, owner } : undefined, opts.channel, opts.apiKeyHeader?.toLowerCase(), opts.errorShape, schema && ((r) => applySchema(r, schema)))
          .catch(() => INTERNAL)
          .then((response) => {
            clearTimeout(timer);
            finish(response);
          });
      };
      if (!BODY_METHODS.has(method)) return run(undefined);
      this.readBody(res, maxBody, () => done, run, raw, tag);
    };
    this.app[method](path, serve(false));
    // Every GET route answers HEAD too (load balancers' health checks use it): same status and headers, no body.
    if (method === 'get') {
      methods.set('HEAD', owner);
      this.app.head(path, serve(true));
    }
  }

  /** Registers the catch-all last: unknown routes get a JSON 404 (or 405 for a known path with another method). */
  finish(): void {
    this.finished = true;
    this.app.any('/*', (res, req) => {
      const path = req.getUrl();
      const method = req.getMethod().toUpperCase();
      const tag: Tag = { route: 'unmatched', method, origin: req.getHeader('origin') };
      const ambiguous = ambiguousFraming(req);
      if (ambiguous) return this.refuseAmbiguous(res, ambiguous, tag);
      const allowed = this.paths.get(path) ?? this.patternFor(path);
      if (allowed && method === 'OPTIONS' && req.getHeader('access-control-request-method') !== '') {
        // A CORS preflight: answered for an allowed origin, refused (no CORS headers) for the rest.
        const verbs = [...allowed.keys()];
        const headers: Record<string, string> = this.corsOrigin(tag.origin) === undefined ? {} : {
          'access-control-allow-methods': verbs.join(', '),
          'access-control-allow-headers': CORS_ALLOW_HEADERS,
          'access-control-max-age': '600',
        };
        this.write(res, { status: 204, headers: Object.entries(headers), text: '', contentType: JSON_TYPE }, tag);
        return;
      }
      // (A method the path has would have been routed: such a request is a 404 of a path uWS did not match.)
      if (allowed && !allowed.has(method)) {
        const verbs = [...allowed.keys()];
        this.send(res, { status: 405, headers: { allow: verbs.join(', ') }, body: errorBody('TG_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}: use ${verbs.join(' or ')}`) }, tag, false, method === 'HEAD');
        return;
      }
      const shown = path.length > 100 ? `${path.slice(0, 100)}…` : path;
      // A HEAD answer never has a body (RFC 9110), not even an error's.
      this.send(res, { status: 404, body: errorBody('TG_ERR_NOT_FOUND', `No route for ${method} ${shown}: see GET /health and GET /api/v1/ws/stats`) }, tag, false, method === 'HEAD');
    });
  }

  /** Reads the body, then calls `done` with the parsed JSON (or, `raw`, the bytes); undefined for an empty body. */
  private readBody(res: HttpResponse, maxBody: number, isAborted: () => boolean, done: (body: unknown) => void, raw: boolean, tag: Tag): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    res.onData((chunk, isLast) => {
      if (rejected || isAborted()) return;
      size += chunk.byteLength;
      if (size > maxBody) {
        rejected = true;
        this.send(res, { status: 413, body: errorBody('TG_ERR_BODY_TOO_LARGE', `Request body over the ${maxBody}-byte limit of this route: send a smaller body`) }, tag, true);
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!isLast) return;
      if (raw) return done(size === 0 ? undefined : Buffer.concat(chunks));
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.length === 0) return done(undefined);
      try {
        done(JSON.parse(text));
      } catch {
        this.send(res, { status: 400, body: errorBody('TG_ERR_INVALID_JSON', 'Request body is not valid JSON') }, tag);
      }
    });
  }

  /** Runs a handler and serialises its answer; nothing a handler returns or throws escapes as an exception. */
  private async invoke(handler: RouteHandler<unknown, unknown, unknown>, req: Request, auth: RouteOptions['auth'], ruled: { route: string; owner: string } | undefined, channelOf: RouteOptions['channel'], apiKeyHeader?: string, errorShape?: RouteOptions['errorShape'], input?: (req: Request) => void): Promise<Serialised> {
    let result: RouteResult;
    try {
      if (auth) await this.identify(req, auth);
      // Rules see the request as received: the schema's parse comes after them.
      const received = req as unknown as RouteRequest;
      const rules = ruled !== undefined && this.opts.access.hasRequestRules;
      const channel = channelOf && this.opts.access.hasSubscribeRules ? channelOf(received) : undefined;
      if (rules || channel !== undefined) {
        // The caller, once, for both: on a route without `auth` a credential is checked only when something asks.
        // A bad credential on a route that answers with a channel's data is refused as such (a client renews its token
        // on 401, and would not on a plan's 403); for the request rules alone, the caller is then anonymous.
        const identity = auth ? req.identity : await this.caller(req, channel !== undefined, apiKeyHeader);
        if (rules) {
          const pending = this.opts.access.checkRequest(received, { ...ruled, identity });
          if (pending) await pending;
        }
        if (channel !== undefined) {
          // The address only if a rule reads it: reading it costs a few µs.
          const client: ClientInfo = { id: '', userId: identity?.userId, identity, get remoteAddress() { return req.remoteAddress; } };
          const refused = this.opts.channelAccess(channel, client);
          if (refused) throw new TickgateError(refused.code, refused.message, refused.hint);
        }
      }
      // After who may call it: a caller who may not gets that answer, whatever they sent.
      if (input) input(req);
      result = await handler(req);
    } catch (err) {
      const coded = this.opts.errors.toClientError(err);
      if (coded && errorShape) {
        try {
          const shaped = errorShape({ status: coded.status, code: coded.code, message: coded.message, retryAfter: coded.retryAfter });
          if (coded.retryAfter !== undefined) shaped.headers = { 'retry-after': String(coded.retryAfter), ...shaped.headers };
          return serialise(shaped);
        } catch (shapeErr) {
          this.logSafely(shapeErr, req, 'route errorShape failed');
          return INTERNAL;
        }
      }
      if (coded) {
        const body = errorBody(coded.code, coded.message);
        // Why a symbol is refused, for instance: the envelope keeps code and message, and adds the hint when there is one.
        if (coded.hint !== undefined) (body.error as { hint?: string }).hint = coded.hint;
        if (coded.details !== undefined) (body.error as { details?: unknown }).details = coded.details;
        const headers: Record<string, string> = {};
        // RFC 6750: a 401 names the scheme the route takes.
        if (coded.status === 401) headers['www-authenticate'] = 'Bearer realm="tickgate"';
        if (coded.retryAfter !== undefined) headers['retry-after'] = String(coded.retryAfter);
        return serialise({ status: coded.status, headers, body });
      }
      this.logSafely(err, req, 'route handler failed');
      return INTERNAL;
    }
    try {
      return serialise(result);
    } catch (err) {
      this.logSafely(err, req, 'route handler returned an answer that cannot be sent');
      return INTERNAL;
    }
  }

  /** Sets `req.identity` from the request's credentials, or throws the coded reason the caller may not call the route. */
  private async identify(req: Request, auth: NonNullable<RouteOptions['auth']>): Promise<void> {
    const credential = credentialFrom((name) => req.headers[name] ?? '', undefined, req.remoteAddress);
    if (!credential) {
      if (auth === 'optional') return;
      throw new TickgateError('TG_ERR_AUTH_REQUIRED', 'Authentication required: send Authorization: Bearer <access token> (from POST /api/v1/auth/login) or X-API-Key: <API key>');
    }
    req.identity = await this.opts.access.identify(credential);
    if (auth === 'admin' && req.identity.role !== 'admin') throw new TickgateError('TG_ERR_FORBIDDEN', 'This route needs the admin role');
  }

  /**
   * Who sent a request to a route without `auth`: undefined when anonymous; with a credential that is not valid,
   * undefined too, or (`strict`) the credential's coded error.
   */
  private caller(req: Request, strict: boolean, apiKeyHeader?: string): Identity | undefined | Promise<Identity | undefined> {
    const h = req.headers;
    const routeKey = apiKeyHeader === undefined ? undefined : h[apiKeyHeader];
    // Most requests carry no credential: answered without a promise.
    if (h.authorization === undefined && h['x-api-key'] === undefined && !routeKey) return undefined;
    const lenient = (err: unknown): undefined => {
      if (strict) throw err;
      return undefined;
    };
    try {
      const credential = credentialFrom((name) => h[name] ?? '', undefined, req.remoteAddress)
        ?? (routeKey ? { scheme: 'apiKey' as const, value: routeKey.trim(), remoteAddress: req.remoteAddress } : undefined);
      return credential && this.opts.access.identify(credential).catch(lenient);
    } catch (err) {
      return lenient(err);
    }
  }

  /** Logs a plugin's error without trusting it: its properties may throw when read. */
  private logSafely(err: unknown, req: { method: string; path: string }, msg: string): void {
    let detail: string;
    try {
      detail = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
    } catch {
      detail = 'an error value that cannot be read';
    }
    this.log.error({ err: detail, method: req.method, path: req.path }, msg);
  }

  /**
   * Two different Content-Length headers: uWS would frame the body by the first, a proxy in front may by the other, and
   * the rest of the connection would be read differently by each. Refused, and the connection closed.
   */
  refuseAmbiguous(res: HttpResponse, why: string, tag: Tag = { route: '/ws', method: 'GET', origin: '' }): void {
    this.log.warn({ why }, 'request whose body framing is ambiguous refused (400) and its connection closed');
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    setImmediate(() => {
      if (!aborted) this.send(res, { status: 400, body: errorBody('TG_ERR_BAD_REQUEST', `The request has ${why}: send one Content-Length, or Transfer-Encoding: chunked alone (if a proxy added the other, fix the proxy)`) }, tag, true);
    });
  }

  private send(res: HttpResponse, result: RouteResult, tag: Tag, close = false, headOnly = false): void {
    this.write(res, serialise(result), tag, close, headOnly);
  }

  private get varyOrigin(): boolean {
    const list = this.opts.corsOrigins;
    return list !== undefined && list.length > 0 && !list.includes('*');
  }

  /** The Access-Control-Allow-Origin value for a request from `origin`, or undefined (no CORS headers). */
  private corsOrigin(origin: string): string | undefined {
    const list = this.opts.corsOrigins;
    if (!origin || !list || list.length === 0) return undefined;
    if (list.includes('*')) return '*';
    return list.includes(origin) ? origin : undefined;
  }

  /** The registered path a concrete path matches (for a preflight on /api/v1/orders/123), by segments. */
  private patternFor(path: string): Map<string, string> | undefined {
    const parts = path.split('/');
    for (const [pattern, methods] of this.paths) {
      const p = pattern.split('/');
      // uWS never routes an empty segment to a parameter (GET /a/ is not /a/:x): neither does this.
      if (p.length === parts.length && p.every((seg, i) => (seg.startsWith(':') ? parts[i] !== '' : seg === parts[i]))) return methods;
    }
    return undefined;
  }

  private write(res: HttpResponse, r: Serialised, tag: Tag, close = false, headOnly = false): void {
    this.opts.answered?.(tag.route, tag.method, r.status);
    const allowOrigin = this.corsOrigin(tag.origin);
    res.cork(() => {
      res.writeStatus(statusLine(r.status));
      for (const [k, v] of r.headers) res.writeHeader(k, v);
      // A route's own header replaces the default of the same name (the docs page's Content-Security-Policy).
      if (this.opts.extraHeaders) {
        for (const [k, v] of this.opts.extraHeaders) if (!r.headers.some(([name]) => name.toLowerCase() === k)) res.writeHeader(k, v);
      }
      if (allowOrigin !== undefined) {
        res.writeHeader('access-control-allow-origin', allowOrigin);
        res.writeHeader('access-control-expose-headers', 'retry-after');
      }
      // With a list of origins the answer depends on the Origin header: caches must know, whatever this one was.
      if (this.varyOrigin) res.writeHeader('vary', 'origin');
      // 204 and 304 carry no body, and no Content-Length that would announce one.
      if (r.status === 204 || r.status === 304) res.endWithoutBody();
      else if (headOnly) {
        // endWithoutBody(length) leaves uWS waiting for that many body bytes (the response never ends, and the next
        // request on the connection is lost): the length goes in as a header, and the response ends with no body.
        res.writeHeader('content-type', r.contentType);
        res.writeHeader('content-length', String(Buffer.byteLength(r.text)));
        res.endWithoutBody();
      } else {
        res.writeHeader('content-type', r.contentType);
        res.end(r.text, close);
      }
    });
  }

}
