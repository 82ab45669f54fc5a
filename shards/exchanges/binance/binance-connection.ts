// One Binance combined-stream WebSocket: paced SUBSCRIBE/UNSUBSCRIBE, reconnect with backoff, stall watchdog, renewal timer.
import WebSocket from 'ws';
import type { Logger } from '../../../core/logger.js';
import { Backoff } from '../../../client/backoff.js';

export interface ConnectionOptions {
  wsUrl: string;
  maxStreamsPerControlMessage: number;
  controlMessagesPerSecond: number;
  staleAfterMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  maxConnectionAgeMs: number;
  log: Logger;
}

export interface ConnectionEvents {
  message(conn: UpstreamConnection, stream: string, data: unknown): void;
  /** The connection started (true) or stopped (false) delivering data for its streams. */
  live(conn: UpstreamConnection, live: boolean): void;
  rejected(conn: UpstreamConnection, streams: string[], reason: string): void;
  /** Time to replace this connection (Binance's 24 h limit, or a serverShutdown notice). */
  renewDue(conn: UpstreamConnection): void;
  /** The connection delivers and every stream it should carry has been subscribed (a replacement may take over). */
  settled(conn: UpstreamConnection): void;
}

/** Streams named in the connect URL; the rest are sent with SUBSCRIBE once open (URLs have length limits). */
const MAX_URL_STREAMS = 100;
const CLOSE_WAIT_MS = 2000;

type State = 'idle' | 'connecting' | 'open' | 'closed';

let nextId = 1;

export class UpstreamConnection {
  readonly id = nextId++;
  /** Streams this connection should carry. */
  readonly streams = new Set<string>();
  state: State = 'idle';
  live = false;
  lastMessageAt = 0;
  openedAt = 0;
  reconnects = 0;
  /** Set when this connection is being replaced: it stops reporting and is closed once its successor is live. */
  retired = false;
  /** The connection failed and has not delivered since: its streams are stale. */
  down = false;

