// The hook API plugins are written against: definePlugin, the acceptor half's API and channel specs.
import type { Logger } from './logger.js';
import type { AnyErrorCode, ErrorTable } from './errors.js';
import type { SymbolsService } from './symbol-registry.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'del' | 'options';

export interface RouteRequest {
  method: string;
  path: string;
  /** Route parameters, by the names used in the route's path (`/api/v1/things/:id` → params.id). */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Request headers, names in lowercase. */
  headers: Record<string, string>;
  /** Parsed JSON body for requests that carry one; undefined otherwise. */
  body: unknown;
  /** The client's address: the peer's, or the one a trusted reverse proxy forwarded (server.trustProxy). */
  remoteAddress: string;
}

export interface RouteResult {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}

export type RouteHandler = (req: RouteRequest) => RouteResult | Promise<RouteResult>;

export interface RouteOptions {
  /** Largest accepted request body in bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /**
   * A plugin's routes live under `/api/v1/<plugin name>`. Set this to serve a path outside that namespace (for
   * example an API another product's clients already speak); a path another plugin holds is still refused.
   */
  outsideNamespace?: boolean;
}

export interface ClientInfo {
  id: string;
  userId: string | undefined;
  /** The client's address (see RouteRequest.remoteAddress). */
  remoteAddress: string;
}

/** How a channel family's names are checked and where its frames come from. */
export interface ChannelSpec {
  /**
   * What the key (second part) is. `symbol`: an exchange symbol, checked against the symbols this deployment
   * serves; the channel is produced in the shard that owns the symbol. `user`: a user id; only that authenticated
   * user may subscribe, and the channel is produced on the acceptor with `AcceptorApi.publish`.
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
  /** An HTTP route. The path must lie under `/api/v1/<plugin name>` unless `opts.outsideNamespace` is set. */
  route(method: HttpMethod, path: string, handler: RouteHandler, opts?: RouteOptions): void;
  channel(kind: string, spec: ChannelSpec): void;
  /** Publishes a frame on one of this plugin's acceptor-produced (`key: 'user'`) channels. */
  publish(channel: string, type: string, data: unknown): void;
  /**
   * Asks this plugin's shard half (its `answer` for `question`) in the shard that owns `symbol`. Rejects with a
   * TickgateError: the answer's own coded error (the core's or this plugin's), TG_ERR_DATA_UNAVAILABLE on timeout
   * or while the shard restarts, TG_ERR_SYMBOL_LIMIT when the symbol would exceed `symbols.maxActive`.
   */
  ask<T>(symbol: string, question: string, params?: unknown, timeoutMs?: number): Promise<T>;
  /** Offers a service to plugins loaded after this one. Names are namespaced: the plugin's name, or `<name>.<part>`. */
  provide<T>(name: string, service: T): void;
  /** A service another plugin provided (it must be listed earlier in config.yaml). */
  use<T>(name: string): T;
  on(event: 'connect' | 'disconnect', fn: (client: ClientInfo) => void): void;
  /** Runs at shutdown, after the clients and the shards are closed; plugins are torn down in reverse load order. */
  onClose(fn: Teardown): void;
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
