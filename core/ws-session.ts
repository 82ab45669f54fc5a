// The /ws client protocol: limits, message validation, subscribe/unsubscribe/ping, and an error frame for every bad input.
import type { WebSocket } from 'uWebSockets.js';
import { CLOSE_CODES, errorData, type ErrorData } from './errors.js';
import { encodeError, encodeFrame, type ClientLimits, type RecoveryData } from './protocol.js';
import type { ChannelRegistry } from './channel-registry.js';
import type { SymbolRegistry } from './symbol-registry.js';
import type { Subscriber, Subscriptions } from './subscriptions.js';
import type { Config } from './config.js';
import type { ClientAllowance, Identity } from './plugin-api.js';
import type { AccessControl } from './access-control.js';
import { clientInfo, type ClientDirectory } from './client-directory.js';
import type { Logger } from './logger.js';

/** A connection's authentication; undefined on a connection that never sent credentials (most of them). */
export interface AuthState {
  identity: Identity | undefined;
  /** Ends the identity when its credential expires. */
  expiry: NodeJS.Timeout | undefined;
  /** Messages that arrived while an in-band auth was being checked: handled, in order, once it is. */
  pending: object[] | undefined;
}

export interface Client extends Subscriber {
  auth: AuthState | undefined;
  /** The channels this connection may hold (the client policy's answer, or limits.maxChannelsPerClient). */
  allowance: ClientAllowance;
  remoteAddress: string;
  /** The uWS app the connection came through (core/app-group.ts). */
  generation: number;
  /** Set when the send-queue budget closed the connection (core/queue-budget.ts). */
  dropping?: boolean;
  tokens: number;
  refilledAt: number;
}

export interface SessionDeps {
  registry: ChannelRegistry;
  symbols: SymbolRegistry;
  subs: Subscriptions;
  access: AccessControl;
  directory: ClientDirectory;
  shardFor(routeKey: string): number;
  /** This process's `seq` numbering (the `connected` frame's `epoch`). */
  epoch: string;
  /** How long an in-band auth waits for the authenticator (`server.routeTimeoutMs`). */
  authTimeoutMs: number;
  log: Logger;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export function clientLimits(config: Config): ClientLimits {
  const l = config.limits;
  return {
    maxChannels: l.maxChannelsPerClient,
    maxChannelsPerMessage: l.maxChannelsPerMessage,
    maxMessageBytes: l.maxMessageBytes,
    messagesPerSecond: l.messagesPerSecond,
    messageBurst: l.messageBurst,
  };
}

export class WsSession {
  constructor(
    private readonly deps: SessionDeps,
    private readonly limits: ClientLimits,
  ) {}

  /** Token bucket per client: `messagesPerSecond` sustained, `messageBurst` at once. */
  private allow(client: Client, now: number): boolean {
    const elapsed = (now - client.refilledAt) / 1000;
    client.refilledAt = now;
    client.tokens = Math.min(this.limits.messageBurst, client.tokens + elapsed * this.limits.messagesPerSecond);
    if (client.tokens < 1) return false;
    client.tokens -= 1;
    return true;
  }

  /** A ping frame from the client: it costs a token like a message, so a ping flood is closed like a message flood. */
  onPing(ws: WebSocket<Client>): void {
    const client = ws.getUserData();
    if (client.closed || this.allow(client, Date.now())) return;
    this.rateLimited(ws, 'ping frames and messages');
  }

  private rateLimited(ws: WebSocket<Client>, what: string): void {
    ws.send(encodeError(errorData('TG_ERR_RATE_LIMITED', `Too many ${what}: more than ${this.limits.messagesPerSecond}/s (burst ${this.limits.messageBurst}); the connection is closed, reconnect after a pause`)), false);
    ws.end(CLOSE_CODES.RATE_LIMITED, 'rate limit exceeded');
  }

