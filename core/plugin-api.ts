// The hook API plugins are written against: definePlugin, the acceptor half's API and channel specs.
import type { Logger } from './logger.js';
import type { ErrorCode } from './errors.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'del' | 'options';

export interface RouteRequest {
  method: string;
  path: string;
  /** Route parameters, by the names used in the route's path (`/api/v1/things/:id` → params.id). */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: Record<string, string>;
  /** Parsed JSON body for requests that carry one; undefined otherwise. */
  body: unknown;
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
}

export interface ClientInfo {
  id: string;
  userId: string | undefined;
  remoteAddress: string;
}

/** How a channel family's names are checked and where its frames come from. */
export interface ChannelSpec {
  /**
   * What the key (second part) is. `symbol`: an exchange symbol, checked against the exchange's symbol list;
   * the channel is produced in the shard that owns the symbol. `user`: a user id; only that authenticated user
   * may subscribe, and the channel is produced on the acceptor with `AcceptorApi.publish`.
   */
  key: 'symbol' | 'user';
  /** Name of the third part for messages (e.g. "interval"). */
  argName?: string;
  /** Allowed values of the third part. Omitted: the channel takes no third part. */
  args?: readonly string[];
  /** Whether the third part must be given (default: true when `args` is set). */
  argRequired?: boolean;
  /** Error code for a third part not in `args` (default TG_ERR_INVALID_ARGUMENT). */
  argErrorCode?: ErrorCode;
  /** One line for docs and error messages, e.g. "24h ticker statistics". */
  description?: string;
}

export interface AcceptorApi {
  /** This plugin's section of config.yaml, validated by its configSchema. */
  readonly config: Record<string, unknown>;
  readonly log: Logger;
  route(method: HttpMethod, path: string, handler: RouteHandler, opts?: RouteOptions): void;
  channel(kind: string, spec: ChannelSpec): void;
  /** Publishes a frame on an acceptor-produced channel (private channels). */
  publish(channel: string, type: string, data: unknown): void;
  /**
   * Asks this plugin's shard half (its `answer` for `question`) in the shard that owns `symbol`. Rejects with a
   * TickgateError: the answer's own coded error, or TG_ERR_DATA_UNAVAILABLE on timeout or while the shard restarts.
   */
  ask<T>(symbol: string, question: string, params?: unknown, timeoutMs?: number): Promise<T>;
  provide<T>(name: string, service: T): void;
  use<T>(name: string): T;
  on(event: 'connect' | 'disconnect', fn: (client: ClientInfo) => void): void;
}

/** A schema with zod's safeParse shape; plugins may use zod or anything that offers the same method. */
export interface ConfigSchema {
  safeParse(input: unknown): { success: true; data: unknown } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
}

export interface PluginDefinition {
  name: string;
  configSchema?: ConfigSchema;
  /** Runs once in the acceptor: routes, channel families, services. */
  acceptor?(api: AcceptorApi): void | Promise<void>;
  /**
   * Module run once in every shard worker; its default export receives the ShardApi (see shards/shard-api.ts).
   * Functions cannot cross threads, so the shard half is named by its URL.
   */
  shard?: URL | string;
}

/** Identity function that only gives types. */
export function definePlugin(def: PluginDefinition): PluginDefinition {
  return def;
}
