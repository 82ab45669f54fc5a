// Loads config.yaml, applies environment overrides and validates the result; the only module that reads process.env.
import { readFileSync, existsSync } from 'node:fs';
import { availableParallelism, hostname, totalmem } from 'node:os';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseDocument } from 'yaml';
import { z } from 'zod';
import { EXCHANGES, type ExchangeName } from '../shards/exchanges/adapters.js';
import { SYMBOL_RE } from './channel-grammar.js';
import { clientAddressResolver } from './client-address.js';

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const pluginEntry = z.union([
  z.string().min(1),
  z.object({
    /** The plugin's declared name: required for a built-in plugin, optional (checked) with a path. */
    name: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    enabled: z.boolean().default(true),
    config: z.record(z.string(), z.unknown()).default({}),
  }).strict().refine((e) => e.name !== undefined || e.path !== undefined, { message: 'a plugin entry needs a name (built-in plugin) or a path (your own)' }),
]);

const urlString = (protocols: string[]) =>
  z.string().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, { message: `must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')}` });

/** A web origin as browsers send it: scheme://host[:port], nothing after. */
const origin = z.string().refine((s) => {
  try {
    return new URL(s).origin === s;
  } catch {
    return false;
  }
}, { message: 'must be an origin as browsers send it: scheme://host[:port], e.g. https://app.example.com (no path, no trailing /)' });

const DEFAULT_PLUGINS = ['market', 'db', 'users', 'auth', 'signals', 'payments', 'trading', 'binance-relay', 'dashboard'];