  /** Handles one client frame. `message` is only valid during this call (uWS detaches it afterwards). */
  onMessage(ws: WebSocket<Client>, message: ArrayBuffer, isBinary: boolean): void {
    const client = ws.getUserData();
    if (!this.allow(client, Date.now())) {
      this.rateLimited(ws, 'messages');
      return;
    }
    if (message.byteLength > this.limits.maxMessageBytes) {
      ws.send(encodeError(errorData('TG_ERR_MESSAGE_TOO_BIG', `Message of ${message.byteLength} bytes is over the ${this.limits.maxMessageBytes}-byte limit: the connection is closed`)), false);
      ws.end(CLOSE_CODES.MESSAGE_TOO_BIG, 'message too big');
      return;
    }
    if (isBinary) {
      this.error(ws, errorData('TG_ERR_BINARY_UNSUPPORTED'));
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(decoder.decode(message));
    } catch {
      this.error(ws, errorData('TG_ERR_INVALID_JSON'));
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') {
      this.error(ws, errorData('TG_ERR_INVALID_MESSAGE'));
      return;
    }
    // While an in-band auth is checked, later messages wait for it: a subscribe sent right after {"type":"auth"}
    // is judged with the identity it was sent for.
    if (client.auth?.pending) {
      client.auth.pending.push(msg);
      return;
    }
    this.handle(ws, msg as { type: string });
  }

  private handle(ws: WebSocket<Client>, m: { type: string; channels?: unknown; token?: unknown; apiKey?: unknown; since?: unknown; epoch?: unknown }): void {
    ws.cork(() => {
      switch (m.type) {
        case 'ping':
          ws.send(encodeFrame('pong', undefined, undefined), false);
          return;
        case 'subscribe':
          this.subscribe(ws, m.channels, m.since, m.epoch);
          return;
        case 'unsubscribe':
          this.unsubscribe(ws, m.channels);
          return;
        case 'auth':
          this.authenticate(ws, m);
          return;
        default: {
          const shown = m.type.length > 40 ? `${m.type.slice(0, 40)}…` : m.type;
          this.error(ws, errorData('TG_ERR_UNKNOWN_TYPE', `Unknown message type "${shown}": use "subscribe", "unsubscribe", "auth" or "ping"`));
        }
      }
    });
  }

  /** In-band authentication: `{"type":"auth","token":"…"}` or `{"type":"auth","apiKey":"…"}`; renews before expiry. */
  private authenticate(ws: WebSocket<Client>, m: { token?: unknown; apiKey?: unknown }): void {
    const client = ws.getUserData();
    const token = typeof m.token === 'string' && m.token !== '' ? m.token : undefined;
    const apiKey = typeof m.apiKey === 'string' && m.apiKey !== '' ? m.apiKey : undefined;
    if ((token === undefined) === (apiKey === undefined)) {
      this.error(ws, errorData('TG_ERR_INVALID_MESSAGE', 'An auth message needs exactly one of "token" (an access token) or "apiKey" (a string): {"type":"auth","token":"…"}'));
      return;
    }
    const value = (token ?? apiKey)!;
    if (value.length > 4096) {
      this.error(ws, errorData('TG_ERR_TOKEN_INVALID'));
      return;
    }
    client.auth ??= { identity: undefined, expiry: undefined, pending: undefined };
    const auth = client.auth;
    auth.pending = [];
    const { access, directory } = this.deps;
    const scheme = token !== undefined ? 'bearer' : 'apiKey';
    const release = () => {
      const queued = auth.pending ?? [];
      auth.pending = undefined;
      for (let i = 0; i < queued.length && !client.closed; i++) {
        this.handle(ws, queued[i] as { type: string });
        if (auth.pending) {
          // Another auth among the queued messages: it holds the rest.
          (auth.pending as object[]).push(...queued.slice(i + 1));
          return;
        }
      }
    };
    // An authenticator that does not answer within the route timeout: the client is told (the connection stays, with
    // the identity it had), and the messages that waited are handled without the new one; a late answer is ignored.
    const timeoutMs = this.deps.authTimeoutMs;
    void access.identifyWithin({ scheme, value, remoteAddress: client.remoteAddress }, timeoutMs, 'The credential could not be checked in time: send the auth message again later').then(
      (identity) => {
        if (client.closed) return;
        // Whatever happens here, the messages that waited are handled after it: none waits for good.
        try {
          ws.cork(() => {
            const refused = directory.admits(identity, ws);
            if (refused) {
              ws.send(encodeError(refused), false);
              return;
            }
            // The frame first: the limits frame and any channel the new identity may not hold follow it.
            ws.send(encodeFrame('authenticated', undefined, authenticatedData(identity)), false);
            directory.setIdentity(ws, identity);
          });
        } finally {
          release();
        }
      },
      (err: unknown) => {
        if (client.closed) return;
        const e = err as { code?: string; message?: string };
        if (e.code === 'TG_ERR_ROUTE_TIMEOUT') this.deps.log.error({ timeoutMs, client: client.id, remoteAddress: client.remoteAddress, scheme }, 'the authenticator did not answer an in-band auth in time');
        try {
          ws.send(encodeError({ code: e.code ?? 'TG_ERR_INTERNAL', message: e.message ?? 'Internal error' }), false);
        } finally {
          release();
        }
      },
    ).catch((err: unknown) => this.deps.log.error({ err, client: client.id }, 'in-band auth failed after the answer (contained)'));
  }

