// Composes the gateway: uWS acceptor (/ws and HTTP), plugin host, shard pool; start() and an orderly close().
import { randomBytes, randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { loadNativeUws } from './uws-native.js';
import { ChannelRegistry } from './channel-registry.js';
import { parseChannelName } from './channel-grammar.js';
import { SymbolRegistry, type SymbolInfo } from './symbol-registry.js';
import { Subscriptions } from './subscriptions.js';
import { ChannelHistory } from './channel-history.js';
import { HttpRouter, type RegisteredRoute } from './http-router.js';
import { ApiDocs } from './api-docs-routes.js';
import { errorEnvelope } from './openapi.js';
import { PluginHost } from './plugin-host.js';
import { ThreadShardPool, type ShardPoolEvents } from './shard-pool.js';
import { WsSession, clientLimits, type Client } from './ws-session.js';
import { encodeFrame } from './protocol.js';
import { FrameKind, type LoopDelay, type ShardPool } from './bus.js';
import { NatsShardPool } from './cluster/nats-shard-pool.js';
import { CLOSE_CODES, ErrorRegistry, TickgateError, type AnyErrorCode } from './errors.js';
import { clientAddressResolver, type ClientAddressResolver } from './client-address.js';
import { VERSION } from './version.js';
import { healthAnswer, healthRoute, statsAnswer, statsRoute, type StatusSources } from './status-routes.js';
import { errorBody, ambiguousFraming } from './http-router.js';
import { AccessControl, credentialFrom } from './access-control.js';
import { ClientDirectory, clientInfo } from './client-directory.js';
import { PluginLoadError } from './plugin-host.js';
import type { Credential, Identity } from './plugin-api.js';
import { authenticatedData } from './ws-session.js';
import { QueueBudget } from './queue-budget.js';
import { AppGroup } from './app-group.js';
import { checkTlsFiles } from './config.js';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayMetrics } from './metrics.js';
import { LoopDelayMonitor } from './loop-delay.js';
import { plainText } from './plugin-api.js';
import { PluginSockets } from './plugin-sockets.js';

/** uWS's LIBUS_LISTEN_EXCLUSIVE_PORT (its ListenOptions enum is declared, not exported at run time). */
const LISTEN_EXCLUSIVE_PORT = 1;

/** Listens `app` on host:port (uWS's options: 0 shared, 1 exclusive); rejects when it cannot. */
function listenOn(app: TemplatedApp, host: string, port: number, options: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    // This overload is missing from uWS's type declarations.
    const listen = app.listen as unknown as (h: string, p: number, options: number, cb: (token: us_listen_socket | false) => void) => void;
    listen.call(app, host, port, options, (token) => {
      if (token) resolve(token);
      else reject(new Error(`cannot listen on ${host}:${port}: the port is in use or the address is not available (set PORT or server.port)`));
    });
  });
}

/**
 * Rejects when something listens on host:port already (a second gateway would otherwise share it); resolves with the
 * port (a free one for port 0).
 */
function probePort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', () => reject(new Error(`cannot listen on ${host}:${port}: the port is in use or the address is not available (set PORT or server.port)`)));
    probe.listen({ host, port, exclusive: true }, () => {
      const free = (probe.address() as { port: number }).port;
      probe.close(() => resolve(free));
    });
  });
}

/** On every HTTP answer: the API serves JSON only, never a page to frame, sniff or run scripts in. */
const SECURITY_HEADERS: Array<[string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
];

/** uWS's ping timeout for an idle timeout (its calculateIdleTimeoutCompnents): 4, 8 or 16 s. */
function pingMargin(idleTimeoutSeconds: number): number {
  let margin = 4;
  while (idleTimeoutSeconds - margin * 2 >= margin * 2 && margin < 16) margin *= 2;
  return margin;
}

/** How often the clients' send queues are checked against limits.maxBackpressureBytes and limits.maxQueuedBytes. */
const QUEUE_CHECK_MS = 250;

/** uWS closes (1006, no error frame) above this; tickgate's own, documented limit is checked first and answered. */
function hardPayloadCap(maxMessageBytes: number): number {
  return Math.max(256 * 1024, maxMessageBytes * 16);
}

