// The authenticated /ws connections by user: identities set and ended, expiry, and rechecking what each may hold.
import type { WebSocket } from 'uWebSockets.js';
import type { ClientInfo, ClientsApi, Identity } from './plugin-api.js';
import type { AccessControl } from './access-control.js';
import type { ChannelRegistry } from './channel-registry.js';
import type { Subscriptions } from './subscriptions.js';
import type { Client } from './ws-session.js';
import { parseChannelName } from './channel-grammar.js';
import { errorData, type ErrorData, type ErrorRegistry } from './errors.js';
import { encodeError, encodeFrame, type ClientLimits } from './protocol.js';

/** setTimeout's longest delay; a credential valid for longer is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function clientInfo(c: Client): ClientInfo {
  const identity = c.auth?.identity;
  return { id: c.id, userId: identity?.userId, identity, remoteAddress: c.remoteAddress };
}

export class ClientDirectory implements ClientsApi {
  private readonly byUser = new Map<string, Set<WebSocket<Client>>>();

  constructor(
    private readonly access: AccessControl,
    private readonly registry: ChannelRegistry,
    private readonly subs: Subscriptions,
    private readonly errors: ErrorRegistry,
    private readonly onAuthenticated: (client: ClientInfo) => void,
    /** The limits every connection is told in its `connected` frame (the channel allowance is per client). */
    private readonly limits: ClientLimits,
  ) {}

  /** The limits as this client is told them: the common ones with its own channel allowance. */
  limitsOf(c: Client): ClientLimits {
    return c.allowance.max === this.limits.maxChannels ? this.limits : { ...this.limits, maxChannels: c.allowance.max };
  }

  /**
   * Whether `identity` may authenticate one more connection (`ws`, when it is open already): undefined, or the
   * error (TG_ERR_USER_CONNECTION_LIMIT with the policy's message).
   */
  admits(identity: Identity, ws?: WebSocket<Client>): ErrorData | undefined {
    const allowance = this.access.connectionAllowance(identity);
    if (!allowance) return undefined;
    const set = this.byUser.get(identity.userId);
    const held = (set?.size ?? 0) - (ws && set?.has(ws) ? 1 : 0);
    return held >= allowance.max ? { code: 'TG_ERR_USER_CONNECTION_LIMIT', message: allowance.message } : undefined;
  }

  /** Number of authenticated connections (for stats). */
  get authenticated(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  /**
   * Sets a connection's identity (at upgrade the socket is not open yet: call `opened` then). Rechecks its
   * subscriptions when the identity replaces another: a connection that signs in as someone else keeps only what the
   * new identity may hold.
   */
  setIdentity(ws: WebSocket<Client>, identity: Identity): void {
    const c = ws.getUserData();
    const before = c.auth?.identity;
    if (before && before.userId !== identity.userId) this.unindex(ws, before.userId);
    c.auth ??= { identity, expiry: undefined, pending: undefined };
    c.auth.identity = identity;
    this.index(ws, identity.userId);
    this.arm(ws);
    if (before) this.recheckSocket(ws);
    else this.refreshAllowance(ws);
    this.onAuthenticated(clientInfo(c));
  }

  /** A socket that was authenticated at upgrade is open: index it and start its expiry. */
  opened(ws: WebSocket<Client>): void {
    const c = ws.getUserData();
    const id = c.auth?.identity;
    if (!id) return;
    this.index(ws, id.userId);
    this.arm(ws);
    this.onAuthenticated(clientInfo(c));
  }

  closed(ws: WebSocket<Client>): void {
    const auth = ws.getUserData().auth;
    if (!auth) return;
    clearTimeout(auth.expiry);
    auth.expiry = undefined;
    if (auth.identity) this.unindex(ws, auth.identity.userId);
  }

  ofUser(userId: string): ClientInfo[] {
    return [...(this.byUser.get(userId) ?? [])].map((ws) => clientInfo(ws.getUserData()));
  }

  signOut(userId: string, error: Error, which?: (identity: Identity) => boolean): number {
    const data = this.errorOf(error);
    let n = 0;
    for (const ws of [...(this.byUser.get(userId) ?? [])]) {
      const id = ws.getUserData().auth?.identity;
      if (!id || (which && !which(id))) continue;
      this.end(ws, data);
      n++;
    }
    return n;
  }

  setRole(userId: string, role: string): void {
    for (const ws of [...(this.byUser.get(userId) ?? [])]) {
      const auth = ws.getUserData().auth;
      if (!auth?.identity || auth.identity.role === role) continue;
      auth.identity = { ...auth.identity, role };
      this.recheckSocket(ws);
    }
  }

  recheck(userId: string): void {
    const sockets = [...(this.byUser.get(userId) ?? [])];
    // Beyond a smaller connection allowance, the newest connections are signed out (the set keeps sign-in order).
    const identity = sockets[0]?.getUserData().auth?.identity;
    const allowance = identity && this.access.connectionAllowance(identity);
    if (allowance && sockets.length > allowance.max) {
      for (const ws of sockets.splice(allowance.max)) this.end(ws, { code: 'TG_ERR_USER_CONNECTION_LIMIT', message: allowance.message });
    }
    for (const ws of sockets) this.recheckSocket(ws);
  }

  /** Ends a connection's authentication: `unauthenticated`, then each subscription it may no longer hold ends. */
  private end(ws: WebSocket<Client>, error: ErrorData): void {
    const c = ws.getUserData();
    const auth = c.auth;
    if (!auth?.identity) return;
    this.unindex(ws, auth.identity.userId);
    clearTimeout(auth.expiry);
    auth.expiry = undefined;
    auth.identity = undefined;
    if (c.closed) return;
    ws.cork(() => {
      ws.send(encodeFrame('unauthenticated', undefined, error), false);
      this.recheckSocket(ws, error);
    });
  }

  /**
   * Asks the policy for the connection's channel allowance again: a changed one is announced with a `limits` frame,
   * and the newest channels beyond a smaller one end with TG_ERR_CHANNEL_LIMIT and `unsubscribed`.
   */
  private refreshAllowance(ws: WebSocket<Client>): void {
    const c = ws.getUserData();
    if (c.closed) return;
    const before = c.allowance;
    const after = this.access.channelAllowance(clientInfo(c));
    c.allowance = after;
    if (after.max === before.max) return;
    ws.cork(() => {
      ws.send(encodeFrame('limits', undefined, this.limitsOf(c)), false);
      for (const name of c.channels.slice(after.max)) {
        this.subs.remove(ws, name, true);
        ws.send(encodeError({ code: 'TG_ERR_CHANNEL_LIMIT', message: `${name} ended. ${after.message}` }, name), false);
        ws.send(encodeFrame('unsubscribed', name, undefined), false);
      }
    });
  }

  /**
   * Runs the subscribe rules on each of the socket's channels; each refused one ends with an error frame (the rule's,
   * or `cause` when authentication ended) and `unsubscribed`.
   */
  recheckSocket(ws: WebSocket<Client>, cause?: ErrorData): void {
    const c = ws.getUserData();
    if (c.closed) return;
    const info = clientInfo(c);
    for (const name of [...c.channels]) {
      const parsed = parseChannelName(name);
      const family = parsed && this.registry.get(parsed.kind);
      if (!parsed || !family) continue;
      const refused = this.access.check(info, parsed, family, c.channels);
      if (!refused) continue;
      this.subs.remove(ws, name, true);
      ws.cork(() => {
        ws.send(encodeError(cause ?? refused, name), false);
        ws.send(encodeFrame('unsubscribed', name, undefined), false);
      });
    }
    this.refreshAllowance(ws);
  }

  /** Ends the identity when its credential expires (a renewal in-band re-arms it). */
  private arm(ws: WebSocket<Client>): void {
    const auth = ws.getUserData().auth;
    if (!auth?.identity) return;
    clearTimeout(auth.expiry);
    auth.expiry = undefined;
    const at = auth.identity.expiresAt;
    if (at === undefined) return;
    const delay = Math.max(0, at - Date.now());
    auth.expiry = setTimeout(() => {
      auth.expiry = undefined;
      if (delay > MAX_TIMER_MS) return this.arm(ws);
      this.end(ws, errorData('TG_ERR_TOKEN_EXPIRED'));
    }, Math.min(delay, MAX_TIMER_MS));
    auth.expiry.unref();
  }

  private errorOf(error: Error): ErrorData {
    const e = this.errors.toClientError(error);
    return e ? { code: e.code, message: e.message } : errorData('TG_ERR_AUTH_REQUIRED', 'Your authentication on this connection ended: authenticate again');
  }

  private index(ws: WebSocket<Client>, userId: string): void {
    let set = this.byUser.get(userId);
    if (!set) this.byUser.set(userId, (set = new Set()));
    set.add(ws);
  }

  private unindex(ws: WebSocket<Client>, userId: string): void {
    const set = this.byUser.get(userId);
    if (!set) return;
    set.delete(ws);
    if (set.size === 0) this.byUser.delete(userId);
  }
}
