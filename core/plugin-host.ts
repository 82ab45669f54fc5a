// Loads the plugins listed in config.yaml: validates their config, registers their error codes, runs their acceptor
// halves with names namespaced per plugin, names their shard halves, and tears them down in reverse order.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginEntry } from './config.js';
import { ConfigError } from './config.js';
import type { Logger } from './logger.js';
import type { AcceptorApi, ClientInfo, PluginDefinition, PluginMetrics, RouteHandler, HttpMethod, RouteOptions, ShardAnswer, SocketEndpoint, SocketOptions, Teardown, UserChannelWatcher, WatchedFrame } from './plugin-api.js';
import type { ChannelRegistry } from './channel-registry.js';
import type { ErrorRegistry } from './errors.js';
import type { SymbolRegistry } from './symbol-registry.js';
import type { ShardPluginRef } from '../shards/worker.js';
import type { AccessControl } from './access-control.js';
import type { ClientDirectory } from './client-directory.js';

export interface PluginHostDeps {
  log: Logger;
  channels: ChannelRegistry;
  errors: ErrorRegistry;
  symbols: SymbolRegistry;
  access: AccessControl;
  clients: ClientDirectory;
  /** Registers a route; `owner` is named in the error when another owner holds the same method and path. */
  route<P, Q, B>(owner: string, method: HttpMethod, path: string, handler: RouteHandler<P, Q, B>, opts?: RouteOptions<P, Q, B>): void;
  publish(plugin: string, channel: string, type: string, data: unknown): void;
  ask(plugin: string, symbol: string, question: string, params: unknown, timeoutMs: number): Promise<unknown>;
  askEach(plugin: string, question: string, params: unknown, timeoutMs: number): Promise<Array<ShardAnswer<unknown>>>;
  shardOf(symbol: string): number;
  watch(plugin: string, channel: string, fn: (frame: WatchedFrame) => void): () => void;
  watchRaw(plugin: string, channel: string, frame: (bytes: Uint8Array) => void, ended?: () => void): () => void;
  websocket(plugin: string, pattern: string, endpoint: SocketEndpoint<unknown>, opts?: SocketOptions): void;
  publishTopic(plugin: string, topic: string, message: string | Uint8Array, isBinary?: boolean): void;
  metrics(plugin: string): PluginMetrics;
  /** To this plugin's acceptor half on the cluster's other gateways (nothing standalone). */
  broadcast(plugin: string, event: string, data: unknown): void;
  /** Whether this gateway is part of a cluster. */
  clustered: boolean;
}

type ClientEvent = 'connect' | 'disconnect' | 'authenticated';

/** A plugin that cannot be loaded: the start stops with this message and exit code 3. */
export class PluginLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginLoadError';
  }
}

const NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;
/** Names the core's own routes and services use. */
const RESERVED_NAMES = new Set(['core', 'ws', 'health', 'api', 'tickgate']);

/** Runs a registration; what it refuses stops the plugin's load with the same message. */
function asLoadError(register: () => void): void {
  try {
    register();
  } catch (err) {
    throw new PluginLoadError((err as Error).message);
  }
}

export class PluginHost {
  private readonly services = new Map<string, { plugin: string; service: unknown }>();
  private readonly listeners: Record<ClientEvent, Array<{ plugin: string; fn: (c: ClientInfo) => void }>> = { connect: [], disconnect: [], authenticated: [] };
  private readonly teardowns: Array<{ plugin: string; fn: Teardown }> = [];
  /** Report handlers by `<plugin>:<event>`. */
  private readonly reports = new Map<string, (data: unknown, from: { shard: number }) => void | Promise<void>>();
  /** Broadcast handlers by `<plugin>:<event>`. */
  private readonly broadcasts = new Map<string, (data: unknown) => void | Promise<void>>();
  private readonly shardStarts: Array<{ plugin: string; fn: (shard: number) => void | Promise<void> }> = [];
  private readonly channelWatchers = new Map<string, Array<{ plugin: string; watcher: UserChannelWatcher }>>();
  /** Where each loaded plugin came from, for the message when a second one declares the same name. */
  private readonly sources = new Map<string, string>();
  readonly loaded: Array<{ name: string; shard: boolean }> = [];
  readonly shardRefs: ShardPluginRef[] = [];