export const configSchema = z.object({
  server: z.object({
    host: z.string().min(1).default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(3000),
    drainTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    routeTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /**
     * Reverse proxies whose X-Forwarded-For is believed (addresses, CIDR ranges, or "loopback", "linklocal",
     * "uniquelocal"); empty: the peer's address is the client's.
     */
    trustProxy: z.array(z.string().min(1)).default([]),
    /**
     * permessage-deflate for /ws clients that ask for it: "shared" (uWebSockets.js's shared compressor: no memory per
     * connection, but each frame is compressed for each subscriber that negotiated it) or "off".
     */
    compression: z.enum(['off', 'shared']).default('off'),
    /** GET /metrics (Prometheus): on by default; keep it from the internet at the proxy, or turn it off. */
    metrics: z.boolean().default(true),
    /**
     * Origins (scheme://host[:port]) whose pages may open /ws. Empty: any. Clients that send no Origin (bots, CLIs)
     * are always let in; the check is against cross-site WebSocket hijacking by other sites' pages.
     */
    wsOrigins: z.array(origin).default([]),
    /** Origins whose pages may call the HTTP API (CORS); ["*"] for any. Empty: no CORS headers. */
    corsOrigins: z.array(z.union([z.literal('*'), origin])).default([]),
    /** wss:// and https:// served directly: a PEM certificate (chain) and its key; reloaded on SIGHUP. */
    tls: z.object({
      certFile: z.string().default(''),
      keyFile: z.string().default(''),
      /** For an encrypted key. */
      passphrase: z.string().default(''),
    }).strict().refine((t) => (t.certFile === '') === (t.keyFile === ''), { message: 'certFile and keyFile go together: set both (TLS) or neither' }).prefault({}),
  }).strict().prefault({}),
  shards: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
  limits: z.object({
    maxChannelsPerClient: z.number().int().min(1).max(10_000).default(50),
    maxChannelsPerMessage: z.number().int().min(1).max(10_000).default(200),
    maxMessageBytes: z.number().int().min(256).max(1_048_576).default(16_384),
    messagesPerSecond: z.number().positive().max(10_000).default(20),
    messageBurst: z.number().int().min(1).max(100_000).default(40),
    // At most 512 MiB: the WebSocket layer's own cap is four times this, in 32 bits.
    maxBackpressureBytes: z.number().int().min(16_384).max(512 * 1024 * 1024).default(4 * 1024 * 1024),
    idleTimeoutSeconds: z.number().int().min(8).max(960).default(120),
    maxConnectionsPerIp: z.number().int().min(0).default(200),
    /**
     * Bytes queued to all clients together; past it the clients with the most queued are closed (4507). "auto": an
     * eighth of the machine's (or the container's) memory, at least 64 MiB.
     */
    maxQueuedBytes: z.union([z.literal('auto'), z.number().int().min(1_048_576)]).default('auto'),
    /**
     * How long a shard's frames may wait for the acceptor thread (busy with the batch before) before channels whose
     * every frame is the whole state send only their latest value. Below it every value goes out, late; 0: whenever
     * they wait.
     */
    conflateAfterMs: z.number().int().min(0).max(60_000).default(500),
  }).strict().prefault({}),
  /**
   * Recent data frames kept per channel, so that a client that reconnects with `since` gets exactly what it missed
   * (the frames are the bytes sent already: no copy is made for the history).
   */
  history: z.object({
    enabled: z.boolean().default(true),
    /** Frames kept per channel. */
    maxFrames: z.number().int().min(1).max(100_000).default(200),
    /** Frames older than this are dropped. */
    maxAgeMs: z.number().int().min(1000).max(3_600_000).default(60_000),
    /** All channels' kept frames together (with their bookkeeping); past it the oldest go first. */
    maxBytes: z.number().int().min(1_048_576).default(64 * 1024 * 1024),
    /**
     * A channel stays open this long after its last subscriber left, still kept in the history, so that a client
     * that reconnects meanwhile misses nothing (its exchange stream stays open as long). 0: closes at once.
     */
    keepOpenMs: z.number().int().min(0).max(600_000).default(10_000),
  }).strict().prefault({}),
  symbols: z.object({
    allow: z.array(z.string().regex(SYMBOL_RE, 'symbols are uppercase letters and digits, e.g. BTCUSDT')).default([]),
    maxActive: z.number().int().min(0).default(0),
  }).strict().prefault({}),
  upstream: z.object({
    exchange: z.enum(Object.keys(EXCHANGES) as [ExchangeName, ...ExchangeName[]]).default('binance'),
    wsUrl: urlString(['ws:', 'wss:']).default('wss://stream.binance.com:9443'),
    restUrl: urlString(['http:', 'https:']).default('https://api.binance.com'),
    maxStreamsPerConnection: z.number().int().min(1).max(1024).default(1024),
    maxStreamsPerControlMessage: z.number().int().min(1).max(1024).default(200),
    // Binance closes a connection above 5 incoming messages/s, pongs included: keep room for them.
    controlMessagesPerSecond: z.number().positive().max(4).default(3),
    staleAfterMs: z.number().int().min(100).default(15_000),
    reconnectBaseMs: z.number().int().min(1).default(500),
    reconnectMaxMs: z.number().int().min(1).default(30_000),
    maxConnectionAgeMs: z.number().int().min(1000).default(23 * 3600 * 1000),
    unsubscribeGraceMs: z.number().int().min(0).default(2000),
    symbolsRefreshMs: z.number().int().min(1000).default(3600 * 1000),
    restTimeoutMs: z.number().int().min(100).default(10_000),
    optionalRestWeightPerMinute: z.number().int().min(0).max(6000).default(2400),
    snapshotRestWeightPerMinute: z.number().int().min(50).max(6000).default(4000),
    heartbeatStream: z.string().default('btcusdt@miniTicker'),
  }).strict()
    .refine((u) => u.reconnectBaseMs <= u.reconnectMaxMs, { message: 'reconnectBaseMs must not exceed reconnectMaxMs', path: ['reconnectBaseMs'] })
    // The exchange adapter knows its stream names.
    .superRefine((u, ctx) => {
      const exchange = EXCHANGES[u.exchange];
      if (u.heartbeatStream !== '' && !exchange.isStream(u.heartbeatStream)) {
        ctx.addIssue({ code: 'custom', message: `must be a ${u.exchange} market stream name like ${exchange.exampleStream}, or empty`, path: ['heartbeatStream'] });
      }
    })
    .prefault({}),
  /**
   * Cluster mode on NATS: `gateway` nodes hold the client sockets, `ingest` nodes the shards and exchange connections;
   * `standalone` (no NATS) and `both` run the two in one process.
   */
  cluster: z.object({
    /** "auto": standalone without natsUrl, both with it. */
    role: z.enum(['auto', 'standalone', 'gateway', 'ingest', 'both']).default('auto'),
    /** NATS servers, comma-separated: nats://host:4222,nats://host2:4222. */
    natsUrl: z.string().default('').refine((s) => s === '' || s.split(',').every((u) => {
      try {
        return ['nats:', 'tls:', 'ws:', 'wss:'].includes(new URL(u.trim()).protocol);
      } catch {
        return false;
      }
    }), { message: 'must be one or more NATS URLs separated by commas, e.g. nats://127.0.0.1:4222' }),
    /** First token of every subject and the name of the lease bucket: clusters sharing one NATS server differ in it. */
    subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, "_" and "-" (at most 32)').default('tickgate'),
    /** Symbols are owned in this many partitions (by hash); every node of a cluster must agree on it. */
    partitions: z.number().int().min(1).max(1024).default(64),
    /** A dead ingest node's partitions move to the others after this long without a renewal. */
    leaseTtlMs: z.number().int().min(1000).max(60_000).default(3000),
    /** A gateway that is silent this long is forgotten by the ingest nodes (its channels close there). */
    gatewayTimeoutMs: z.number().int().min(1000).max(120_000).default(6000),
    /** This node's name in the cluster (health, logs); default: host name and process id. */
    nodeName: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-" (at most 64)').optional(),
  }).strict().prefault({}),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).strict().prefault({}),
  /** Market data, accounts on an embedded database, signals, payments (off without a key): `npm start` with no configuration. */
  plugins: z.array(pluginEntry).default(() => [...DEFAULT_PLUGINS]),
}).strict();