  private ws: WebSocket | undefined;
  private stopping = false;
  private readonly backoff: Backoff;
  private readonly pendingSub = new Set<string>();
  private readonly pendingUnsub = new Set<string>();
  private readonly inflight = new Map<number, { method: string; params: string[] }>();
  private nextRequestId = 1;
  /** A quiet connection is asked LIST_SUBSCRIPTIONS: an answer proves it alive without any data flowing. */
  private probeDue = false;
  private probeInflight = false;
  private wasSettled = false;
  private lastControlAt = 0;
  private controlTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;
  private readonly log: Logger;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    this.backoff = new Backoff(opts.reconnectBaseMs, opts.reconnectMaxMs);
    this.log = opts.log.child({ upstreamConn: this.id });
  }

  add(stream: string): void {
    if (this.streams.has(stream)) return;
    this.streams.add(stream);
    if (this.state === 'open') {
      if (!this.pendingUnsub.delete(stream)) this.pendingSub.add(stream);
      this.scheduleControl();
    } else if (this.state === 'idle' || (this.state === 'closed' && !this.reconnectTimer && !this.stopping)) {
      this.connect();
    }
  }

  remove(stream: string): void {
    if (!this.streams.delete(stream)) return;
    if (this.state === 'open') {
      if (!this.pendingSub.delete(stream)) this.pendingUnsub.add(stream);
      this.scheduleControl();
    }
  }

  /** Opens the socket. Streams beyond the URL's share are subscribed once it is open. */
  connect(): void {
    if (this.stopping || this.state === 'connecting' || this.state === 'open') return;
    this.reconnectTimer = undefined;
    const urlStreams = [...this.streams].slice(0, MAX_URL_STREAMS);
    const base = this.opts.wsUrl.replace(/\/+$/, '');
    const url = `${base}/stream?streams=${urlStreams.join('/')}`;
    this.state = 'connecting';
    this.log.debug({ url: base, streams: this.streams.size }, 'connecting upstream');
    const ws = new WebSocket(url, { handshakeTimeout: 10_000, perMessageDeflate: false });
    this.ws = ws;
    ws.on('open', () => {
      if (this.ws !== ws) return;
      this.state = 'open';
      this.openedAt = Date.now();
      this.lastMessageAt = this.openedAt;
      this.pendingSub.clear();
      this.pendingUnsub.clear();
      this.inflight.clear();
      this.probeDue = this.probeInflight = this.wasSettled = false;
      const inUrl = new Set(urlStreams);
      for (const s of this.streams) if (!inUrl.has(s)) this.pendingSub.add(s);
      // Streams removed while connecting are in the URL but no longer wanted.
      for (const s of urlStreams) if (!this.streams.has(s)) this.pendingUnsub.add(s);
      this.scheduleControl();
      this.startWatchdog();
      this.scheduleRenewal();
      this.log.info({ streams: this.streams.size }, 'upstream connected');
    });
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      if (this.ws !== ws || isBinary) return;
      this.onMessage(raw);
    });
    ws.on('error', (err) => {
      if (this.ws !== ws) return;
      this.log.warn({ err: err.message }, 'upstream socket error');
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.onClose(code, reason.toString());
    });
  }

  private onMessage(raw: Buffer): void {
    this.lastMessageAt = Date.now();
    let msg: unknown;
    try {
      msg = JSON.parse(raw.toString('utf8'));
    } catch {
      this.log.warn({ bytes: raw.length }, 'upstream sent a message that is not JSON: ignored');
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    const m = msg as { stream?: unknown; data?: { e?: unknown }; id?: unknown; result?: unknown; error?: { code?: number; msg?: string }; e?: unknown };
    if (!this.live) {
      this.live = true;
      this.down = false;
      this.backoff.reset();
      this.events.live(this, true);
    }
    if (typeof m.stream === 'string') {
      if (m.data?.e === 'serverShutdown') this.events.renewDue(this);
      else if (this.streams.has(m.stream)) this.events.message(this, m.stream, m.data);
    } else if (m.e === 'serverShutdown') {
      this.events.renewDue(this);
    } else if (typeof m.id === 'number' && this.inflight.has(m.id)) {
      this.onReply(m.id, m.error);
    }
    if (!this.wasSettled && this.settled) {
      this.wasSettled = true;
      this.events.settled(this);
    }
  }

  /** Open, delivering, and nothing left to subscribe. */
  get settled(): boolean {
    if (this.state !== 'open' || !this.live || this.pendingSub.size > 0) return false;
    for (const req of this.inflight.values()) if (req.method === 'SUBSCRIBE') return false;
    return true;
  }

  private onReply(id: number, error: { code?: number; msg?: string } | undefined): void {
    const req = this.inflight.get(id)!;
    this.inflight.delete(id);
    if (req.method === 'LIST_SUBSCRIPTIONS') {
      this.probeInflight = false;
      return;
    }
    if (!error) return;
    const reason = `${error.msg ?? 'error'} (code ${error.code})`;
    this.log.error({ method: req.method, streams: req.params.length, reason }, 'upstream rejected a control message');
    if (req.method === 'SUBSCRIBE') {
      for (const s of req.params) this.streams.delete(s);
      this.events.rejected(this, req.params, reason);
    }
  }

  private onClose(code: number, reason: string): void {
    this.state = 'closed';
    this.live = false;
    this.ws = undefined;
    this.clearTimers();
    if (this.stopping) {
      this.resolveClosed?.();
      return;
    }
    this.log.warn({ code, reason, streams: this.streams.size }, 'upstream connection closed');
    if (this.retired) return;
    this.down = true;
    // Also after a failed first attempt: subscribers learn that their channel has no upstream.
    this.events.live(this, false);
    // The pool may have closed this connection from within that callback (a failed replacement).
    if (this.stopping) return;
    if (this.streams.size > 0) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = this.backoff.next();
    this.reconnects++;
    this.log.info({ delayMs: delay, attempt: this.backoff.attempts }, 'upstream reconnect scheduled');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private startWatchdog(): void {
    const every = Math.max(50, Math.min(1000, Math.floor(this.opts.staleAfterMs / 4)));
    this.watchdog = setInterval(() => {
      if (this.state !== 'open') return;
      const silentMs = Date.now() - this.lastMessageAt;
      if (silentMs > this.opts.staleAfterMs) {
        this.log.warn({ silentMs, streams: this.streams.size }, 'upstream stalled: no data and no answer, reconnecting');
        this.ws?.terminate();
      } else if (silentMs > this.opts.staleAfterMs / 2 && !this.probeInflight && !this.probeDue) {
        // Quiet streams (an illiquid symbol's trades) are not a stall: ask the exchange whether it still answers.
        this.probeDue = true;
        this.scheduleControl();
      }
    }, every);
    this.watchdog.unref();
  }

  private scheduleRenewal(): void {
    // A little jitter so that many connections opened together do not all renew at the same moment.
    const due = this.opts.maxConnectionAgeMs * (0.97 + Math.random() * 0.03);
    this.renewTimer = setTimeout(() => this.events.renewDue(this), due);
    this.renewTimer.unref();
  }

  private scheduleControl(): void {
    if (this.controlTimer || this.state !== 'open') return;
    if (this.pendingSub.size === 0 && this.pendingUnsub.size === 0 && !this.probeDue) return;
    const gap = 1000 / this.opts.controlMessagesPerSecond;
    const delay = Math.max(0, this.lastControlAt + gap - Date.now());
    this.controlTimer = setTimeout(() => {
      this.controlTimer = undefined;
      this.flushControl();
    }, delay);
  }

  /** Sends one control message (Binance counts each toward its 5 messages/s), unsubscribes first. */
  private flushControl(): void {
    if (this.state !== 'open' || !this.ws) return;
    if (this.pendingSub.size === 0 && this.pendingUnsub.size === 0) {
      if (this.probeDue) {
        this.probeDue = false;
        this.probeInflight = true;
        const id = this.nextRequestId++;
        this.inflight.set(id, { method: 'LIST_SUBSCRIPTIONS', params: [] });
        this.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id }));
        this.lastControlAt = Date.now();
      }
      return;
    }
    const source = this.pendingUnsub.size ? this.pendingUnsub : this.pendingSub;
    const method = source === this.pendingUnsub ? 'UNSUBSCRIBE' : 'SUBSCRIBE';
    const params: string[] = [];
    for (const s of source) {
      params.push(s);
      if (params.length >= this.opts.maxStreamsPerControlMessage) break;
    }
    for (const s of params) source.delete(s);
    if (params.length) {
      const id = this.nextRequestId++;
      this.inflight.set(id, { method, params });
      this.ws.send(JSON.stringify({ method, params, id }));
      this.lastControlAt = Date.now();
    }
    this.scheduleControl();
  }

  /** Marks this connection as being replaced: it keeps delivering until its successor is live, then closes. */
  retire(): void {
    this.retired = true;
  }

  close(): Promise<void> {
    this.stopping = true;
    this.clearTimers();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const ws = this.ws;
    if (!ws || this.state === 'closed' || this.state === 'idle') {
      this.state = 'closed';
      return Promise.resolve();
    }
    if (!this.closed) {
      this.closed = new Promise<void>((resolve) => {
        this.resolveClosed = resolve;
        const kill = setTimeout(() => {
          ws.terminate();
          resolve();
        }, CLOSE_WAIT_MS);
        kill.unref();
      });
      if (this.state === 'connecting') ws.terminate();
      else ws.close(1000, 'client closing');
    }
    return this.closed;
  }

  private clearTimers(): void {
    if (this.controlTimer) clearTimeout(this.controlTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.controlTimer = this.watchdog = this.renewTimer = undefined;
  }

  info(): { id: number; state: State; live: boolean; streams: number; lastMessageAgeMs: number | null; ageMs: number | null; reconnects: number } {
    const now = Date.now();
    return {
      id: this.id,
      state: this.state,
      live: this.live,
      streams: this.streams.size,
      lastMessageAgeMs: this.lastMessageAt ? now - this.lastMessageAt : null,
      ageMs: this.openedAt && this.state === 'open' ? now - this.openedAt : null,
      reconnects: this.reconnects,
    };
  }
}
