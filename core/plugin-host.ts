// Loads the plugins listed in config.yaml, validates their config, runs their acceptor halves and names their shard halves.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginEntry } from './config.js';
import { ConfigError } from './config.js';
import type { Logger } from './logger.js';
import type { AcceptorApi, ClientInfo, PluginDefinition, RouteHandler, HttpMethod, RouteOptions } from './plugin-api.js';
import type { ChannelRegistry } from './channel-registry.js';
import type { ShardPluginRef } from './shard-pool.js';

export interface PluginHostDeps {
  log: Logger;
  channels: ChannelRegistry;
  route(method: HttpMethod, path: string, handler: RouteHandler, opts?: RouteOptions): void;
  publish(plugin: string, channel: string, type: string, data: unknown): void;
  ask(plugin: string, symbol: string, question: string, params: unknown, timeoutMs: number): Promise<unknown>;
}

type ClientEvent = 'connect' | 'disconnect';

export class PluginLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginLoadError';
  }
}

export class PluginHost {
  private readonly services = new Map<string, { plugin: string; service: unknown }>();
  private readonly listeners: Record<ClientEvent, Array<{ plugin: string; fn: (c: ClientInfo) => void }>> = { connect: [], disconnect: [] };
  readonly loaded: Array<{ name: string; shard: boolean }> = [];
  readonly shardRefs: ShardPluginRef[] = [];

  constructor(private readonly deps: PluginHostDeps) {}

  /** Services the core offers to every plugin (e.g. 'symbols'). */
  provideCore(name: string, service: unknown): void {
    this.services.set(name, { plugin: 'core', service });
  }

  async load(entries: PluginEntry[]): Promise<void> {
    for (const entry of entries) await this.loadOne(entry);
  }

  private async loadOne(entry: PluginEntry): Promise<void> {
    const url = entry.path
      ? (isAbsolute(entry.path) ? pathToFileURL(entry.path) : new URL(entry.path))
      : new URL(`../plugins/${entry.name}/index.js`, import.meta.url);
    let mod: { default?: PluginDefinition };
    try {
      mod = (await import(url.href)) as { default?: PluginDefinition };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new PluginLoadError(`plugin "${entry.name}": cannot load ${url.href}: ${why}`);
    }
    const def = mod.default;
    if (!def || typeof def !== 'object' || typeof def.name !== 'string') {
      throw new PluginLoadError(`plugin "${entry.name}": ${url.href} must default-export definePlugin({ name, ... })`);
    }
    let config: Record<string, unknown> = entry.config;
    if (def.configSchema) {
      const parsed = def.configSchema.safeParse(entry.config);
      if (!parsed.success) {
        const lines = parsed.error.issues.map((i) => `plugins.${entry.name}.config${i.path.length ? '.' + i.path.map(String).join('.') : ''}: ${i.message}`);
        throw new ConfigError(`invalid configuration for plugin "${entry.name}":\n  ${lines.join('\n  ')}`);
      }
      config = (parsed.data ?? {}) as Record<string, unknown>;
    }
    const log = this.deps.log.child({ plugin: entry.name });
    if (def.acceptor) {
      try {
        await def.acceptor(this.apiFor(entry.name, config, log));
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new PluginLoadError(`plugin "${entry.name}": its acceptor setup failed: ${why}`);
      }
    }
    if (def.shard) {
      const shardUrl = def.shard instanceof URL ? def.shard.href : isAbsolute(def.shard) ? pathToFileURL(def.shard).href : def.shard;
      this.shardRefs.push({ name: entry.name, shardUrl, config });
    }
    this.loaded.push({ name: entry.name, shard: Boolean(def.shard) });
    log.debug('plugin loaded');
  }

  private apiFor(plugin: string, config: Record<string, unknown>, log: Logger): AcceptorApi {
    return {
      config,
      log,
      route: (method, path, handler, opts) => this.deps.route(method, path, handler, opts),
      channel: (kind, spec) => this.deps.channels.register(plugin, kind, spec),
      publish: (channel, type, data) => this.deps.publish(plugin, channel, type, data),
      ask: <T>(symbol: string, question: string, params?: unknown, timeoutMs = 8000) => this.deps.ask(plugin, symbol, question, params, timeoutMs) as Promise<T>,
      provide: (name, service) => {
        const existing = this.services.get(name);
        if (existing) throw new PluginLoadError(`plugin "${plugin}": service "${name}" is already provided by "${existing.plugin}"`);
        this.services.set(name, { plugin, service });
      },
      use: <T>(name: string): T => {
        const found = this.services.get(name);
        if (!found) throw new PluginLoadError(`plugin "${plugin}" needs service "${name}", which no plugin loaded before it provides: list the provider earlier in config.yaml`);
        return found.service as T;
      },
      on: (event, fn) => {
        this.listeners[event].push({ plugin, fn });
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
}