export type ConfigInput = z.input<typeof configSchema>;
type RawConfig = z.output<typeof configSchema>;
export interface PluginEntry {
  /** The name config.yaml gives (a built-in plugin's; optional for a plugin by path, checked against its declared one). */
  name: string | undefined;
  /** Absolute path of the plugin module, or undefined for a built-in plugin under plugins/. */
  path: string | undefined;
  config: Record<string, unknown>;
}
export type ClusterRole = 'standalone' | 'gateway' | 'ingest' | 'both';
export interface Config extends Omit<RawConfig, 'plugins' | 'shards' | 'limits' | 'cluster'> {
  shards: number;
  cluster: Omit<RawConfig['cluster'], 'role' | 'nodeName'> & { role: ClusterRole; nodeName: string; natsServers: string[] };
  limits: Omit<RawConfig['limits'], 'maxQueuedBytes'> & { maxQueuedBytes: number };
  plugins: PluginEntry[];
  /** Where the configuration came from, for logs and error messages. */
  source: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Short environment names for the keys people change most; every key also has a TICKGATE__SECTION__KEY form. */
const ENV_SHORTCUTS: Record<string, string[]> = {
  PORT: ['server', 'port'],
  HOST: ['server', 'host'],
  SHARDS: ['shards'],
  LOG_LEVEL: ['log', 'level'],
  BINANCE_WS_URL: ['upstream', 'wsUrl'],
  BINANCE_REST_URL: ['upstream', 'restUrl'],
  TLS_CERT_FILE: ['server', 'tls', 'certFile'],
  TLS_KEY_FILE: ['server', 'tls', 'keyFile'],
  ROLE: ['cluster', 'role'],
  NATS_URL: ['cluster', 'natsUrl'],
};

/**
 * Short environment names for plugin settings: they apply to the listed plugin's config (and are ignored, with a
 * note in the start log's config source, when that plugin is not loaded). Any plugin setting also has the form
 * TICKGATE__PLUGINS__<PLUGIN>__<KEY> (a plugin name's "-" written "_").
 */
const PLUGIN_ENV_SHORTCUTS: Record<string, { plugin: string; path: string[]; asString?: boolean }> = {
  DATABASE_URL: { plugin: 'db', path: ['url'], asString: true },
  TICKGATE_DATA_DIR: { plugin: 'db', path: ['dataDir'], asString: true },
  JWT_SECRET: { plugin: 'auth', path: ['jwtSecret'], asString: true },
  STRIPE_SECRET_KEY: { plugin: 'payments', path: ['secretKey'], asString: true },
  STRIPE_WEBHOOK_SECRET: { plugin: 'payments', path: ['webhookSecret'], asString: true },
  STRIPE_API_BASE: { plugin: 'payments', path: ['apiBase'], asString: true },
};

/** STRIPE_PRICE_<PLAN>: the Stripe Price id(s) of a payments plan (STRIPE_PRICE_PRO → payments' prices.pro). */
function stripePriceShortcut(name: string): { plugin: string; path: string[]; asString: true } | undefined {
  const m = /^STRIPE_PRICE_([A-Z0-9_]+)$/.exec(name);
  return m ? { plugin: 'payments', path: ['prices', m[1]!.toLowerCase().replace(/_/g, '-')], asString: true } : undefined;
}

export type Env = Record<string, string | undefined>;

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Environment values are YAML scalars: "3100" is a number, "true" a boolean, "auto" a string. */
function envValue(raw: string): unknown {
  try {
    return parseYaml(raw);
  } catch {
    return raw;
  }
}

/** Sets a key of one listed plugin's config; false when no plugin of that name is listed. */
function setPluginKey(config: Record<string, unknown>, plugin: string, path: string[], value: unknown): boolean {
  const list = config.plugins === undefined ? DEFAULT_PLUGINS : config.plugins;
  if (!Array.isArray(list)) return false;
  const at = list.findIndex((e) => e === plugin || (e !== null && typeof e === 'object' && (e as { name?: unknown }).name === plugin));
  if (at < 0) return false;
  const entry = list[at];
  const obj: Record<string, unknown> = typeof entry === 'string' ? { name: entry } : { ...(entry as Record<string, unknown>) };
  const pluginConfig = obj.config !== null && typeof obj.config === 'object' && !Array.isArray(obj.config) ? structuredClone(obj.config as Record<string, unknown>) : {};
  setPath(pluginConfig, path, value);
  obj.config = pluginConfig;
  const copy = [...list];
  copy[at] = obj;
  config.plugins = copy;
  return true;
}

export function applyEnv(raw: Record<string, unknown>, env: Env): { config: Record<string, unknown>; applied: string[]; ignored: string[] } {
  const config = structuredClone(raw);
  const applied: string[] = [];
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    const shortcut = PLUGIN_ENV_SHORTCUTS[name] ?? stripePriceShortcut(name);
    const pluginPath = name.startsWith('TICKGATE__PLUGINS__') ? name.slice('TICKGATE__PLUGINS__'.length).split('__') : undefined;
    if (shortcut || (pluginPath && pluginPath.length >= 2)) {
      const plugin = shortcut ? shortcut.plugin : pluginPath![0]!.toLowerCase().replace(/_/g, '-');
      const path = shortcut ? shortcut.path : pluginPath!.slice(1).map(camel);
      // Secrets and URLs stay strings even when they would parse as YAML numbers or booleans.
      if (setPluginKey(config, plugin, path, shortcut?.asString ? value : envValue(value))) applied.push(name);
      else ignored.push(`${name} (no plugin "${plugin}" is listed)`);
      continue;
    }
    let path: string[] | undefined = ENV_SHORTCUTS[name];
    if (!path && name.startsWith('TICKGATE__')) path = name.slice('TICKGATE__'.length).split('__').map(camel);
    if (!path) continue;
    setPath(config, path, envValue(value));
    applied.push(name);
  }
  return { config, applied, ignored };
}

