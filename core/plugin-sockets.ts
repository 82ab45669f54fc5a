// The plugins' own WebSocket endpoints beside /ws: upgrades screened like /ws's, plugin-scoped topics, and shutdown.
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse, WebSocket } from 'uWebSockets.js';
import type { AppGroup } from './app-group.js';
import type { Logger } from './logger.js';
import type { PluginSocket, SocketEndpoint, SocketOptions, SocketUpgradeRequest } from './plugin-api.js';
import type { BudgetedClient } from './queue-budget.js';
import { CLOSE_CODES } from './errors.js';

/** What the core keeps per connection (the send-queue budget reads it as it reads a /ws client's). */
interface SocketData extends BudgetedClient {
  state: unknown;
  /** The plugin's view of the connection, made when it opens. */
  socket: Socket | undefined;
}

export interface PluginSocketsDeps {
  apps: AppGroup;
  log: Logger;
  /** uWS's "no compression" constant. */
  compressionOff: number;
  limits: { maxMessageBytes: number; idleTimeoutSeconds: number; maxBackpressureBytes: number };
  /**
   * The checks every WebSocket upgrade passes (draining, version, framing, origin, per-address limit): answers a
   * refusal and returns undefined, or returns the client's address.
   */
  screen(res: HttpResponse, req: HttpRequest, route: string): string | undefined;
  /** Answers a refused upgrade with a status and a JSON body (counted in the HTTP metrics under `route`). */
  refuse(res: HttpResponse, status: number, body: unknown, headers: Record<string, string>, route: string): void;
  /** A connection from this address opened (+1) or closed (-1). */
  count(remoteAddress: string, delta: 1 | -1): void;
  /** An upgrade answered 101 (HTTP metrics). */
  upgraded(route: string): void;
}

/** Topics of a plugin never meet a channel's (`kind:KEY`) or another plugin's. */
export function pluginTopic(plugin: string, topic: string): string {
  return `#${plugin}/${topic}`;
}

class Socket implements PluginSocket<unknown> {
  constructor(
    private readonly ws: WebSocket<SocketData>,
    private readonly data: SocketData,
    private readonly plugin: string,
  ) {}

  get id(): string {
    return this.data.id;
  }

  get remoteAddress(): string {
    return this.data.remoteAddress;
  }

  get state(): unknown {
    return this.data.state;
  }

  get closed(): boolean {
    return this.data.closed;
  }

  send(message: string | Uint8Array, isBinary = false): boolean {
    if (this.data.closed) return false;
    return this.ws.send(message, isBinary) === 1;
  }

  end(code = 1000, reason = ''): void {
    if (!this.data.closed) this.ws.end(code, reason);
  }

  subscribe(topic: string): void {
    if (!this.data.closed) this.ws.subscribe(pluginTopic(this.plugin, topic));
  }

  unsubscribe(topic: string): void {
    if (!this.data.closed) this.ws.unsubscribe(pluginTopic(this.plugin, topic));
  }

  cork(fn: () => void): void {
    if (this.data.closed) return;
    this.ws.cork(fn);
  }
}

export class PluginSockets {
  /** Every open connection of every plugin endpoint: the budget checks them, shutdown closes them. */
  readonly open = new Set<WebSocket<SocketData>>();
  private readonly patterns = new Map<string, string>();

  constructor(private readonly deps: PluginSocketsDeps) {}

