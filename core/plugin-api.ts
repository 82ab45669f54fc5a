// The hook API plugins are written against: definePlugin, the acceptor half's API and channel specs.
import type { Logger } from './logger.js';
import type { AnyErrorCode, ErrorTable } from './errors.js';
import type { SymbolsService } from './symbol-registry.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'del' | 'options';

/**
 * A request as a handler sees it. `P`, `Q` and `B` are the types of `params`, `query` and `body`: on a route whose
 * `schema` declares that part, the part is the schema's parsed output (validated before the handler runs).
 */
export interface RouteRequest<P = Record<string, string>, Q = URLSearchParams, B = unknown> {
  method: string;
  path: string;
  /**
   * Route parameters, by the names used in the route's path (`/api/v1/things/:id` → params.id); with
   * `schema.params`, its parsed output.
   */
  params: P;
  /** The query string's parameters; with `schema.query`, its parsed output (from each parameter's first value). */
  query: Q;
  /** The query string as received, without the `?` (e.g. to verify a signature over its exact bytes). */
  rawQuery: string;
  /** Request headers, names in lowercase. */
  headers: Record<string, string>;
  /**
   * Parsed JSON body for requests that carry one; undefined otherwise (and on a route with `rawBody`). With
   * `schema.body`, its parsed output.
   */
  body: B;
  /** The body's bytes as received, on a route registered with `rawBody: true` (e.g. to verify a signature over them). */
  rawBody: Buffer | undefined;
  /** The client's address: the peer's, or the one a trusted reverse proxy forwarded (server.trustProxy). */
  remoteAddress: string;
  /**
   * Who sent the request, on a route with `auth` set (the authenticator's answer for its credentials); undefined on
   * other routes, and on an `auth: 'optional'` route called without credentials.
   */
  identity: Identity | undefined;
}

export interface RouteResult {
  status?: number;
  /**
   * A header named here replaces the gateway's default of that name (x-content-type-options, x-frame-options,
   * content-security-policy `default-src 'none'`, referrer-policy): a page sets its own content-security-policy.
   */
  headers?: Record<string, string>;
  /** Serialised with JSON.stringify, unless it is `jsonText(…)`: JSON already serialised (e.g. by a worker thread). */
  body: unknown;
}

const JSON_TEXT = Symbol.for('tickgate.jsonText');

/** A body that is JSON already (valid JSON is the caller's promise): sent as it is, not serialised again on this thread. */
export interface JsonText {
  readonly [JSON_TEXT]: true;
  /** The text, or (plainText) its bytes. */
  readonly text: string | Buffer;
}

export function jsonText(text: string): JsonText {
  return { [JSON_TEXT]: true, text };
}

/**
 * A body that is not JSON (GET /metrics): sent as it is, with its own content type. Bytes are sent without a copy
 * or an encoding per request (the docs page's script).
 */
export function plainText(text: string | Buffer, contentType: string): JsonText & { contentType: string } {
  return { [JSON_TEXT]: true, text, contentType };
}

export function isJsonText(body: unknown): body is JsonText {
  if (typeof body !== 'object' || body === null || (body as Partial<JsonText>)[JSON_TEXT] !== true) return false;
  const { text } = body as JsonText;
  return typeof text === 'string' || Buffer.isBuffer(text);
}

export type RouteHandler<P = Record<string, string>, Q = URLSearchParams, B = unknown> = (req: RouteRequest<P, Q, B>) => RouteResult | Promise<RouteResult>;

/**
 * A schema for one part of a request: anything with zod's `safeParse` (zod 4 schemas are). It validates the part
 * before the handler runs, and the same object describes the part in the OpenAPI document (`GET /openapi.json`), as
 * zod 4's JSON Schema of its input (a schema that implements Standard JSON Schema, as zod 4.2 and later do, converts
 * itself; another zod 4 copy's is converted by the gateway's zod).
 */
export type InputSchema<T> = ConfigSchema<T>;

/**
 * What a route takes and answers, declared once: the router validates `params`, `query` and `body` with it before the
 * handler (400 TG_ERR_VALIDATION, `error.details` per field, as `validateBody`), hands the handler the parsed values,
 * and `GET /openapi.json` documents the route from it. A check whose issue carries `params: { code }` (a registered
 * error code, e.g. from `.refine(fn, { message, params: { code: 'TG_ERR_INVALID_ARGUMENT' } })`) answers with that
 * code and the issue's message instead (the first such issue wins over plain validation issues).
 */