export class TickgateServer {
  readonly log: Logger;
  /** The gateway's one error table: the core's codes and those the plugins registered. */
  readonly errors = new ErrorRegistry();
  readonly symbols: SymbolRegistry;
  readonly channels = new ChannelRegistry(this.errors);
  private readonly clientAddress: ClientAddressResolver;
  /** The uWS app (two while a replaced TLS certificate's connections end). */
  private readonly apps: AppGroup;
  private readonly uws = loadNativeUws();
  private readonly router: HttpRouter;
  private readonly apiDocs: ApiDocs;
  private readonly subs: Subscriptions;
  private readonly plugins: PluginHost;
  private readonly access: AccessControl;
  private readonly directory: ClientDirectory;
  private readonly budget: QueueBudget;
  /** The plugins' own WebSocket endpoints (AcceptorApi.websocket). */
  private readonly pluginSockets: PluginSockets;
  readonly metrics: GatewayMetrics;
  private readonly loopDelay = new LoopDelayMonitor();
  /** The acceptor's loop delay over the last 2 s (like each shard's): scrapes read it, never reset it. */
  private acceptorDelay: LoopDelay = { p50: 0, p99: 0, max: 0 };
  private loopTimer: NodeJS.Timeout | undefined;
  /** On every HTTP answer; HSTS when the gateway serves TLS itself. */
  private readonly securityHeaders: Array<[string, string]>;
  private shards!: ShardPool;
  /** The cluster's view, in cluster mode (a gateway, or gateway and ingest in one process). */
  private clusterPool: NatsShardPool | undefined;
  private readonly clients = new Set<WebSocket<Client>>();
  /** Open connections per remote address, for limits.maxConnectionsPerIp. */
  private readonly perIp = new Map<string, number>();
  /** Upgrades waiting for the authenticator, per address: they count against limits.maxConnectionsPerIp too. */
  private readonly pendingPerIp = new Map<string, number>();
  /** The exchange's symbol list as last loaded, for shards that restart. */
  private lastSymbols: SymbolInfo[] | undefined;
  private draining = false;
  private closing: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  /** Names this process's `seq` numbering for clients that recover with `since` (the connected frame's `epoch`). */
  private readonly epoch = randomBytes(6).toString('base64url');
  private readonly history: ChannelHistory | undefined;
  /** Origins whose pages may open a WebSocket (server.wsOrigins); empty: any. */
  private readonly wsOrigins: Set<string>;
  port = 0;

