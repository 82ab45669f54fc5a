// The /ws client: reconnect with backoff, resubscribe with `since` (exactly the missed frames), seq gaps, keepalive, auth.
import { Backoff } from './backoff.js';
import type { ChannelData, DataFrame } from './channels.js';

/**
 * What the SDK needs of a WebSocket: the browser's, Node's global one, or the `ws` package's. The handlers' events
 * are typed loosely (`any`) because each of those classes types its own; the SDK reads `data`, `code` and `reason`.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}
export type WebSocketFactory = new (url: string) => WebSocketLike;

export interface TickgateClientOptions {
  /** The feed's URL, e.g. ws://localhost:3000/ws. */
  url: string;
  /** A WebSocket class: the global one by default (browsers, Node 22); in Node 20 pass the `ws` package's. */
  WebSocket?: WebSocketFactory;
  /**
   * An access token, or a function that returns a fresh one (called at each connect and before the current one
   * expires). Sent in-band (`{"type":"auth"}`), never in the URL.
   */
  token?: string | (() => string | Promise<string>);
  /** An API key (`tg_…`), instead of a token. */
  apiKey?: string;
  /** Reconnect delays: uniform in [min/2, min(max, min·2^attempt)] (full jitter). Defaults 500 ms and 30 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** A `ping` is sent after this long without a frame from the server (default 15 s). */
  pingIntervalMs?: number;
  /** The connection is taken for dead (and replaced) when nothing comes back this long after a ping (default 10 s). */
  pongTimeoutMs?: number;
  /** A token function is called again this long before the token expires (default 60 s; at most half its life). */
  refreshBeforeMs?: number;
  /** A connection that has not brought the server's `connected` frame by then is given up and retried (default 10 s). */
  connectTimeoutMs?: number;
}

export interface TickgateError {
  code: string;
  message: string;
  hint?: string;
  channel?: string;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SubscriptionHandlers<D> {
  /** Each data frame's data, in `seq` order, once; the frame itself says whether it is a snapshot or recovered. */
  data(data: D, frame: DataFrame<D>): void;
  /** The channel's upstream went stale, or is live again. */
  status?(state: 'live' | 'stale'): void;
  /** The server refused the channel, or ended it (`unsubscribed` after an error): the subscription is over. */
  error?(error: TickgateError): void;
}

export interface Subscription {
  readonly channel: string;
  /** The last `seq` delivered (undefined before the first frame). */
  readonly lastSeq: number | undefined;
  unsubscribe(): void;
}

export interface ClientEvents {
  state: (state: ConnectionState) => void;
  /** The server's `connected` frame: its limits, version and seq epoch. */
  connected: (data: { clientId: string; version: string; epoch: string; authenticated: boolean }) => void;
  authenticated: (data: { userId: string; role: string; expiresAt: string | null }) => void;
  /** A resubscribe's answer: `recovered` with the number of missed frames re-sent, or why not (then a snapshot follows). */
  recovery: (channel: string, result: { recovered: boolean; missed?: number; reason?: string }) => void;
  /** Frames went missing on an open connection (from..to): the SDK asks for them again with `since`. */
  gap: (channel: string, from: number, to: number) => void;
  /** An error frame that belongs to no subscription (auth, rate limit, …), or a connection error. */
  error: (error: TickgateError) => void;
  /** The socket closed; a reconnect follows unless close() was called. */
  disconnected: (code: number, reason: string) => void;
}

interface SubState {
  channel: string;
  handlers: SubscriptionHandlers<unknown>;
  lastSeq: number | undefined;
  /**
   * The epoch `lastSeq` was counted in: the connection's that delivered it. Kept per subscription, since a connection
   * can drop before the server answered a resubscribe, leaving seqs of an older epoch on a newer connection.
   */
  seqEpoch: string | undefined;
  /** Sent and not yet answered on this connection. */
  pending: boolean;
  /** Waiting for the answer to a resubscribe after a gap: frames of the old subscription are ignored meanwhile. */
  recovering: boolean;
  /** Dropped by the server because the identity ended: subscribed again after the next `authenticated`. */
  awaitingAuth: boolean;
  /** Included in a subscribe sent on this connection (an unsubscribe before that has nothing to undo at the server). */
  sent: boolean;
  /** Refused for a while (e.g. the server's symbol list is still loading): asked again after `retryMs`. */
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  retryMs: number;
}

interface ServerFrame {
  type: string;
  channel?: string;
  seq?: number;
  data?: any;
  snapshot?: boolean;
  recovered?: boolean;
}

/** Error codes after which a channel held with a renewable token is taken again once the identity is renewed. */
const IDENTITY_ENDED = new Set(['TG_ERR_TOKEN_EXPIRED', 'TG_ERR_AUTH_REQUIRED', 'TG_ERR_SESSION_REVOKED']);
/** Refusals that pass (a server that just started, a symbol whose stream is starting): the channel is asked again. */
const TRANSIENT = new Set(['TG_ERR_SYMBOLS_UNAVAILABLE', 'TG_ERR_DATA_UNAVAILABLE', 'TG_ERR_SHUTTING_DOWN', 'TG_ERR_SYMBOL_LIMIT']);
const RETRY_MAX_MS = 30_000;

export class TickgateClient {
  private readonly opts: Required<Pick<TickgateClientOptions, 'reconnectMinMs' | 'reconnectMaxMs' | 'pingIntervalMs' | 'pongTimeoutMs' | 'refreshBeforeMs' | 'connectTimeoutMs'>> & TickgateClientOptions;
  private readonly WS: WebSocketFactory;
  private readonly subs = new Map<string, SubState>();
  private readonly listeners = new Map<keyof ClientEvents, Set<(...args: any[]) => void>>();
  private readonly backoff: Backoff;
  private ws: WebSocketLike | undefined;
  private state: ConnectionState = 'connecting';
  /** The current connection's epoch (its `connected` frame's). */
  private epoch: string | undefined;
  private maxPerMessage = 200;
  private outbox = new Set<string>();
  private flushQueued = false;
  /** True between the socket's open and the server's `connected` frame, and while the auth message is being made. */
  private ready = false;
  private lastFrameAt = 0;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingSentAt = 0;