export interface RouteSchema<P = Record<string, string>, Q = URLSearchParams, B = unknown> {
  /** One line for the document's operation. */
  summary?: string;
  /** More words for the document (Markdown). */
  description?: string;
  /** Groups in the document; default: the registering plugin's name (or `core`). */
  tags?: string[];
  /** The path's parameters, an object schema keyed by the path's `:names` (values arrive as strings). */
  params?: InputSchema<P>;
  /** The query string, an object schema: each property one parameter (its first value, a string; coerce numbers). */
  query?: InputSchema<Q>;
  /** The JSON body. A schema that accepts `undefined` makes the body optional. Not with `rawBody` (bytes, not JSON). */
  body?: InputSchema<B>;
  /**
   * Answers by HTTP status, for the document only (not checked at run time): a zod schema of what the handler returns
   * as `body`, or `{ description, contentType?, schema? }` for one that is not JSON. Coded errors need no entry: the
   * document gives them the shared error envelope.
   */
  response?: Partial<Record<number, unknown>>;
}

export interface RouteOptions<P = Record<string, string>, Q = URLSearchParams, B = unknown> {
  /** Largest accepted request body in bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /**
   * A plugin's routes live under `/api/v1/<plugin name>`. Set this to serve a path outside that namespace (for
   * example an API another product's clients already speak); a path another plugin holds is still refused.
   */
  outsideNamespace?: boolean;
  /**
   * Who may call the route. `user`: any authenticated client (401 TG_ERR_AUTH_REQUIRED without credentials);
   * `admin`: a client whose identity has the admin role (403 TG_ERR_FORBIDDEN otherwise); `optional`: credentials
   * are checked when given (a bad one is refused), and the route also serves anonymous callers. The identity is in
   * `req.identity`. Needs a plugin that registered an authenticator (`api.authenticate`).
   */
  auth?: 'user' | 'admin' | 'optional';
  /**
   * Keep the body as bytes in `req.rawBody` instead of parsing it as JSON (a webhook whose signature covers the exact
   * bytes). Any content type is accepted.
   */
  rawBody?: boolean;
  /**
   * The channel whose data the route answers with (e.g. `signals:${req.params.symbol}`), or undefined when the request
   * names none. The plugins' subscribe rules (`onSubscribe`) then decide who may call the route as they decide who
   * may subscribe (a plan that gates a channel gates its REST twin too), refusing with the rule's code; the caller is
   * the request's credential (one that is not valid is refused with its own code), or anonymous. Symbol channels:
   * a private channel's REST route uses `auth` instead.
   */
  channel?: (req: RouteRequest) => string | undefined;
  /**
   * A header that carries an API key on this route besides `X-API-Key` (e.g. `X-MBX-APIKEY` for an API that signs
   * its requests): the request rules see the key's owner as the caller (a plan's request limit is theirs, not the
   * address's). The handler still decides whether the request is authentic.
   */
  apiKeyHeader?: string;
  /**
   * Renders this route's coded errors (the handler's, a request rule's, an auth refusal) as another API's clients
   * expect them (e.g. Binance's `{code, msg}`), instead of tickgate's envelope. `Retry-After` is kept.
   */
  errorShape?: (error: { status: number; code: string; message: string; retryAfter: number | undefined }) => RouteResult;
  /** What the route takes and answers: validated before the handler, and documented in `GET /openapi.json` (see RouteSchema). */
  schema?: RouteSchema<P, Q, B>;
}

/** What a request rule sees besides the request: the route it reached and who sent it. */
export interface RequestContext {
  /** The route's path as registered (with its `:params`), e.g. `/api/v1/signals/:symbol`. */
  route: string;
  /** Who registered the route: `the core` or `plugin "<name>"`. */
  owner: string;
  /**
   * The caller, when the request carries a valid credential (on every route, not only those with `auth`); undefined
   * for an anonymous request. A credential that is not valid leaves it undefined here (a route with `auth` still
   * refuses it).
   */
  identity: Identity | undefined;
}