  private constructor(readonly config: Config, log?: Logger) {
    this.log = log ?? createLogger(config.log.level, { component: 'acceptor' });
    this.symbols = new SymbolRegistry(config.symbols);
    this.wsOrigins = new Set(config.server.wsOrigins);
    this.clientAddress = clientAddressResolver(config.server.trustProxy);
    this.securityHeaders = config.server.tls.certFile ? [...SECURITY_HEADERS, ['strict-transport-security', 'max-age=31536000']] : SECURITY_HEADERS;
    this.apps = new AppGroup(this.makeApp(), (token) => this.uws.us_listen_socket_close(token), config.server.routeTimeoutMs + 12_000, config.server.compression === 'shared');
    this.access = new AccessControl(this.errors, this.log.child({ component: 'access' }), config.limits.maxChannelsPerClient);
    this.router = new HttpRouter(this.apps.routes, this.log.child({ component: 'http' }), {
      timeoutMs: config.server.routeTimeoutMs, errors: this.errors, clientAddress: this.clientAddress, access: this.access,
      answered: (route, method, status) => this.metrics.httpRequest(route, method, status),
      corsOrigins: config.server.corsOrigins,
      extraHeaders: this.securityHeaders,
      channelAccess: (channel, client) => {
        const parsed = parseChannelName(channel);
        const family = parsed && this.channels.get(parsed.kind);
        // A name that does not parse is the handler's to refuse (with its own validation message).
        return parsed && family ? this.access.check(client, parsed, family, []) : undefined;
      },
    });
    this.history = config.history.enabled ? new ChannelHistory(config.history) : undefined;
    this.apiDocs = new ApiDocs(this.router, this.log.child({ component: 'openapi' }), VERSION);
    this.subs = new Subscriptions(this.apps, {
      open: (shard, channel, seq) => this.shards.send(shard, { t: 'open', channel, seq }),
      close: (shard, channel) => this.shards.send(shard, { t: 'close', channel }),
      isUp: (shard) => this.shards.isReady(shard),
      local: (event, channel) => {
        const parsed = parseChannelName(channel);
        if (parsed) this.plugins.userChannel(event, parsed.kind, channel, parsed.key);
      },
      ...(config.cluster.role === 'standalone' ? {} : {
        user: {
          open: (channel: string) => this.clusterPool?.userOpen(channel),
          close: (channel: string) => this.clusterPool?.userClose(channel),
          publish: (channel: string, type: string, data: unknown) => this.clusterPool?.userPublish(channel, type, data),
        },
      }),
    }, this.log.child({ component: 'subscriptions' }), () => this.clients, this.history, config.history.keepOpenMs);
    this.pluginSockets = new PluginSockets({
      apps: this.apps,
      log: this.log.child({ component: 'plugin-sockets' }),
      compressionOff: this.uws.DISABLED,
      limits: config.limits,
      screen: (res, req, route) => this.screenUpgrade(res, req, route),
      refuse: (res, status, body, headers, route) => this.answerUpgrade(res, status, body as object, headers, route),
      count: (remoteAddress, delta) => this.countConnection(remoteAddress, delta),
      upgraded: (route) => this.metrics.httpRequest(route, 'GET', 101),
    });
    this.directory = new ClientDirectory(this.access, this.channels, this.subs, this.errors, (client) => this.plugins.emit('authenticated', client), clientLimits(config));
    this.budget = new QueueBudget({
      totalBytes: config.limits.maxQueuedBytes,
      perClientBytes: config.limits.maxBackpressureBytes,
      checkMs: QUEUE_CHECK_MS,
      closingMs: (pingMargin(config.limits.idleTimeoutSeconds) + 1) * 1000,
      log: this.log.child({ component: 'budget' }),
      sockets: () => this.allSockets(),
      dropped: (reason) => this.metrics.slowClientClosed(reason),
    });
    this.metrics = new GatewayMetrics({
      clients: () => this.clients.size,
      authenticated: () => this.directory.authenticated,
      channels: () => this.subs.perKind(),
      sent: () => this.subs.sent,
      queue: () => ({ queuedBytes: this.budget.queuedBytes, budgetBytes: config.limits.maxQueuedBytes }),
      history: () => this.history?.stats(),
      shards: () => this.shards?.info() ?? [],
      acceptorLoop: () => this.acceptorDelay,
      ...(config.cluster.role === 'standalone' ? {} : { cluster: () => this.clusterPool?.cluster() }),
      log: this.log.child({ component: 'metrics' }),
    });
    this.plugins = new PluginHost({
      access: this.access,
      clients: this.directory,
      log: this.log,
      channels: this.channels,
      errors: this.errors,
      symbols: this.symbols,
      route: (owner, method, path, handler, opts) => this.router.route(method, path, handler, opts ?? {}, owner),
      publish: (plugin, channel, type, data) => {
        const family = this.channels.get(channel.slice(0, channel.indexOf(':')));
        if (!family || family.plugin !== plugin || family.spec.key !== 'user') {
          throw new Error(`plugin "${plugin}" may only publish on its own acceptor-produced (user) channels, not ${channel}`);
        }
        this.subs.publishData(channel, type, data);
      },
      ask: async (plugin, symbol, question, params, timeoutMs) => {
        this.symbols.admit(symbol);
        return this.shards.ask(this.shards.shardFor(symbol), plugin, question, params, symbol, timeoutMs);
      },
      askEach: (plugin, question, params, timeoutMs) => this.shards.askEach(plugin, question, params, timeoutMs),
      shardOf: (symbol) => this.shards.shardFor(symbol),
      watch: (_plugin, channel, fn) => {
        const v = this.channels.validate(channel, this.symbols);
        if (!v.ok) throw new TickgateError(v.error.code as AnyErrorCode, v.error.message);
        return this.subs.addWatcher(channel, v.family.spec.key === 'symbol' ? this.shards.shardFor(v.channel.key) : -1, fn);
      },
      watchRaw: (_plugin, channel, frame, ended) => {
        const v = this.channels.validate(channel, this.symbols, { raw: true });
        if (!v.ok) throw new TickgateError(v.error.code as AnyErrorCode, v.error.message);
        return this.subs.addRawWatcher(channel, this.shards.shardFor(v.channel.key), ended ? { frame, ended } : { frame });
      },
      websocket: (plugin, pattern, endpoint, opts) => this.pluginSockets.register(plugin, pattern, endpoint, opts),
      publishTopic: (plugin, topic, message, isBinary) => this.pluginSockets.publish(plugin, topic, message, isBinary),
      metrics: (plugin) => this.metrics.forPlugin(plugin),
      broadcast: (plugin, event, data) => this.clusterPool?.broadcastPlugin(plugin, event, data),
      clustered: config.cluster.role !== 'standalone',
    });
  }