  constructor(options: TickgateClientOptions) {
    this.opts = { reconnectMinMs: 500, reconnectMaxMs: 30_000, pingIntervalMs: 15_000, pongTimeoutMs: 10_000, refreshBeforeMs: 60_000, connectTimeoutMs: 10_000, ...options };
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    if (!WS) throw new TypeError('No WebSocket class: pass one, e.g. new TickgateClient({ url, WebSocket }) with `import WebSocket from \'ws\'` on Node 20');
    this.WS = WS;
    this.backoff = new Backoff(this.opts.reconnectMinMs, this.opts.reconnectMaxMs);
    this.connect();
  }

  /** The connection's state: connecting, open, reconnecting (waiting to retry), or closed (by close()). */
  get connectionState(): ConnectionState {
    return this.state;
  }

  on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  /**
   * Subscribes to a channel; `handler` gets each frame's data, typed by the channel's name. Held across reconnects:
   * a reconnect asks for exactly the frames missed meanwhile.
   */
  subscribe<C extends string>(channel: C, handler: SubscriptionHandlers<ChannelData<C>>['data'] | SubscriptionHandlers<ChannelData<C>>): Subscription {
    if (this.subs.has(channel)) throw new Error(`already subscribed to ${channel}: one subscription per channel (unsubscribe the other first)`);
    const handlers = (typeof handler === 'function' ? { data: handler } : handler) as SubscriptionHandlers<unknown>;
    const sub: SubState = { channel, handlers, lastSeq: undefined, seqEpoch: undefined, pending: false, recovering: false, awaitingAuth: false, sent: false, retryTimer: undefined, retryMs: 1000 };
    this.subs.set(channel, sub);
    this.queue(channel);
    return {
      channel,
      get lastSeq() {
        return sub.lastSeq;
      },
      unsubscribe: () => {
        if (this.subs.get(channel) !== sub) return;
        this.subs.delete(channel);
        this.outbox.delete(channel);
        clearTimeout(sub.retryTimer);
        if (this.ready && sub.sent) this.send({ type: 'unsubscribe', channels: [channel] });
      },
    };
  }