/**
 * Runs before the handler of every route under `/api/` (after the route's own `auth` check): return to let the request
 * through, throw a TickgateError to refuse it (its status, `retryAfter` as Retry-After). For request rate limits by
 * caller. Rules run in plugin load order.
 */
export type RequestRule = (req: RouteRequest, ctx: RequestContext) => void | Promise<void>;

/** A limit as it applies to one client, with the message of the error sent when it is reached. */
export interface ClientAllowance {
  max: number;
  /** Says what to do: for example which plan allows more. */
  message: string;
}

/**
 * Per-connection limits by who the client is (a plan), registered by one plugin with `api.limitClients`. Asked when a
 * connection opens, when its identity changes and when `clients.recheck` runs; keep what it needs in memory.
 */
export interface ClientPolicy {
  /**
   * Channels one connection of this client may hold (instead of `limits.maxChannelsPerClient`); beyond, a subscribe
   * gets TG_ERR_CHANNEL_LIMIT with this message, and a connection whose allowance shrinks ends its newest channels.
   */
  channels(client: ClientInfo): ClientAllowance;
  /**
   * Authenticated connections the user may hold at once (undefined: no limit); beyond, authentication is refused
   * with TG_ERR_USER_CONNECTION_LIMIT (an upgrade with HTTP 429), and when the allowance shrinks the newest
   * connections are signed out.
   */
  connections(identity: Identity): ClientAllowance | undefined;
}

/** One shard's answer to `askEach`. */
export type ShardAnswer<T> = { shard: number; ok: true; data: T } | { shard: number; ok: false; error: Error & { code: string } };

/** Who a client is, as the authenticator established it from its credentials. Plain data. */
export interface Identity {
  /** The user's id: the key of their private channels (`account:<userId>`). */
  userId: string;
  /** `admin` may call admin routes and subscribe to every user's private channels; any other value is a plain user. */
  role: string;
  /** When the credential stops being valid (ms since the epoch); undefined: until it is revoked. */
  expiresAt: number | undefined;
  /** What authenticated the client, so that revoking it (a session, an API key) can find the connections it opened. */
  credential: { kind: 'token' | 'apiKey'; id: string };
}

/** A credential as the client presented it. */
export interface Credential {
  /**
   * `bearer`: `Authorization: Bearer …`, `?token=` on /ws, or the in-band `{"type":"auth","token":…}`;
   * `apiKey`: `X-API-Key`, `?apiKey=` on /ws, or the in-band `{"type":"auth","apiKey":…}`.
   */
  scheme: 'bearer' | 'apiKey';
  value: string;
  /** The client's address, for the authenticator's own limits on failed attempts. */
  remoteAddress: string;
}

/**
 * Turns a credential into an identity; registered by one plugin (the built-in `auth`). Rejects with a TickgateError
 * (a bad or expired token, a revoked key, too many failed attempts) that reaches the client as its code.
 */
export type Authenticator = (credential: Credential) => Promise<Identity>;

export interface ClientInfo {
  id: string;
  /** The authenticated user's id, or undefined for an anonymous connection. */
  userId: string | undefined;
  identity: Identity | undefined;
  /** The client's address (see RouteRequest.remoteAddress). */
  remoteAddress: string;
}

/** What a subscribe rule sees: the client, the channel asked for, and the client's current channels. */
export interface SubscribeRequest {
  client: ClientInfo;
  /** The full channel name, e.g. depth:BTCUSDT:100. */
  channel: string;
  kind: string;
  /** The symbol, or the user id of a user-keyed channel. */
  key: string;
  arg: string | undefined;
  /** The plugin that registered the channel's kind. */
  owner: string;
  /** The channels the client holds now (a rule re-run on an open connection sees the channel among them). */
  channels: readonly string[];
}

/**
 * Decides whether a client may hold a channel: return to allow, throw a TickgateError to refuse (the client gets
 * that code and message). Rules run when a client subscribes, after the name is valid and the core's rule for
 * user-keyed channels; they run again on the client's open subscriptions when its identity changes or a plugin asks
 * (`clients.recheck`), so a rule that depends on something that changes (a plan) applies live. Synchronous: keep what
 * it needs in memory.
 */