  constructor(private readonly deps: PluginHostDeps) {}

  /** A host that only names shard halves (loadShardHalves): an ingest node runs no acceptor half. */
  static forShardHalves(log: Logger, errors: ErrorRegistry, channels: ChannelRegistry): PluginHost {
    return new PluginHost({ log, errors, channels } as PluginHostDeps);
  }

  async load(entries: PluginEntry[]): Promise<void> {
    for (const entry of entries) await this.loadOne(entry, true);
  }

  /**
   * An ingest node's plugins: their configs checked, their error codes registered and their shard halves named; their
   * acceptor halves (routes, accounts, payments) run on the gateways, not here.
   */
  async loadShardHalves(entries: PluginEntry[]): Promise<void> {
    for (const entry of entries) await this.loadOne(entry, false);
  }

  private async loadOne(entry: PluginEntry, acceptor: boolean): Promise<void> {
    const builtIn = entry.path === undefined;
    const url = builtIn ? new URL(`../plugins/${entry.name}/index.js`, import.meta.url) : pathToFileURL(entry.path!);
    const label = entry.name ?? entry.path;
    let mod: { default?: PluginDefinition };
    try {
      mod = (await import(url.href)) as { default?: PluginDefinition };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const hint = builtIn ? ` (no built-in plugin is called "${entry.name}"; a plugin of your own needs a path: in config.yaml)` : '';
      throw new PluginLoadError(`plugin "${label}": cannot load ${url.href}: ${why}${hint}`);
    }
    const def = mod.default;
    if (!def || typeof def !== 'object' || typeof def.name !== 'string') {
      throw new PluginLoadError(`plugin "${label}": ${url.href} must default-export definePlugin({ name, ... })`);
    }
    const name = def.name;
    if (!NAME_RE.test(name) || RESERVED_NAMES.has(name)) {
      throw new PluginLoadError(`plugin at ${url.href}: its name "${name}" must be lowercase letters, digits and "-" (at most 32, starting with a letter), and not one of ${[...RESERVED_NAMES].join(', ')}`);
    }
    if (entry.name !== undefined && entry.name !== name) {
      throw new PluginLoadError(`plugin at ${url.href} declares the name "${name}", but config.yaml lists it as "${entry.name}": use name: ${name} (or leave the name out)`);
    }
    const earlier = this.sources.get(name);
    if (earlier) throw new PluginLoadError(`plugin "${name}" from ${url.href}: a plugin named "${name}" is already loaded (from ${earlier}); plugin names must be unique`);
    this.sources.set(name, url.href);
    let config: Record<string, unknown> = entry.config;
    if (def.configSchema) {
      const parsed = def.configSchema.safeParse(entry.config);
      if (!parsed.success) {
        const lines = parsed.error.issues.map((i) => `plugins.${name}.config${i.path.length ? '.' + i.path.map(String).join('.') : ''}: ${i.message}`);
        throw new ConfigError(`invalid configuration for plugin "${name}":\n  ${lines.join('\n  ')}`);
      }
      config = (parsed.data ?? {}) as Record<string, unknown>;
    }
    const errors = def.errors ? { prefix: def.errors.prefix, codes: { ...def.errors.codes } } : undefined;
    if (errors) {
      try {
        this.deps.errors.register(name, errors, builtIn);
      } catch (err) {
        throw new PluginLoadError((err as Error).message);
      }
    }
    const log = this.deps.log.child({ plugin: name });
    if (def.acceptor && acceptor) {
      try {
        await def.acceptor(this.apiFor(name, config, log));
      } catch (err) {
        if (err instanceof ConfigError || err instanceof PluginLoadError) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new PluginLoadError(`plugin "${name}": its acceptor setup failed: ${why}`);
      }
    }
    let shardUrl: string | undefined;
    if (def.shard !== undefined) {
      if (def.shard instanceof URL) shardUrl = def.shard.href;
      else if (typeof def.shard === 'string' && isAbsolute(def.shard)) shardUrl = pathToFileURL(def.shard).href;
      else if (typeof def.shard === 'string' && /^file:/.test(def.shard)) shardUrl = def.shard;
      else throw new PluginLoadError(`plugin "${name}": shard must be a URL, e.g. new URL('./shard.js', import.meta.url)`);
    }
    // Every plugin's error codes go to the shards, so a shard knows the codes a plugin without a shard half may share.
    const kinds = acceptor ? this.deps.channels.list().filter((k) => k.plugin === name && k.spec.key === 'symbol').map((k) => k.kind) : null;
    const latestKinds = acceptor ? this.deps.channels.list().filter((k) => k.plugin === name && k.spec.key === 'symbol' && k.spec.conflate).map((k) => k.kind) : null;
    this.shardRefs.push({ name, shardUrl, config, errors, builtIn, kinds, latestKinds });
    this.loaded.push({ name, shard: shardUrl !== undefined });
    log.debug('plugin loaded');
  }