function describe(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  return `${key}: ${issue.message}`;
}

export function validateConfig(input: unknown, source: string, configDir = PACKAGE_ROOT): Config {
  const parsed = configSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map(describe);
    throw new ConfigError(`invalid configuration (${source}):\n  ${lines.join('\n  ')}`);
  }
  const raw = parsed.data;
  const seen = new Set<string>();
  const plugins: PluginEntry[] = [];
  for (const entry of raw.plugins) {
    const e = typeof entry === 'string' ? { name: entry, path: undefined, enabled: true, config: {} } : entry;
    if (!e.enabled) continue;
    if (e.name !== undefined) {
      if (seen.has(e.name)) throw new ConfigError(`invalid configuration (${source}):\n  plugins: "${e.name}" is listed twice`);
      seen.add(e.name);
    }
    plugins.push({
      name: e.name,
      path: e.path === undefined ? undefined : isAbsolute(e.path) ? e.path : resolve(configDir, e.path),
      config: e.config,
    });
  }
  try {
    clientAddressResolver(raw.server.trustProxy);
  } catch (err) {
    throw new ConfigError(`invalid configuration (${source}):\n  server.trustProxy: ${(err as Error).message} (use addresses, CIDR ranges such as 10.0.0.0/8, or loopback, linklocal, uniquelocal)`);
  }
  let tls = raw.server.tls;
  if (tls.certFile) {
    tls = { ...tls, certFile: resolve(configDir, tls.certFile), keyFile: resolve(configDir, tls.keyFile) };
    try {
      checkTlsFiles(tls);
    } catch (err) {
      throw new ConfigError(`invalid configuration (${source}):\n  server.tls: ${(err as Error).message}`);
    }
  }
  raw.server = { ...raw.server, tls };
  const shards = raw.shards === 'auto' ? Math.max(1, availableParallelism() - 1) : raw.shards;
  const maxQueuedBytes = raw.limits.maxQueuedBytes === 'auto' ? autoQueuedBytes() : raw.limits.maxQueuedBytes;
  if (maxQueuedBytes < raw.limits.maxBackpressureBytes) {
    throw new ConfigError(`invalid configuration (${source}):\n  limits.maxQueuedBytes: ${maxQueuedBytes} is below limits.maxBackpressureBytes (${raw.limits.maxBackpressureBytes}): the budget for all clients must hold at least one client's queue`);
  }
  const natsServers = raw.cluster.natsUrl === '' ? [] : raw.cluster.natsUrl.split(',').map((u) => u.trim());
  const role: ClusterRole = raw.cluster.role === 'auto' ? (natsServers.length ? 'both' : 'standalone') : raw.cluster.role;
  if (role !== 'standalone' && natsServers.length === 0) {
    throw new ConfigError(`invalid configuration (${source}):\n  cluster.role: "${role}" runs on NATS: set cluster.natsUrl (or NATS_URL), e.g. nats://127.0.0.1:4222`);
  }
  if (role === 'standalone' && natsServers.length) {
    throw new ConfigError(`invalid configuration (${source}):\n  cluster.natsUrl: a standalone node does not use NATS: leave cluster.natsUrl (NATS_URL) empty, or choose cluster.role gateway, ingest or both`);
  }
  const nodeName = raw.cluster.nodeName ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}-${process.pid}`;
  const cluster = { ...raw.cluster, role, nodeName, natsServers };
  return { ...raw, limits: { ...raw.limits, maxQueuedBytes }, shards, plugins, cluster, source };
}

/**
 * Reads and checks a certificate and its key (they must belong together, and the key open with the passphrase):
 * uWS would fail on them without saying why. Returns the certificate. Throws with what is wrong.
 */
export function checkTlsFiles(tls: { certFile: string; keyFile: string; passphrase: string }): { parsed: X509Certificate; cert: Buffer; key: Buffer } {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(tls.certFile);
    key = readFileSync(tls.keyFile);
  } catch (err) {
    throw new Error(`cannot read ${(err as NodeJS.ErrnoException).path ?? 'the certificate or key'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch {
    throw new Error(`${tls.certFile} is not a PEM certificate`);
  }
  try {
    createSecureContext({ cert, key, ...(tls.passphrase ? { passphrase: tls.passphrase } : {}) });
  } catch (err) {
    throw new Error(`${tls.keyFile} does not go with ${tls.certFile}, or is not a PEM private key (${tls.passphrase ? 'with the passphrase given' : 'an encrypted key needs server.tls.passphrase'}): ${(err as Error).message}`);
  }
  return { parsed, cert, key };
}