export type SubscribeRule = (req: SubscribeRequest) => void;

/** The open /ws connections, by user: how a plugin ends what a user may no longer have. */
export interface ClientsApi {
  /** The user's open, authenticated connections. */
  ofUser(userId: string): ClientInfo[];
  /**
   * Ends the authentication of the user's connections (all, or those whose identity `which` selects: one session,
   * one API key). Each becomes anonymous: it gets an `unauthenticated` frame with `error`, and each subscription it
   * may no longer hold ends with an error frame and `unsubscribed`; public channels stay. Returns the count.
   */
  signOut(userId: string, error: Error, which?: (identity: Identity) => boolean): number;
  /** Changes the role of the user's open connections, then rechecks their subscriptions (a demoted admin loses others' channels). */
  setRole(userId: string, role: string): void;
  /**
   * Runs the subscribe rules again on the user's open subscriptions: each one refused now ends with the rule's error.
   * Also asks the client policy again: a connection whose channel allowance changed gets a `limits` frame (and ends
   * its newest channels beyond a smaller one), and connections beyond a smaller connection allowance are signed out.
   */
  recheck(userId: string): void;
}

/** How a channel family's names are checked and where its frames come from. */
export interface ChannelSpec {
  /**
   * What the key (second part) is. `symbol`: an exchange symbol, checked against the symbols this deployment
   * serves; the channel is produced in the shard that owns the symbol. `user`: a user id; only that authenticated
   * user (or an admin) may subscribe, and the channel is produced on the acceptor with `AcceptorApi.publish`.
   */
  key: 'symbol' | 'user';
  /** Name of the third part for messages (e.g. "interval"). */
  argName?: string;
  /** Allowed values of the third part. Omitted: the channel takes no third part. */
  args?: readonly string[];
  /** Whether the third part must be given (default: true when `args` is set). */
  argRequired?: boolean;
  /** Error code for a third part not in `args` (default TG_ERR_INVALID_ARGUMENT); a core code or one of the plugin's. */
  argErrorCode?: AnyErrorCode;
  /** One line for docs and error messages, e.g. "24h ticker statistics". */
  description?: string;
  /**
   * The channels' frames are the producer's own bytes (`out.raw(payload)` in the shard half), e.g. another API's
   * payloads, for this plugin's own endpoint: it holds them with `watchRaw`. /ws clients cannot subscribe to the kind.
   * Needs `key: 'symbol'`.
   */
  raw?: boolean;
  /**
   * Clients may ask for at most one frame per interval with a `@RATE` suffix (price:BTCUSDT@1s): the latest value,
   * never an older one after a newer one, and the last one always sent at the interval's end. Only for channels whose
   * every frame is the whole current state (a price, a book), never for events (trades: each one counts). The shard
   * runs a conflated channel as a channel of its own, with its own `seq`. Needs `key: 'symbol'`, not raw.
   */
  conflate?: boolean;
}

/**
 * An acceptor-side producer of a user-keyed channel family (`ChannelSpec.key: 'user'`): told when a channel gains its
 * first subscriber and loses its last, to compute and publish only what someone watches (e.g. a portfolio marked to
 * live prices). `open` runs after the subscriber got `subscribed`, so a frame it publishes then is the channel's first.
 */
export interface UserChannelWatcher {
  open(channel: string, userId: string): void;
  close(channel: string, userId: string): void;
}

/** A frame of a channel as a plugin that watches it (`AcceptorApi.watch`) receives it: the frame as clients get it. */
export interface WatchedFrame {
  type: string;
  channel: string;
  /** The data frames' sequence number in the channel. */
  seq?: number;
  data?: unknown;
  /** True on the channel's latest frame handed to a watcher that joins a channel already open (not a new event). */
  snapshot?: boolean;
}

/** What a plugin's WebSocket endpoint sees of an upgrade request. */
export interface SocketUpgradeRequest {
  /** The path as requested, e.g. `/ws/btcusdt@trade`. */
  path: string;
  query: URLSearchParams;
  /** Request headers, names in lowercase. */
  headers: Record<string, string>;
  /** The client's address (see RouteRequest.remoteAddress). */
  remoteAddress: string;
}