  /** The plugin's metrics API: a name it may not register stops its load with the reason. */
  private metricsFor(plugin: string): PluginMetrics {
    const m = this.deps.metrics(plugin);
    const guard = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A): R => {
      try {
        return fn(...args);
      } catch (err) {
        throw new PluginLoadError((err as Error).message);
      }
    };
    return { counter: guard(m.counter), gauge: guard(m.gauge), histogram: guard(m.histogram) };
  }

  private apiFor(plugin: string, config: Record<string, unknown>, log: Logger): AcceptorApi {
    const namespace = `/api/v1/${plugin}`;
    return {
      name: plugin,
      config,
      log,
      symbols: this.deps.symbols,
      route: (method, path, handler, opts) => {
        const inside = path === namespace || path.startsWith(`${namespace}/`);
        if (!inside && !opts?.outsideNamespace) {
          throw new PluginLoadError(`plugin "${plugin}": route ${path} is outside its namespace: a plugin's routes live under ${namespace}/ (pass { outsideNamespace: true } to serve another path on purpose)`);
        }
        this.deps.route(`plugin "${plugin}"`, method, path, handler, opts);
      },
      channel: (kind, spec) => this.deps.channels.register(plugin, kind, spec),
      publish: (channel, type, data) => this.deps.publish(plugin, channel, type, data),
      ask: <T>(symbol: string, question: string, params?: unknown, timeoutMs = 8000) => this.deps.ask(plugin, symbol, question, params, timeoutMs) as Promise<T>,
      askEach: <T>(question: string, params?: unknown, timeoutMs = 8000) => this.deps.askEach(plugin, question, params, timeoutMs) as Promise<Array<ShardAnswer<T>>>,
      onReport: (event, fn) => {
        const key = `${plugin}:${event}`;
        if (this.reports.has(key)) throw new PluginLoadError(`plugin "${plugin}": it hears report "${event}" twice`);
        this.reports.set(key, fn);
      },
      clustered: this.deps.clustered,
      broadcast: (event, data) => {
        if (typeof event !== 'string' || event === '') throw new Error(`plugin "${plugin}": broadcast() needs an event name`);
        this.deps.broadcast(plugin, event, data);
      },
      onBroadcast: (event, fn) => {
        const key = `${plugin}:${event}`;
        if (this.broadcasts.has(key)) throw new PluginLoadError(`plugin "${plugin}": it hears broadcast "${event}" twice`);
        this.broadcasts.set(key, fn);
      },
      onShardStart: (fn) => {
        this.shardStarts.push({ plugin, fn });
      },
      shardOf: (symbol) => this.deps.shardOf(symbol),
      onChannel: (kind, watcher) => {
        const family = this.deps.channels.get(kind);
        if (!family || family.spec.key !== 'user') {
          throw new PluginLoadError(`plugin "${plugin}": onChannel("${kind}") needs a user-keyed channel kind registered by a plugin loaded before it${family ? ` ("${kind}" is keyed by symbol)` : ''}`);
        }
        const list = this.channelWatchers.get(kind) ?? [];
        list.push({ plugin, watcher });
        this.channelWatchers.set(kind, list);
      },
      watch: (channel, fn) => this.deps.watch(plugin, channel, fn),
      watchRaw: (channel, frame, ended) => this.deps.watchRaw(plugin, channel, frame, ended),
      websocket: (pattern, endpoint, opts) => asLoadError(() => this.deps.websocket(plugin, pattern, endpoint as SocketEndpoint<unknown>, opts)),
      publishTopic: (topic, message, isBinary) => this.deps.publishTopic(plugin, topic, message, isBinary),
      provide: (name, service) => {
        if (name !== plugin && !name.startsWith(`${plugin}.`)) {
          throw new PluginLoadError(`plugin "${plugin}": service "${name}" is outside its namespace: call it "${plugin}" or "${plugin}.<name>"`);
        }
        const existing = this.services.get(name);
        if (existing) throw new PluginLoadError(`plugin "${plugin}": service "${name}" is already provided`);
        this.services.set(name, { plugin, service });
      },
      use: <T>(name: string): T => {
        const found = this.services.get(name);
        if (!found) throw new PluginLoadError(`plugin "${plugin}" needs service "${name}", which no plugin loaded before it provides: list the provider earlier in config.yaml`);
        return found.service as T;
      },
      on: (event, fn) => {
        if (!Object.hasOwn(this.listeners, event)) throw new PluginLoadError(`plugin "${plugin}": no event "${String(event)}": use "connect", "disconnect" or "authenticated"`);
        this.listeners[event].push({ plugin, fn });
      },
      authenticates: () => this.deps.access.hasAuthenticator,
      authenticate: (fn) => asLoadError(() => this.deps.access.setAuthenticator(plugin, fn)),
      onSubscribe: (rule) => asLoadError(() => this.deps.access.addRule(plugin, rule)),
      onRequest: (rule) => asLoadError(() => this.deps.access.addRequestRule(plugin, rule)),
      limitClients: (policy) => asLoadError(() => this.deps.access.setPolicy(plugin, policy)),
      clients: this.deps.clients,
      metrics: this.metricsFor(plugin),
      onClose: (fn) => {
        this.teardowns.push({ plugin, fn });
      },
    };
  }

  emit(event: ClientEvent, client: ClientInfo): void {
    for (const { plugin, fn } of this.listeners[event]) {
      try {
        fn(client);
      } catch (err) {
        this.deps.log.error({ err, plugin, event }, 'plugin event listener threw (contained)');
      }
    }
  }

  /** Hands a shard half's report to its acceptor half; failures are logged and contained. */
  report(plugin: string, event: string, data: unknown, shard: number): void {
    const fn = this.reports.get(`${plugin}:${event}`);
    if (!fn) {
      this.deps.log.warn({ plugin, event, shard }, 'a shard half reported an event its acceptor half does not hear');
      return;
    }
    this.contain(plugin, `report ${event}`, () => fn(data, { shard }));
  }

  /** A plugin's broadcast from another gateway of the cluster. */
  broadcastReceived(plugin: string, event: string, data: unknown): void {
    const fn = this.broadcasts.get(`${plugin}:${event}`);
    if (!fn) {
      this.deps.log.warn({ plugin, event }, 'a broadcast from another gateway that no plugin here hears (do the gateways run the same plugins?)');
      return;
    }
    this.contain(plugin, `broadcast ${event}`, () => fn(data));
  }

  shardStarted(shard: number): void {
    for (const { plugin, fn } of this.shardStarts) this.contain(plugin, 'onShardStart', () => fn(shard));
  }

  /** A user-keyed channel gained its first subscriber (`open`) or lost its last. */
  userChannel(event: 'open' | 'close', kind: string, channel: string, userId: string): void {
    for (const { plugin, watcher } of this.channelWatchers.get(kind) ?? []) this.contain(plugin, `onChannel ${event}`, () => watcher[event](channel, userId));
  }

  private contain(plugin: string, what: string, fn: () => unknown): void {
    try {
      const r = fn();
      if (r instanceof Promise) r.catch((err: unknown) => this.deps.log.error({ err, plugin }, `plugin ${what} failed (contained)`));
    } catch (err) {
      this.deps.log.error({ err, plugin }, `plugin ${what} failed (contained)`);
    }
  }

  /**
   * Runs the acceptor halves' teardowns, last loaded first, all within `timeoutMs`; each failure is logged, none
   * stops the others (one that outlives the time is abandoned, and the rest are still started).
   */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const { plugin, fn } of this.teardowns.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const left = Math.max(0, deadline - Date.now());
      try {
        await Promise.race([
          Promise.resolve().then(fn),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not finish within the ${timeoutMs} ms all teardowns get (server.drainTimeoutMs)`)), left);
          }),
        ]);
      } catch (err) {
        this.deps.log.error({ err, plugin }, 'plugin teardown failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