/** limits.maxQueuedBytes "auto": an eighth of the memory this process may use (a container's limit when it has one). */
export function autoQueuedBytes(): number {
  const constrained = process.constrainedMemory?.() ?? 0;
  const memory = constrained > 0 && constrained < totalmem() ? constrained : totalmem();
  return Math.max(64 * 1024 * 1024, Math.floor(memory / 8));
}

export interface LoadOptions {
  /** Path of the YAML file; defaults to $TICKGATE_CONFIG, then config.yaml in the package root. */
  file?: string;
  env?: Env;
  /** Values applied over the file and the environment (tests, the demo). */
  overrides?: Record<string, unknown>;
}

function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = mergeDeep(b as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const explicit = opts.file ?? env.TICKGATE_CONFIG;
  const file = resolve(explicit ?? resolve(PACKAGE_ROOT, 'config.yaml'));
  let fromFile: Record<string, unknown> = {};
  let source = 'built-in defaults';
  if (existsSync(file)) {
    const doc = parseDocument(readFileSync(file, 'utf8'));
    if (doc.errors.length) throw new ConfigError(`cannot parse ${file}: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
      throw new ConfigError(`invalid configuration (${file}): the top level must be a mapping of keys`);
    }
    fromFile = (value ?? {}) as Record<string, unknown>;
    source = file;
  } else if (explicit) {
    throw new ConfigError(`configuration file not found: ${file}`);
  }
  const { config: withEnv, applied, ignored } = applyEnv(fromFile, env);
  const merged = opts.overrides ? mergeDeep(withEnv, opts.overrides) : withEnv;
  let label = applied.length ? `${source} + env ${applied.join(', ')}` : source;
  if (ignored.length) label += ` (ignored: ${ignored.join(', ')})`;
  return validateConfig(merged, label, dirname(file));
}

/** Named environment facts other modules need, so that nothing else reads process.env. */
export function runtimeEnv(env: Env = process.env): { simPort: number | undefined } {
  const simPort = env.SIM_PORT ? Number(env.SIM_PORT) : undefined;
  return { simPort: Number.isInteger(simPort) ? simPort : undefined };
}