/**
 * An upgrade's outcome: `{ accept: state }` opens the connection with that state, `{ refuse: … }` answers with an HTTP
 * status and a JSON body (e.g. another API's error) instead.
 */
export type SocketUpgrade<S> = { accept: S } | { refuse: { status: number; body: unknown; headers?: Record<string, string> } };

/** One connection to a plugin's WebSocket endpoint. */
export interface PluginSocket<S> {
  readonly id: string;
  readonly remoteAddress: string;
  /** What the endpoint's `upgrade` accepted the connection with. */
  readonly state: S;
  /** True once the connection is closed: sending then does nothing. */
  readonly closed: boolean;
  /** Sends one frame (text unless `isBinary`); false when it is queued behind what the client has not read yet. */
  send(message: string | Uint8Array, isBinary?: boolean): boolean;
  /** Closes the connection with a close frame (after what is queued); `close` then runs. */
  end(code?: number, reason?: string): void;
  /**
   * Joins one of this plugin's topics: each `publishTopic(topic, …)` reaches the connection, fanned out by uWebSockets.js
   * without JavaScript per connection. Topics are the plugin's own (they never meet channels or another plugin's).
   */
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Runs `fn` with the connection's writes gathered into one (several sends in answer to one message). */
  cork(fn: () => void): void;
}

/**
 * A WebSocket endpoint a plugin serves beside `/ws`, speaking a protocol of its own (e.g. another API's streams). The
 * core applies what every connection gets: refused while draining (503), an origin outside `server.wsOrigins` (403),
 * `limits.maxConnectionsPerIp` (429, counted with /ws connections), a version other than 13 (426); the send-queue
 * budget (4507) and close 1001 at shutdown. The protocol, its limits and its errors are the plugin's.
 */
export interface SocketEndpoint<S> {
  /** At the upgrade, synchronously: accept with the connection's state, or refuse with an HTTP answer. */
  upgrade(req: SocketUpgradeRequest): SocketUpgrade<S>;
  open?(socket: PluginSocket<S>): void;
  /** One message from the client; `data` is valid during this call only (copy what you keep). */
  message(socket: PluginSocket<S>, data: Buffer, isBinary: boolean): void;
  /** A ping or pong frame from the client (a ping is answered already), e.g. to count it against a message rate. */
  control?(socket: PluginSocket<S>, kind: 'ping' | 'pong'): void;
  /** The connection closed (its topics are left already). */
  close?(socket: PluginSocket<S>, code: number): void;
}

export interface SocketOptions {
  /** Largest message a client may send (default `limits.maxMessageBytes`): a larger one ends the connection. */
  maxMessageBytes?: number;
  /**
   * A connection that sends nothing for this long is closed (default `limits.idleTimeoutSeconds`); the server pings an
   * idle connection before then, and a client that answers stays.
   */
  idleTimeoutSeconds?: number;
}

/** A teardown function: runs once when the gateway stops (or when its start fails after this plugin loaded). */
export type Teardown = () => void | Promise<void>;