  /** Closes the connection for good: no reconnect. */
  close(): void {
    this.setState('closed');
    this.clearTimers();
    for (const sub of this.subs.values()) clearTimeout(sub.retryTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      this.detach(ws);
      ws.close(1000, 'client closed');
    }
  }

  private emit<E extends keyof ClientEvents>(event: E, ...args: Parameters<ClientEvents[E]>): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(...args);
      } catch (err) {
        // A listener's bug must not break the connection's bookkeeping.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state || this.state === 'closed') return;
    this.state = state;
    this.emit('state', state);
  }

  private connect(): void {
    if (this.state === 'closed') return;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.opts.url);
    } catch (err) {
      this.emit('error', { code: 'CLIENT_CONNECT_FAILED', message: (err as Error).message });
      return this.retry();
    }
    this.ws = ws;
    this.ready = false;
    // Neither an open that never completes nor a server that never says `connected` holds the client.
    this.connectTimer = setTimeout(() => {
      if (this.ws !== ws) return;
      this.emit('error', { code: 'CLIENT_CONNECT_TIMEOUT', message: `no connected frame within ${this.opts.connectTimeoutMs} ms: retrying` });
      this.onClose(ws, 4000, 'connect timeout');
      try {
        ws.close();
      } catch {
        // Not open yet: nothing to close.
      }
    }, this.opts.connectTimeoutMs);
    ws.onmessage = (ev: { data: unknown }) => this.onFrame(ev.data);
    ws.onclose = (ev: { code: number; reason: string }) => this.onClose(ws, ev.code, ev.reason);
    ws.onerror = () => {
      // A close event follows: the reconnect starts there.
    };
  }

  /** Stops hearing a socket; its error events are swallowed (some classes raise one when closed while connecting). */
  private detach(ws: WebSocketLike): void {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => undefined;
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.detach(ws);
    this.ws = undefined;
    this.ready = false;
    this.clearTimers();
    for (const sub of this.subs.values()) {
      sub.pending = false;
      sub.recovering = false;
      sub.sent = false;
      // The next connection authenticates before it subscribes: every channel is asked for again then.
      sub.awaitingAuth = false;
    }
    this.emit('disconnected', code, reason);
    this.retry();
  }

  private retry(): void {
    if (this.state === 'closed') return;
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.next());
  }

  private clearTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.connectTimer);
    this.pingTimer = this.reconnectTimer = this.refreshTimer = this.connectTimer = undefined;
  }

  /** Keepalive: a ping when the line has been quiet, and a dead connection replaced when the ping gets no answer. */
  private keepalive(): void {
    const now = Date.now();
    if (this.pingSentAt > this.lastFrameAt && now - this.pingSentAt >= this.opts.pongTimeoutMs) {
      const ws = this.ws;
      if (!ws) return;
      this.emit('error', { code: 'CLIENT_CONNECTION_DEAD', message: `no answer from the server ${this.opts.pongTimeoutMs} ms after a ping: reconnecting` });
      this.onClose(ws, 4000, 'no answer to ping');
      try {
        // A dead TCP connection never completes a closing handshake: cut it where the WebSocket class can.
        const terminate = (ws as { terminate?: () => void }).terminate;
        if (terminate) terminate.call(ws);
        else ws.close(4000, 'no answer to ping');
      } catch {
        // Already gone.
      }
      return;
    }
    if (now - this.lastFrameAt >= this.opts.pingIntervalMs && this.pingSentAt <= this.lastFrameAt) {
      this.pingSentAt = now;
      this.send({ type: 'ping' });
    }
  }

  private send(msg: object): void {
    const ws = this.ws;
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg));
  }

  /** Subscribes are gathered over one turn and sent in as few messages as the server's limit allows. */
  private queue(channel: string): void {
    this.outbox.add(channel);
    if (!this.ready || this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (!this.ready) return;
    const channels = [...this.outbox].filter((c) => this.subs.has(c));
    this.outbox.clear();
    // One message per epoch the channels' seqs were counted in (a `since` names its epoch), and one without `since`.
    const groups = new Map<string | undefined, string[]>();
    for (const c of channels) {
      const sub = this.subs.get(c)!;
      sub.pending = true;
      sub.sent = true;
      const epoch = sub.lastSeq !== undefined ? sub.seqEpoch : undefined;
      const group = groups.get(epoch);
      if (group) group.push(c);
      else groups.set(epoch, [c]);
    }
    for (const [epoch, list] of groups) {
      for (let i = 0; i < list.length; i += this.maxPerMessage) {
        const part = list.slice(i, i + this.maxPerMessage);
        if (epoch === undefined) {
          this.send({ type: 'subscribe', channels: part });
          continue;
        }
        const since: Record<string, number> = {};
        for (const c of part) since[c] = this.subs.get(c)!.lastSeq!;
        this.send({ type: 'subscribe', channels: part, since, epoch });
      }
    }
  }

  private async authenticate(): Promise<void> {
    const { token, apiKey } = this.opts;
    if (apiKey) return this.send({ type: 'auth', apiKey });
    if (token === undefined) return;
    const value = typeof token === 'function' ? await token() : token;
    this.send({ type: 'auth', token: value });
  }

  private onFrame(raw: unknown): void {
    this.lastFrameAt = Date.now();
    let f: ServerFrame;
    try {
      f = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw as ArrayBuffer)) as ServerFrame;
    } catch {
      return this.emit('error', { code: 'CLIENT_BAD_FRAME', message: 'the server sent a frame that is not JSON' });
    }
    const sub = f.channel === undefined ? undefined : this.subs.get(f.channel);
    if (typeof f.seq === 'number' && f.type !== 'status' && f.type !== 'error') {
      if (sub) this.onData(sub, f as DataFrame);
      return;
    }
    switch (f.type) {
      case 'connected':
        return this.onConnected(f.data);
      case 'authenticated':
        return this.onAuthenticated(f.data);
      case 'unauthenticated':
        // The identity ended (expiry, sign-out): renew it when a token function can; private channels come back then.
        if (typeof this.opts.token === 'function') this.renew(0);
        return this.emit('error', { code: f.data?.code ?? 'TG_ERR_TOKEN_EXPIRED', message: f.data?.message ?? 'the identity ended' });
      case 'subscribed':
        if (!sub) return;
        sub.pending = false;
        sub.recovering = false;
        sub.awaitingAuth = false;
        sub.retryMs = 1000;
        if (f.data && typeof f.data.recovered === 'boolean') {
          // Not recovered: a snapshot follows and numbering starts over from it.
          if (!f.data.recovered) {
            sub.lastSeq = undefined;
            sub.seqEpoch = undefined;
          }
          this.emit('recovery', sub.channel, f.data);
        }
        return;
      case 'unsubscribed':
        // Asked for (unsubscribe, or the first half of a gap's resubscribe), or the server's ending of it.
        if (!sub || sub.recovering || sub.pending || sub.awaitingAuth) return;
        this.subs.delete(sub.channel);
        sub.handlers.error?.({ code: 'TG_ERR_UNSUBSCRIBED', message: `the server ended the subscription to ${sub.channel}`, channel: sub.channel });
        return;
      case 'status':
        if (sub && (f.data?.state === 'live' || f.data?.state === 'stale')) sub.handlers.status?.(f.data.state);
        return;
      case 'error':
        return this.onError(sub, f.data ?? {}, f.channel);
      default:
        // pong, limits and frames of types this SDK does not know: nothing to do (lastFrameAt is the keepalive's).
        return;
    }
  }

  private onConnected(data: { clientId: string; version: string; epoch: string; authenticated: boolean; limits?: { maxChannelsPerMessage?: number } }): void {
    this.backoff.reset();
    clearTimeout(this.connectTimer);
    this.maxPerMessage = data.limits?.maxChannelsPerMessage ?? 200;
    this.setState('open');
    this.emit('connected', data);
    this.pingSentAt = 0;
    this.pingTimer = setInterval(() => this.keepalive(), Math.max(250, Math.min(this.opts.pingIntervalMs, this.opts.pongTimeoutMs) / 2));
    const ws = this.ws;
    // Messages after an auth wait at the server for its answer: the subscribes below are judged with the identity.
    void this.authenticate().catch((err: Error) => {
      this.emit('error', { code: 'CLIENT_TOKEN_FAILED', message: `the token function failed (${err.message}): trying again in 5 s` });
      this.renew(5000);
    }).then(() => {
      if (this.ws !== ws || !ws) return;
      this.ready = true;
      this.epoch = data.epoch;
      for (const c of this.subs.keys()) this.outbox.add(c);
      // Each `since` is sent with the epoch its seq was counted in (usually the previous connection's).
      this.flush();
    });
  }

  private onAuthenticated(data: { userId: string; role: string; expiresAt: string | null }): void {
    this.emit('authenticated', data);
    clearTimeout(this.refreshTimer);
    if (typeof this.opts.token === 'function' && data.expiresAt) {
      // Renewed `refreshBeforeMs` before expiry, or half-way through a life shorter than twice that.
      const life = Date.parse(data.expiresAt) - Date.now();
      this.renew(Math.max(1000, life - Math.min(this.opts.refreshBeforeMs, life / 2)));
    }
    for (const sub of this.subs.values()) {
      if (!sub.awaitingAuth) continue;
      sub.awaitingAuth = false;
      this.queue(sub.channel);
    }
  }

  /** Gets a fresh token in `delayMs` and authenticates with it; a failing token function is tried again every 5 s. */
  private renew(delayMs: number): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      const ws = this.ws;
      this.authenticate().catch((err: Error) => {
        this.emit('error', { code: 'CLIENT_TOKEN_FAILED', message: `the token function failed (${err.message}): trying again in 5 s` });
        if (this.ws === ws && ws) this.renew(5000);
      });
    }, delayMs);
  }

  private onError(sub: SubState | undefined, data: { code?: string; message?: string; hint?: string }, channel: string | undefined): void {
    const error: TickgateError = { code: data.code ?? 'TG_ERR_INTERNAL', message: data.message ?? 'error', ...(data.hint ? { hint: data.hint } : {}), ...(channel ? { channel } : {}) };
    if (!sub) return this.emit('error', error);
    // The identity ended under a channel held with a renewable token: it is taken again once the token is renewed.
    if (IDENTITY_ENDED.has(error.code) && typeof this.opts.token === 'function') {
      sub.awaitingAuth = true;
      return;
    }
    // Refused for now: told as an error, and the channel is asked for again after a growing pause.
    if (TRANSIENT.has(error.code) && sub.pending) {
      sub.pending = false;
      sub.sent = false;
      this.emit('error', error);
      clearTimeout(sub.retryTimer);
      sub.retryTimer = setTimeout(() => {
        sub.retryTimer = undefined;
        if (this.subs.get(sub.channel) === sub) this.queue(sub.channel);
      }, sub.retryMs);
      sub.retryMs = Math.min(RETRY_MAX_MS, sub.retryMs * 2);
      return;
    }
    // A refused subscribe, or a channel the server ends (an `unsubscribed` follows): the subscription is over.
    this.subs.delete(sub.channel);
    if (sub.handlers.error) sub.handlers.error(error);
    else this.emit('error', error);
  }

  private onData(sub: SubState, f: DataFrame): void {
    if (sub.recovering) return;
    const last = sub.lastSeq;
    if (f.snapshot) {
      // The latest value when the subscription starts: an old copy of one already delivered is skipped.
      if (last !== undefined && f.seq <= last) return;
    } else if (last !== undefined) {
      if (f.seq <= last) return;
      if (f.seq > last + 1) {
        // Frames went missing on an open connection: ask again for all after the last delivered, from the history.
        this.emit('gap', sub.channel, last + 1, f.seq - 1);
        sub.recovering = true;
        this.send({ type: 'unsubscribe', channels: [sub.channel] });
        this.send({ type: 'subscribe', channels: [sub.channel], since: { [sub.channel]: last }, epoch: sub.seqEpoch });
        return;
      }
    }
    sub.lastSeq = f.seq;
    sub.seqEpoch = this.epoch;
    try {
      sub.handlers.data(f.data, f);
    } catch (err) {
      // The handler's bug is reported as any uncaught error is; the SDK's bookkeeping goes on.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