  /** Loads plugins, starts the shards and listens. Throws (and leaves nothing running) if any step fails. */
  static async start(config: Config, log?: Logger): Promise<TickgateServer> {
    const server = new TickgateServer(config, log);
    try {
      await server.boot();
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  private async boot(): Promise<void> {
    const { config } = this;
    // The core's routes first: a plugin that asks for one of their paths is told who holds it.
    this.routes();
    await this.plugins.load(config.plugins);
    const guarded = this.router.guarded[0];
    if (guarded && !this.access.hasAuthenticator) {
      throw new PluginLoadError(`${guarded.owner} registered route ${guarded.route} for authenticated callers, but no plugin authenticates clients: add the auth plugin to plugins in config.yaml (before it)`);
    }
    const events: ShardPoolEvents = {
        frames: (batch) => this.subs.publishBatch(batch),
        stats: (stats) => {
          this.symbols.setActive(stats.shard, stats.symbols);
          this.metrics.shardStats(stats);
        },
        symbols: (list) => {
          const missing = this.symbols.replace(list);
          if (missing.length) this.log.warn({ symbols: missing }, 'symbols.allow names symbols the exchange does not list: they are not served');
          // Every shard validates against the same list (messages to a shard keep their order: before any open).
          this.shards.broadcast({ t: 'symbols', symbols: list });
          this.lastSymbols = list;
        },
        symbolsFailed: (message) => {
          this.symbols.lastError = message;
        },
        down: (shard) => {
          for (const channel of this.subs.channelsOf(shard)) {
            // Said once: a cluster gateway may hear of one loss twice (NATS gone, then the lease lapsing).
            if (!this.subs.isStale(channel)) this.subs.publishLocal(channel, encodeFrame('status', channel, { state: 'stale' }), FrameKind.STALE);
          }
        },
        ready: (shard) => {
          if (this.lastSymbols) this.shards.send(shard, { t: 'symbols', symbols: this.lastSymbols });
          this.plugins.shardStarted(shard);
        },
        report: (shard, plugin, event, data) => this.plugins.report(plugin, event, data, shard),
        up: (shard) => {
          for (const channel of this.subs.channelsOf(shard)) this.shards.send(shard, { t: 'open', channel, seq: this.subs.lastSeq(channel), stale: true });
        },
    };
    if (config.cluster.role === 'standalone') {
      this.shards = new ThreadShardPool({ config, plugins: this.plugins.shardRefs, log: this.log.child({ component: 'shards' }), errors: this.errors, events });
    } else {
      this.shards = this.clusterPool = new NatsShardPool({
        config, log: this.log.child({ component: 'cluster' }), errors: this.errors, events,
        frame: (channel, kind, seq, bytes, asSnapshot) => this.subs.publishFrame(channel, kind, seq, bytes, asSnapshot),
        lastSeq: (channel) => this.subs.lastSeq(channel),
        isStale: (channel) => this.subs.isStale(channel),
        pluginBroadcast: (plugin, event, data) => this.plugins.broadcastReceived(plugin, event, data),
        producer: (event, channel) => {
          const parsed = parseChannelName(channel);
          if (parsed) this.plugins.userChannel(event, parsed.kind, channel, parsed.key);
        },
      });
    }
    await this.shards.start();
    this.websocket();
    this.router.finish();
    // Every route is registered now, the plugins' included.
    this.apiDocs.build();
    await this.listen();
    this.budget.start();
    this.loopDelay.start();
    this.loopTimer = setInterval(() => {
      this.acceptorDelay = this.loopDelay.read();
    }, 2000);
    this.loopTimer.unref();
    this.log.info(
      { host: config.server.host, port: this.port, shards: config.shards, plugins: this.plugins.loaded.map((p) => p.name), upstream: config.upstream.wsUrl, config: config.source, version: VERSION },
      `tickgate listening on ${config.server.host}:${this.port}`,
    );
  }

  /** The HTTP routes as registered (the core's and the plugins'), in order: what GET /openapi.json documents. */
  get httpRoutes(): readonly RegisteredRoute[] {
    return this.router.routes;
  }

  private statusSources(): StatusSources {
    return {
      subs: this.subs,
      symbols: this.symbols,
      shards: this.shards,
      clientCount: () => this.clients.size,
      authenticatedCount: () => this.directory.authenticated,
      startedAt: this.startedAt,
      heartbeat: this.config.upstream.heartbeatStream !== '',
      draining: () => this.draining,
      sendQueues: () => ({ queuedBytes: this.budget.queuedBytes, budgetBytes: this.config.limits.maxQueuedBytes, slowClientsClosed: this.budget.droppedTotal }),
      role: this.config.cluster.role,
      ...(this.clusterPool ? { cluster: () => this.clusterPool!.cluster() } : {}),
    };
  }

  private routes(): void {
    // Built on the first request: the shard pool does not exist yet when the routes are registered.
    let src: StatusSources | undefined;
    this.router.route('get', '/health', () => healthRoute((src ??= this.statusSources())), {
      schema: {
        summary: 'The gateway, its shards and its upstream: 503 while no upstream delivers, the symbol list is not loaded or no shard runs',
        response: { 200: healthAnswer, 503: { description: 'Down: `problems` says why', schema: healthAnswer } },
      },
    }, 'the core');
    this.router.route('get', '/api/v1/ws/stats', () => statsRoute((src ??= this.statusSources())), {
      schema: { summary: 'Connections, open channels and exchange streams', response: { 200: statsAnswer } },
    }, 'the core');
    if (this.config.server.metrics) {
      this.router.route('get', '/metrics', async () => {
        const { text, contentType } = await this.metrics.text();
        return { body: plainText(text, contentType) };
      }, {
        schema: { summary: 'Prometheus metrics (text format 0.0.4)', response: { 200: { description: 'The metrics', contentType: 'text/plain' } } },
      }, 'the core');
    }
    // A plain GET on the feed (a browser tab, curl) is told what the path is for.
    this.router.route('get', '/ws', () => ({ status: 426, headers: { upgrade: 'websocket' }, body: errorBody('TG_ERR_UPGRADE_REQUIRED') }), {
      schema: {
        summary: 'The WebSocket feed: market data and private channels (the protocol is in the README)',
        response: {
          101: { description: 'Switching Protocols: a WebSocket upgrade (credentials in ?token=, ?apiKey= or the Authorization / X-API-Key headers)' },
          426: { description: 'TG_ERR_UPGRADE_REQUIRED: a plain GET, not an upgrade', schema: errorEnvelope },
        },
      },
    }, 'the core');
    this.apiDocs.register();
  }

  private websocket(): void {
    const limits = clientLimits(this.config);
    const directory = this.directory;
    const session = new WsSession({
      registry: this.channels,
      symbols: this.symbols,
      subs: this.subs,
      access: this.access,
      directory: this.directory,
      shardFor: (key) => this.shards.shardFor(key),
      epoch: this.epoch,
      authTimeoutMs: this.config.server.routeTimeoutMs,
      log: this.log,
    }, limits);
    const l = this.config.limits;
    this.apps.register((app, generation) => app.ws<Client>('/ws', {
      // Shared: one compressor for all connections (no per-connection memory); each send is compressed on its own.
      compression: this.config.server.compression === 'shared' ? this.uws.SHARED_COMPRESSOR : this.uws.DISABLED,
      maxPayloadLength: hardPayloadCap(l.maxMessageBytes),
      // The budget closes a client above maxBackpressureBytes with 4507 on its next check; a client whose queue reaches
      // four times that before then is closed at once by uWS (1006). Either way it is disconnected, never skipped.
      maxBackpressure: l.maxBackpressureBytes * 4,
      closeOnBackpressureLimit: 1 as unknown as number,
      idleTimeout: l.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const remoteAddress = this.screenUpgrade(res, req, '/ws');
        if (remoteAddress === undefined) return;
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        const client: Client = {
          id: randomUUID(),
          auth: undefined,
          allowance: this.access.defaultChannels,
          remoteAddress,
          channels: [],
          closed: false,
          tokens: l.messageBurst,
          refilledAt: Date.now(),
          generation,
        };
        let credential: Credential | undefined;
        try {
          credential = credentialFrom((name) => req.getHeader(name), new URLSearchParams(req.getQuery() ?? ''), remoteAddress, true);
        } catch (err) {
          return this.refuseUpgrade(res, err);
        }
        if (!credential) {
          res.upgrade(client, key, protocol, extensions, context);
          return;
        }
        // With credentials the upgrade waits for the authenticator: uWS allows answering later if the request's
        // abort is handled, and everything needed from `req` is copied now (it is invalid after this call).
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        this.pendingPerIp.set(remoteAddress, (this.pendingPerIp.get(remoteAddress) ?? 0) + 1);
        const settled = () => {
          const n = (this.pendingPerIp.get(remoteAddress) ?? 1) - 1;
          if (n > 0) this.pendingPerIp.set(remoteAddress, n);
          else this.pendingPerIp.delete(remoteAddress);
        };
        // An authenticator that does not answer within the route timeout gets the upgrade refused (504), so neither
        // the client nor its address's pending count waits for it for good; a late answer is then ignored.
        const timeoutMs = this.config.server.routeTimeoutMs;
        void this.access.identifyWithin(credential, timeoutMs, 'The credential could not be checked in time: retry later').then(
          (identity: Identity) => {
            // One turn later: an authenticator released from inside uWS's handling of another request (a promise it
            // resolves there) would otherwise upgrade inside that callback, where uWS takes the new socket for the one
            // it is parsing and aborts the process ("Cork buffer must not be held across event loop iterations").
            // The wait still counts against the address's limit until the connection opens.
            setImmediate(() => {
              settled();
              if (aborted) return;
              if (this.draining) return this.refuseUpgrade(res, new Error('draining'));
              // The account's connection allowance (a plan's): opening is synchronous, so the count cannot move between.
              const refused = directory.admits(identity);
              if (refused) return this.refuseUpgrade(res, new TickgateError(refused.code, refused.message));
              client.auth = { identity, expiry: undefined, pending: undefined };
              // Not inside res.cork: in this uWS build, cork() reads the new WebSocket's memory as the state of a
              // finished HTTP response with "Connection: close" and closes it (1006) right after `open`, for some
              // connections (uNetworking/uWebSockets#1928, fixed upstream by #1929). Uncorked, the 101 goes out in
              // small writes, and uWS prints its "must be corked" warning once per such upgrade (README).
              res.upgrade(client, key, protocol, extensions, context);
            });
          },
          (err: unknown) => {
            settled();
            if (aborted) return;
            if ((err as { code?: string }).code === 'TG_ERR_ROUTE_TIMEOUT' && !this.draining) this.log.error({ timeoutMs, remoteAddress, scheme: credential.scheme }, 'the authenticator did not answer a /ws upgrade in time');
            // A refusal is an ordinary corked HTTP answer: safe from any callback.
            this.refuseUpgrade(res, err);
          },
        );
      },
      open: (ws) => {
        this.metrics.httpRequest('/ws', 'GET', 101);
        this.clients.add(ws);
        this.apps.opened(generation);
        const c = ws.getUserData();
        this.perIp.set(c.remoteAddress, (this.perIp.get(c.remoteAddress) ?? 0) + 1);
        const identity = c.auth?.identity;
        c.allowance = this.access.channelAllowance(clientInfo(c));
        const announced = directory.limitsOf(c);
        ws.send(encodeFrame('connected', undefined, identity
          ? { clientId: c.id, version: VERSION, authenticated: true, user: authenticatedData(identity), limits: announced, epoch: this.epoch }
          : { clientId: c.id, version: VERSION, authenticated: false, limits: announced, epoch: this.epoch }), false);
        this.plugins.emit('connect', clientInfo(c));
        if (identity) this.directory.opened(ws);
      },
      message: (ws, message, isBinary) => session.onMessage(ws, message, isBinary),
      // Ping frames count against the message rate like messages do (uWS has answered each with a pong already).
      ping: (ws) => session.onPing(ws),
      // Unsolicited pongs too (a pong answering the server's ping every ~100 s costs nothing against the limit).
      pong: (ws) => session.onPing(ws),
      close: (ws, code, message) => {
        const c = ws.getUserData();
        c.closed = true;
        this.clients.delete(ws);
        this.apps.closed(generation);
        const n = (this.perIp.get(c.remoteAddress) ?? 1) - 1;
        if (n > 0) this.perIp.set(c.remoteAddress, n);
        else this.perIp.delete(c.remoteAddress);
        this.subs.removeAll(ws);
        this.directory.closed(ws);
        // 1006 with a reason: uWS cut the connection for a protocol violation (invalid UTF-8, a frame over the hard
        // cap, reserved bits or opcodes, a bad close code) or inactivity; the client got no close frame.
        if (code === 1006) this.log.debug({ client: c.id, code, reason: Buffer.from(message).toString('utf8').slice(0, 123) || undefined }, 'client connection dropped');
        this.plugins.emit('disconnect', clientInfo(c));
      },
    }));
  }

  /**
   * What every WebSocket upgrade passes, on /ws and on the plugins' endpoints: not draining, version 13, unambiguous
   * framing, an allowed origin, the per-address connection limit. Answers a refusal itself and returns undefined;
   * otherwise returns the client's address.
   */
  private screenUpgrade(res: import('uWebSockets.js').HttpResponse, req: import('uWebSockets.js').HttpRequest, route: string): string | undefined {
    const l = this.config.limits;
    if (this.draining) {
      this.answerUpgrade(res, 503, errorBody('TG_ERR_SHUTTING_DOWN'), {}, route);
      return undefined;
    }
    // uWS upgrades whatever version is asked: RFC 6455 answers any other with 426 and the version it speaks.
    if (req.getHeader('sec-websocket-version') !== '13') {
      this.answerUpgrade(res, 426, errorBody('TG_ERR_WS_VERSION', `Sec-WebSocket-Version ${JSON.stringify(req.getHeader('sec-websocket-version').slice(0, 20))} is not served: only version 13 (RFC 6455); connect with a current WebSocket client`), { 'sec-websocket-version': '13' }, route);
      return undefined;
    }
    const ambiguous = ambiguousFraming(req);
    if (ambiguous) {
      this.router.refuseAmbiguous(res, ambiguous);
      return undefined;
    }
    // A page of another site may open a WebSocket with the visitor's cookies and address (cross-site WebSocket
    // hijacking): browsers always send Origin, so with an allow-list, pages elsewhere are refused.
    const origin = req.getHeader('origin');
    const wsOrigins = this.wsOrigins;
    if (origin !== '' && wsOrigins.size > 0 && !wsOrigins.has(origin)) {
      const shown = JSON.stringify(origin.slice(0, 100));
      this.log.debug({ origin: origin.slice(0, 100) }, 'WebSocket upgrade from an origin not in server.wsOrigins refused');
      this.answerUpgrade(res, 403, errorBody('TG_ERR_ORIGIN_FORBIDDEN', `Pages from ${shown} may not open the feed: the server admits pages from ${[...wsOrigins].join(', ')} (server.wsOrigins)`), {}, route);
      return undefined;
    }
    const remoteAddress = this.clientAddress(Buffer.from(res.getRemoteAddressAsText()).toString(), req.getHeader('x-forwarded-for'));
    if (l.maxConnectionsPerIp > 0 && (this.perIp.get(remoteAddress) ?? 0) + (this.pendingPerIp.get(remoteAddress) ?? 0) >= l.maxConnectionsPerIp) {
      this.answerUpgrade(res, 429, errorBody('TG_ERR_TOO_MANY_CONNECTIONS', `More than ${l.maxConnectionsPerIp} connections from ${remoteAddress}: close some before opening more (the server's limits.maxConnectionsPerIp)`), {}, route);
      return undefined;
    }
    return remoteAddress;
  }

  /** Every open WebSocket connection: /ws clients, then the plugins' endpoints' (the send-queue budget reads them all). */
  private *allSockets(): Generator<WebSocket<Client> | WebSocket<import('./queue-budget.js').BudgetedClient>> {
    yield* this.clients;
    yield* this.pluginSockets.open;
  }

  /** A connection from `remoteAddress` opened (+1) or closed (-1): limits.maxConnectionsPerIp counts them. */
  private countConnection(remoteAddress: string, delta: 1 | -1): void {
    const n = (this.perIp.get(remoteAddress) ?? 0) + delta;
    if (n > 0) this.perIp.set(remoteAddress, n);
    else this.perIp.delete(remoteAddress);
  }

  /** Answers an upgrade that is refused (bad credentials, shutting down) with its status and a JSON error body. */
  private refuseUpgrade(res: import('uWebSockets.js').HttpResponse, err: unknown): void {
    const coded = this.draining ? { code: 'TG_ERR_SHUTTING_DOWN', status: 503, message: errorBody('TG_ERR_SHUTTING_DOWN').error.message } : this.errors.toClientError(err);
    const status = coded?.status ?? 500;
    const body = coded ? errorBody(coded.code, coded.message) : errorBody('TG_ERR_INTERNAL');
    if (!coded) this.log.error({ err }, 'upgrade failed');
    const headers: Record<string, string> = {};
    if (status === 401) headers['www-authenticate'] = 'Bearer realm="tickgate"';
    if (coded && 'retryAfter' in coded && coded.retryAfter !== undefined) headers['retry-after'] = String(coded.retryAfter);
    this.answerUpgrade(res, status, body, headers);
  }

  /** An upgrade refused: its status, the security headers, and a JSON error body; counted like HTTP answers. */
  private answerUpgrade(res: import('uWebSockets.js').HttpResponse, status: number, body: object, headers: Record<string, string> = {}, route = '/ws'): void {
    this.metrics.httpRequest(route, 'GET', status);
    res.cork(() => {
      res.writeStatus(`${status} ${STATUS_CODES[status] ?? 'Error'}`);
      for (const [k, v] of this.securityHeaders) res.writeHeader(k, v);
      for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
      res.writeHeader('content-type', 'application/json; charset=utf-8').end(JSON.stringify(body));
    });
  }

  /** A plain app, or an SSL one with server.tls's certificate (checked by the configuration, and again on reload). */
  private makeApp(): TemplatedApp {
    const tls = this.config.server.tls;
    if (!tls.certFile) return this.uws.App();
    // uWS reads the files itself and says only "App construction failed" on a pair it cannot use (its addServerName
    // even segfaulted on one, probed): it gets the very bytes checked here, from a private copy (a renewal that replaces
    // the files in between changes nothing), removed once it has read them.
    const { cert, key } = checkTlsFiles(tls);
    const dir = mkdtempSync(join(tmpdir(), 'tickgate-tls-'));
    try {
      writeFileSync(join(dir, 'cert.pem'), cert, { mode: 0o600 });
      writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
      return this.uws.SSLApp({ cert_file_name: join(dir, 'cert.pem'), key_file_name: join(dir, 'key.pem'), ...(tls.passphrase ? { passphrase: tls.passphrase } : {}) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async listen(): Promise<void> {
    const { host, port } = this.config.server;
    const tls = this.config.server.tls.certFile !== '';
    // Without TLS the port is listened on exclusively: uWS listens with SO_REUSEPORT by default, and a second gateway
    // on the same port would silently share its connections instead of being refused. With TLS a reloaded certificate
    // is served by a second app on the same port, which needs SO_REUSEPORT: the port is probed first instead.
    // (Port 0 is chosen here then: a port the kernel picks for a socket cannot be shared with SO_REUSEPORT.)
    const at = tls ? await probePort(host, port) : port;
    const token = await listenOn(this.apps.current.app, host, at, tls ? 0 : LISTEN_EXCLUSIVE_PORT);
    this.apps.listening(token);
    this.port = this.uws.us_socket_local_port(token);
  }

  /**
   * SIGHUP: serves server.tls's certificate and key as they are on disk now. New connections get them; open ones keep
   * theirs (a WebSocket is never dropped for this). A certificate that cannot be used is logged and the current one
   * stays. Resolves with what happened.
   */
  async reloadTls(): Promise<{ reloaded: boolean; message: string }> {
    const tls = this.config.server.tls;
    if (!tls.certFile) {
      this.log.info('SIGHUP: no TLS certificate is configured (server.tls): nothing to reload');
      return { reloaded: false, message: 'no TLS certificate is configured' };
    }
    if (this.draining) return { reloaded: false, message: 'shutting down' };
    try {
      const cert = checkTlsFiles(tls).parsed;
      await this.apps.replace(this.makeApp(), (app) => listenOn(app, this.config.server.host, this.port, 0));
      this.log.info({ subject: cert.subject, validTo: cert.validTo, fingerprint256: cert.fingerprint256, appsServing: this.apps.size }, 'TLS certificate reloaded: new connections get it, open ones keep theirs');
      return { reloaded: true, message: `serving ${tls.certFile} (valid to ${cert.validTo})` };
    } catch (err) {
      const message = `the certificate was not reloaded, the current one stays: ${(err as Error).message}`;
      this.log.error({ certFile: tls.certFile, keyFile: tls.keyFile }, message);
      return { reloaded: false, message };
    }
  }


  /** Drains: stop accepting, close clients with 1001, stop shards (they close their upstreams), close the app. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.draining = true;
    this.budget.stop();
    this.loopDelay.stop();
    clearInterval(this.loopTimer);
    this.apps.stopListening();
    const clients = [...this.clients];
    for (const ws of clients) ws.end(CLOSE_CODES.GOING_AWAY, 'server shutting down');
    if (clients.length) this.log.info({ clients: clients.length }, 'closed client connections (1001)');
    const others = this.pluginSockets.closeAll();
    if (others) this.log.info({ connections: others }, 'closed the plugins\' endpoint connections (1001)');
    if (this.shards) await this.shards.stop();
    await this.plugins.close(this.config.server.drainTimeoutMs);
    // Force-closes what is left.
    this.apps.closeAll();
    this.subs.stop();
    this.history?.close();
    this.log.info('tickgate stopped');
  }
}