  private error(ws: WebSocket<Client>, error: ErrorData & { hint?: string }, channel?: string): void {
    ws.send(encodeError(error, channel), false);
  }

  /** Returns the channel list, or sends an error and returns undefined. */
  private channelList(ws: WebSocket<Client>, channels: unknown): unknown[] | undefined {
    if (!Array.isArray(channels) || channels.length === 0) {
      this.error(ws, errorData('TG_ERR_INVALID_CHANNELS'));
      return undefined;
    }
    if (channels.length > this.limits.maxChannelsPerMessage) {
      this.error(ws, errorData('TG_ERR_TOO_MANY_IN_MESSAGE', `${channels.length} channels in one message is over the limit of ${this.limits.maxChannelsPerMessage}: split the list over several messages`));
      return undefined;
    }
    return channels;
  }

  private notString(ws: WebSocket<Client>, index: number): void {
    this.error(ws, errorData('TG_ERR_INVALID_CHANNEL', `channels[${index}] is not a string: channel names look like price:BTCUSDT`));
  }

  /**
   * Checks a subscribe's `since` (channel → last seq the client saw) and `epoch`: a map of the channels to recover, or
   * undefined after an error frame. Each key must be one of the message's channels.
   */
  private sinceOf(ws: WebSocket<Client>, list: unknown[], since: unknown, epoch: unknown): { after: Map<string, number>; sameEpoch: boolean } | undefined {
    if (since === null || typeof since !== 'object' || Array.isArray(since)) {
      this.error(ws, errorData('TG_ERR_INVALID_MESSAGE', '"since" must be an object of channel → the last seq you saw on it, e.g. {"type":"subscribe","channels":["price:BTCUSDT"],"since":{"price:BTCUSDT":412}}'));
      return undefined;
    }
    if (epoch !== undefined && typeof epoch !== 'string') {
      this.error(ws, errorData('TG_ERR_INVALID_MESSAGE', '"epoch" must be the string the connected frame gave (data.epoch)'));
      return undefined;
    }
    const out = new Map<string, number>();
    for (const [name, seq] of Object.entries(since)) {
      if (!list.includes(name)) {
        this.error(ws, errorData('TG_ERR_INVALID_MESSAGE', `"since" names ${echo(name)}, which is not in "channels": give a seq only for a channel you subscribe to in the same message`));
        return undefined;
      }
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
        this.error(ws, errorData('TG_ERR_INVALID_MESSAGE', `"since" for ${echo(name)} must be the last seq you saw on it: an integer of 0 or more`));
        return undefined;
      }
      out.set(name, seq);
    }
    // No epoch: the client vouches that its seqs are this server's (the guide's clients know no epoch).
    return { after: out, sameEpoch: epoch === undefined || epoch === this.deps.epoch };
  }