  /** Registers a plugin's endpoint on every uWS app. Throws (the plugin's load fails) for a pattern taken. */
  register<S>(plugin: string, pattern: string, endpoint: SocketEndpoint<S>, opts: SocketOptions = {}): void {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) throw new Error(`plugin "${plugin}": websocket("${String(pattern)}") needs a path starting with /`);
    if (pattern === '/ws') throw new Error(`plugin "${plugin}": websocket("/ws"): /ws is the gateway's own feed; serve another path`);
    const holder = this.patterns.get(pattern);
    if (holder) throw new Error(`plugin "${plugin}": websocket("${pattern}") is already served by plugin "${holder}"`);
    if (typeof endpoint?.upgrade !== 'function' || typeof endpoint.message !== 'function') {
      throw new Error(`plugin "${plugin}": websocket("${pattern}") needs an endpoint with upgrade(req) and message(socket, data, isBinary)`);
    }
    this.patterns.set(pattern, plugin);
    const { deps } = this;
    const log = deps.log.child({ plugin, endpoint: pattern });
    const l = deps.limits;
    const contain = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        log.error({ err }, `plugin endpoint ${what} failed (contained)`);
      }
    };
    deps.apps.register((app) => app.ws<SocketData>(pattern, {
      compression: deps.compressionOff,
      maxPayloadLength: opts.maxMessageBytes ?? l.maxMessageBytes,
      // As on /ws: the budget closes a client above maxBackpressureBytes (4507); four times that closes it at once.
      maxBackpressure: l.maxBackpressureBytes * 4,
      closeOnBackpressureLimit: 1 as unknown as number,
      idleTimeout: opts.idleTimeoutSeconds ?? l.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const remoteAddress = deps.screen(res, req, pattern);
        if (remoteAddress === undefined) return;
        const headers: Record<string, string> = {};
        req.forEach((k, v) => {
          headers[k] = v;
        });
        const request: SocketUpgradeRequest = { path: req.getUrl(), query: new URLSearchParams(req.getQuery() ?? ''), headers, remoteAddress };
        let outcome: ReturnType<SocketEndpoint<S>['upgrade']> | undefined;
        try {
          outcome = endpoint.upgrade(request);
          if (typeof outcome !== 'object' || outcome === null || !('accept' in outcome || 'refuse' in outcome)) throw new Error('upgrade() must return { accept: state } or { refuse: { status, body } }');
        } catch (err) {
          log.error({ err }, 'plugin endpoint upgrade failed');
          deps.refuse(res, 500, { success: false, error: { code: 'TG_ERR_INTERNAL', message: 'Internal error' } }, {}, pattern);
          return;
        }
        if ('refuse' in outcome) {
          deps.refuse(res, outcome.refuse.status, outcome.refuse.body, outcome.refuse.headers ?? {}, pattern);
          return;
        }
        const data: SocketData = { id: randomUUID(), remoteAddress, closed: false, state: outcome.accept, socket: undefined };
        res.upgrade(data, headers['sec-websocket-key'] ?? '', headers['sec-websocket-protocol'] ?? '', headers['sec-websocket-extensions'] ?? '', context);
      },
      open: (ws) => {
        const data = ws.getUserData();
        data.socket = new Socket(ws, data, plugin);
        this.open.add(ws);
        deps.count(data.remoteAddress, 1);
        deps.upgraded(pattern);
        if (endpoint.open) contain('open', () => endpoint.open!(data.socket as PluginSocket<S>));
      },
      message: (ws, message, isBinary) => {
        const data = ws.getUserData();
        contain('message', () => endpoint.message(data.socket as PluginSocket<S>, Buffer.from(message), isBinary));
      },
      ping: (ws) => {
        if (endpoint.control) contain('control', () => endpoint.control!(ws.getUserData().socket as PluginSocket<S>, 'ping'));
      },
      pong: (ws) => {
        if (endpoint.control) contain('control', () => endpoint.control!(ws.getUserData().socket as PluginSocket<S>, 'pong'));
      },
      close: (ws, code) => {
        const data = ws.getUserData();
        data.closed = true;
        this.open.delete(ws);
        deps.count(data.remoteAddress, -1);
        if (endpoint.close) contain('close', () => endpoint.close!(data.socket as PluginSocket<S>, code));
      },
    }));
  }

  /** One frame to every connection of the plugin's endpoints that joined the topic. */
  publish(plugin: string, topic: string, message: string | Uint8Array, isBinary = false): void {
    this.deps.apps.publish(pluginTopic(plugin, topic), message, isBinary);
  }

  /** Shutdown: every connection gets 1001. */
  closeAll(): number {
    const all = [...this.open];
    for (const ws of all) ws.end(CLOSE_CODES.GOING_AWAY, 'server shutting down');
    return all.length;
  }
}