/** `C`: the plugin's config, as its configSchema's output types it. */
export interface AcceptorApi<C = Record<string, unknown>> {
  /** The plugin's declared name. */
  readonly name: string;
  /** This plugin's section of config.yaml, validated by its configSchema (defaults filled in). */
  readonly config: C;
  readonly log: Logger;
  /** The symbols this deployment serves, with their exchange filters. */
  readonly symbols: SymbolsService;
  /**
   * An HTTP route. The path must lie under `/api/v1/<plugin name>` unless `opts.outsideNamespace` is set. With
   * `opts.schema`, the handler's `req.params`, `req.query` and `req.body` are typed by the schema's parsed output.
   */
  route<P = Record<string, string>, Q = URLSearchParams, B = unknown>(method: HttpMethod, path: string, handler: RouteHandler<P, Q, B>, opts?: RouteOptions<P, Q, B>): void;
  channel(kind: string, spec: ChannelSpec): void;
  /** Publishes a frame on one of this plugin's acceptor-produced (`key: 'user'`) channels. */
  publish(channel: string, type: string, data: unknown): void;
  /**
   * Asks this plugin's shard half (its `answer` for `question`) in the shard that owns `symbol`. Rejects with a
   * TickgateError: the answer's own coded error (the core's or this plugin's), TG_ERR_DATA_UNAVAILABLE on timeout
   * or while the shard restarts, TG_ERR_SYMBOL_LIMIT when the symbol would exceed `symbols.maxActive`.
   */
  ask<T>(symbol: string, question: string, params?: unknown, timeoutMs?: number): Promise<T>;
  /**
   * Asks this plugin's shard half in every shard (e.g. to reload something all shards hold); its `answer` sees
   * `ctx.symbol` as ''. Resolves with one result per shard, in shard order, never rejects: a shard that is down or
   * does not answer in time is reported with TG_ERR_DATA_UNAVAILABLE.
   */
  askEach<T>(question: string, params?: unknown, timeoutMs?: number): Promise<Array<ShardAnswer<T>>>;
  /**
   * Hears what this plugin's shard half tells it with `ShardApi.report(event, data)`; `shard` is the shard that sent
   * it. A throw (or a rejected promise) is logged and contained.
   */
  onReport(event: string, fn: (data: unknown, from: { shard: number }) => void | Promise<void>): void;
  /**
   * Runs when a shard has started (after the gateway's start, and again after a shard restarted): state this plugin's
   * shard half keeps in memory (e.g. resting orders) is handed to it again here; `shardOf` tells which symbols it owns.
   */
  onShardStart(fn: (shard: number) => void | Promise<void>): void;
  /**
   * Tells this plugin's acceptor half on every other gateway of a cluster: its `onBroadcast(event)` handler runs there
   * with `data` (plain JSON). Standalone there is no other gateway and nothing is sent. Use it for what each gateway
   * holds in memory about users: a session ended here is ended (and forgotten by caches) on every gateway.
   */
  broadcast(event: string, data: unknown): void;
  /**
   * True on a gateway of a cluster: a frame `publish`ed on a user channel reaches the user's connections on every
   * gateway, so an event every gateway notices by itself (a database refresh) should be published by one of them.
   */
  readonly clustered: boolean;
  /** Hears `broadcast(event, data)` from this plugin on another gateway. A throw (or a rejection) is logged and contained. */
  onBroadcast(event: string, fn: (data: unknown) => void | Promise<void>): void;
  /** The shard that owns a symbol (where `ask(symbol, …)` goes). */
  shardOf(symbol: string): number;
  /** Told when a user-keyed channel of `kind` (any plugin's) gains its first subscriber and loses its last. */
  onChannel(kind: string, watcher: UserChannelWatcher): void;
  /**
   * Holds a channel as a subscriber does (a symbol channel opens at its shard as for a client) and calls `fn` with
   * each frame, the latest one (`snapshot`) first; no plan or user rule applies to the gateway's own plugins.
   * Returns the function that lets it go. Throws a TickgateError for a channel name that is not valid.
   */
  watch(channel: string, fn: (frame: WatchedFrame) => void): () => void;
  /**
   * Holds a channel of a `raw` kind (the channel opens at its shard as for a subscriber) and hands `frame` the bytes of
   * each frame its producer sends with `out.raw`, unparsed, once per frame whoever is served from it (e.g. publish
   * them to a topic of this plugin's sockets). A raw channel keeps no snapshot: frames start with the next one.
   * `ended` runs if the channel fails (its producer failed, the exchange refused its data): the hold is over. Returns
   * the function that lets go. Throws a TickgateError for a name that is not valid, or not of a raw kind.
   */
  watchRaw(channel: string, frame: (bytes: Uint8Array) => void, ended?: () => void): () => void;
  /**
   * Serves a WebSocket endpoint of this plugin at `pattern` (uWebSockets.js's: `/stream`, `/ws/*`, `/feed/:id`); not
   * `/ws` itself, nor a pattern another plugin serves.
   */
  websocket<S>(pattern: string, endpoint: SocketEndpoint<S>, opts?: SocketOptions): void;
  /**
   * Sends one frame (text unless `isBinary`) to every socket of this plugin's endpoints that joined `topic`: one call
   * per frame, the fan-out is native.
   */
  publishTopic(topic: string, message: string | Uint8Array, isBinary?: boolean): void;
  /** Offers a service to plugins loaded after this one. Names are namespaced: the plugin's name, or `<name>.<part>`. */
  provide<T>(name: string, service: T): void;
  /** A service another plugin provided (it must be listed earlier in config.yaml). */
  use<T>(name: string): T;
  /**
   * `connect` and `disconnect` of every /ws client; `authenticated` when a connection's identity is set (on upgrade
   * with credentials, or in-band).
   */
  on(event: 'connect' | 'disconnect' | 'authenticated', fn: (client: ClientInfo) => void): void;
  /**
   * Whether a plugin loaded before this one registered the authenticator, so routes with `auth` can be served (a
   * plugin whose authenticated routes are optional leaves them out otherwise).
   */
  authenticates(): boolean;
  /** Registers the gateway's authenticator: one plugin may (the built-in `auth`). */
  authenticate(authenticator: Authenticator): void;
  /** Adds a rule every subscription must pass (see SubscribeRule); rules run in plugin load order. */
  onSubscribe(rule: SubscribeRule): void;
  /** Adds a rule every request to an `/api/` route must pass (see RequestRule). */
  onRequest(rule: RequestRule): void;
  /** Sets the per-connection limits by client (see ClientPolicy): one plugin may. */
  limitClients(policy: ClientPolicy): void;
  /** The open connections: sign a user out, change their role, recheck their subscriptions. */
  readonly clients: ClientsApi;
  /** Runs at shutdown, after the clients and the shards are closed; plugins are torn down in reverse load order. */
  onClose(fn: Teardown): void;
  /** Prometheus metrics of this plugin, served on GET /metrics with the gateway's, named tickgate_<plugin>_<name>. */
  readonly metrics: PluginMetrics;
}