  private subscribe(ws: WebSocket<Client>, channels: unknown, since: unknown, epoch: unknown): void {
    const list = this.channelList(ws, channels);
    if (!list) return;
    const recover = since === undefined ? undefined : this.sinceOf(ws, list, since, epoch);
    if (since !== undefined && recover === undefined) return;
    const client = ws.getUserData();
    const { registry, symbols, subs, shardFor } = this.deps;
    list.forEach((name, index) => {
      if (typeof name !== 'string') return this.notString(ws, index);
      if (client.channels.includes(name)) {
        // Idempotent: already subscribed, nothing changes.
        ws.send(encodeFrame('subscribed', name, undefined), false);
        return;
      }
      const v = registry.validate(name, symbols);
      if (!v.ok) return this.error(ws, v.error, echo(name));
      const { channel, family } = v;
      const denied = this.deps.access.check(clientInfo(client), channel, family, client.channels);
      if (denied) return this.error(ws, denied, name);
      if (client.channels.length >= client.allowance.max) {
        return this.error(ws, errorData('TG_ERR_CHANNEL_LIMIT', `${name} was not subscribed. ${client.allowance.message}`), name);
      }
      subs.add(ws, name, family.spec.key === 'symbol' ? shardFor(channel.key) : -1);
      const after = recover?.after.get(name);
      if (after === undefined) {
        ws.send(encodeFrame('subscribed', name, undefined), false);
        subs.sendSnapshot(ws, name);
        return;
      }
      // A resubscribe after a drop: exactly the frames it missed when the history has them all, else a fresh snapshot.
      const missed = recover!.sameEpoch ? subs.missed(name, after) : 'epoch';
      if (Array.isArray(missed)) {
        ws.send(encodeFrame('subscribed', name, { recovered: true, missed: missed.length } satisfies RecoveryData), false);
        subs.sendRecovered(ws, name, missed);
      } else {
        ws.send(encodeFrame('subscribed', name, { recovered: false, reason: missed } satisfies RecoveryData), false);
        subs.sendSnapshot(ws, name);
      }
    });
    // Pushing grows an array's backing store by half again plus 16 slots; an exact copy keeps 20 channels at 20 slots
    // (per-connection memory is what fan-out scales by).
    client.channels = client.channels.slice();
  }

  private unsubscribe(ws: WebSocket<Client>, channels: unknown): void {
    const list = this.channelList(ws, channels);
    if (!list) return;
    const client = ws.getUserData();
    list.forEach((name, index) => {
      if (typeof name !== 'string') return this.notString(ws, index);
      if (!client.channels.includes(name)) {
        const shown = echo(name);
        return this.error(ws, errorData('TG_ERR_NOT_SUBSCRIBED', `Not subscribed to ${shown}: nothing to unsubscribe`), shown);
      }
      this.deps.subs.remove(ws, name, true);
      ws.send(encodeFrame('unsubscribed', name, undefined), false);
    });
  }
}

/** The `authenticated` frame's data: who the connection is now, and until when. */
export function authenticatedData(identity: Identity): { userId: string; role: string; via: 'token' | 'apiKey'; expiresAt: string | null } {
  return {
    userId: identity.userId,
    role: identity.role,
    via: identity.credential.kind,
    expiresAt: identity.expiresAt === undefined ? null : new Date(identity.expiresAt).toISOString(),
  };
}

/** A client-sent channel name echoed in an error frame, clipped so the frame never grows with the input. */
function echo(name: string): string {
  return name.length > 128 ? `${name.slice(0, 128)}…` : name;
}