/** Label values by label name. */
export type MetricLabels = Record<string, string | number>;

export interface MetricCounter {
  inc(value?: number): void;
  inc(labels: MetricLabels, value?: number): void;
}

export interface MetricGauge {
  set(value: number): void;
  set(labels: MetricLabels, value: number): void;
  inc(value?: number): void;
  inc(labels: MetricLabels, value?: number): void;
  dec(value?: number): void;
  dec(labels: MetricLabels, value?: number): void;
}

export interface MetricHistogram {
  observe(value: number): void;
  observe(labels: MetricLabels, value: number): void;
}

/**
 * Registers metrics (prom-client's, underneath). `name`: lowercase letters, digits and `_`, registered as
 * `tickgate_<plugin>_<name>` (a plugin name's `-` written `_`); counters' names end in `_total` by convention. Keep
 * label values few (a symbol is fine, a user id is not). Registering a name twice throws.
 */
export interface PluginMetrics {
  counter(name: string, help: string, labelNames?: string[]): MetricCounter;
  /** With `collect`: called on each scrape to set the gauge from state the plugin keeps anyway. */
  gauge(name: string, help: string, labelNames?: string[], collect?: (gauge: MetricGauge) => void): MetricGauge;
  /** `buckets`: upper bounds, in the unit of the name (seconds for *_seconds); prom-client's defaults otherwise. */
  histogram(name: string, help: string, labelNames?: string[], buckets?: number[]): MetricHistogram;
}

/** A schema with zod's safeParse shape; plugins may use zod or anything that offers the same method. */
export interface ConfigSchema<C = unknown> {
  safeParse(input: unknown): { success: true; data: C } | { success: false; error: { issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string }> } };
}

export interface PluginDefinition<C = Record<string, unknown>> {
  /** Lowercase letters, digits and "-"; used for logs, the route namespace, services and its config entry. */
  name: string;
  /** Validates (and fills defaults into) the plugin's `config` section of config.yaml; its output types `api.config`. */
  configSchema?: ConfigSchema<C>;
  /** The plugin's own error codes (from defineErrors), registered in the gateway's error table in both halves. */
  errors?: ErrorTable;
  /** Runs once in the acceptor: routes, channel families, services. */
  acceptor?(api: AcceptorApi<C>): void | Promise<void>;
  /**
   * Module run once in every shard worker; its default export receives the ShardApi.
   * Functions cannot cross threads, so the shard half is named by its URL.
   */
  shard?: URL | string;
}

/** Identity function that only gives types (the config's type comes from configSchema). */
export function definePlugin<C = Record<string, unknown>>(def: PluginDefinition<C>): PluginDefinition<C> {
  return def;
}
