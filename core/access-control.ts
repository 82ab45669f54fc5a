// Who a client is and what it may hold: the registered authenticator, credentials read from a request, the
// subscribe rules (the core's rule for user-keyed channels, then the plugins'), the request rules and the client policy.
import type { Authenticator, ClientAllowance, ClientInfo, ClientPolicy, Credential, Identity, RequestContext, RequestRule, RouteRequest, SubscribeRule } from './plugin-api.js';
import type { ChannelKind } from './channel-registry.js';
import type { ChannelName } from './channel-grammar.js';
import { errorData, TickgateError, type ErrorData, type ErrorRegistry } from './errors.js';
import type { Logger } from './logger.js';

/** Bounds what a client can make the authenticator read: tokens and keys are far shorter. */
const MAX_CREDENTIAL_LENGTH = 4096;

export class AccessControl {
  private authenticator: { plugin: string; fn: Authenticator } | undefined;
  private readonly rules: Array<{ plugin: string; rule: SubscribeRule }> = [];
  private readonly requestRules: Array<{ plugin: string; rule: RequestRule }> = [];
  private policy: { plugin: string; policy: ClientPolicy } | undefined;
  /** The channel allowance without a policy: the configured limit. */
  readonly defaultChannels: ClientAllowance;

  constructor(
    private readonly errors: ErrorRegistry,
    private readonly log: Logger,
    maxChannelsPerClient = 50,
  ) {
    this.defaultChannels = {
      max: maxChannelsPerClient,
      message: `Channel limit of ${maxChannelsPerClient} per connection reached: unsubscribe from another channel first`,
    };
  }

  addRequestRule(plugin: string, rule: RequestRule): void {
    if (typeof rule !== 'function') throw new Error(`plugin "${plugin}": onRequest() needs a function`);
    this.requestRules.push({ plugin, rule });
  }

  get hasRequestRules(): boolean {
    return this.requestRules.length > 0;
  }

  /**
   * Runs the request rules in order; throws (or rejects with) the first refusal (a rule's uncoded failure is logged
   * and refused as TG_ERR_INTERNAL). Synchronous while the rules are: a promise only once one returns a promise.
   */
  checkRequest(req: RouteRequest, ctx: RequestContext, from = 0): void | Promise<void> {
    for (let i = from; i < this.requestRules.length; i++) {
      const { plugin, rule } = this.requestRules[i]!;
      let pending: void | Promise<void>;
      try {
        pending = rule(req, ctx);
      } catch (err) {
        throw this.refusal(err, plugin, req);
      }
      if (pending && typeof (pending as Promise<void>).then === 'function') {
        return (pending as Promise<void>).then(
          () => this.checkRequest(req, ctx, i + 1),
          (err: unknown) => {
            throw this.refusal(err, plugin, req);
          },
        );
      }
    }
  }

  private refusal(err: unknown, plugin: string, req: RouteRequest): unknown {
    if (this.errors.toClientError(err)) return err;
    this.log.error({ err, plugin, path: req.path }, 'request rule failed (contained): the request is refused');
    return new TickgateError('TG_ERR_INTERNAL');
  }

  setPolicy(plugin: string, policy: ClientPolicy): void {
    if (policy === null || typeof policy !== 'object' || typeof policy.channels !== 'function' || typeof policy.connections !== 'function') {
      throw new Error(`plugin "${plugin}": limitClients() needs { channels(client), connections(identity) }`);
    }
    if (this.policy) throw new Error(`plugin "${plugin}": client limits are already set by plugin "${this.policy.plugin}"; a gateway has one policy`);
    this.policy = { plugin, policy };
  }

  /** The channels one connection of `client` may hold. A failing policy is logged and the configured limit applies. */
  channelAllowance(client: ClientInfo): ClientAllowance {
    const p = this.policy;
    if (!p) return this.defaultChannels;
    try {
      const a = p.policy.channels(client);
      if (isAllowance(a)) return a;
      this.log.error({ plugin: p.plugin }, 'client policy answered channels() with something that is not { max, message }');
    } catch (err) {
      this.log.error({ err, plugin: p.plugin }, 'client policy failed (contained): the configured channel limit applies');
    }
    return this.defaultChannels;
  }

  /** The authenticated connections `identity`'s user may hold; undefined: no limit. */
  connectionAllowance(identity: Identity): ClientAllowance | undefined {
    const p = this.policy;
    if (!p) return undefined;
    try {
      const a = p.policy.connections(identity);
      if (a === undefined || isAllowance(a)) return a;
      this.log.error({ plugin: p.plugin }, 'client policy answered connections() with something that is not { max, message } or undefined');
    } catch (err) {
      this.log.error({ err, plugin: p.plugin }, 'client policy failed (contained): no connection limit applies');
    }
    return undefined;
  }

  setAuthenticator(plugin: string, fn: Authenticator): void {
    if (typeof fn !== 'function') throw new Error(`plugin "${plugin}": authenticate() needs a function (credential) => Promise<Identity>`);
    if (this.authenticator) throw new Error(`plugin "${plugin}": an authenticator is already registered by plugin "${this.authenticator.plugin}"; a gateway has one`);
    this.authenticator = { plugin, fn };
  }

  get hasSubscribeRules(): boolean {
    return this.rules.length > 0;
  }

  get hasAuthenticator(): boolean {
    return this.authenticator !== undefined;
  }

  addRule(plugin: string, rule: SubscribeRule): void {
    if (typeof rule !== 'function') throw new Error(`plugin "${plugin}": onSubscribe() needs a function`);
    this.rules.push({ plugin, rule });
  }

  /**
   * The identity for a credential. Rejects with a coded TickgateError: the authenticator's own, TG_ERR_AUTH_UNAVAILABLE
   * when no plugin authenticates, TG_ERR_INTERNAL (logged) when the authenticator fails without a code or answers
   * with something that is not an identity.
   */
  async identify(credential: Credential): Promise<Identity> {
    const a = this.authenticator;
    if (!a) throw new TickgateError('TG_ERR_AUTH_UNAVAILABLE');
    let identity: unknown;
    try {
      identity = await a.fn(credential);
    } catch (err) {
      if (this.errors.toClientError(err)) throw err;
      this.log.error({ err, plugin: a.plugin }, 'authenticator failed (contained)');
      throw new TickgateError('TG_ERR_INTERNAL');
    }
    if (!isIdentity(identity)) {
      this.log.error({ plugin: a.plugin }, 'authenticator answered with something that is not an identity { userId, role, expiresAt, credential }');
      throw new TickgateError('TG_ERR_INTERNAL');
    }
    return identity;
  }

  /**
   * As identify(), but an authenticator that has not answered within `timeoutMs` gets the call refused with
   * TG_ERR_ROUTE_TIMEOUT (`message` tells the client what to do); its late answer is then ignored.
   */
  identifyWithin(credential: Credential, timeoutMs: number, message: string): Promise<Identity> {
    return new Promise<Identity>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TickgateError('TG_ERR_ROUTE_TIMEOUT', message)), timeoutMs);
      timer.unref();
      this.identify(credential).then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  /** Whether `client` may hold `channel`: undefined, or the error to send. */
  check(client: ClientInfo, channel: ChannelName, family: ChannelKind, channels: readonly string[]): ErrorData | undefined {
    const id = client.identity;
    if (family.spec.key === 'user') {
      if (!id) return errorData('TG_ERR_AUTH_REQUIRED');
      if (id.userId !== channel.key && id.role !== 'admin') return errorData('TG_ERR_FORBIDDEN');
    }
    if (this.rules.length === 0) return undefined;
    const req = { client, channel: channel.name, kind: channel.kind, key: channel.key, arg: channel.arg, owner: family.plugin, channels };
    for (const { plugin, rule } of this.rules) {
      try {
        rule(req);
      } catch (err) {
        const e = this.errors.toClientError(err);
        if (e) return e.hint === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, hint: e.hint };
        this.log.error({ err, plugin, channel: channel.name }, 'subscribe rule failed (contained): the subscription is refused');
        return errorData('TG_ERR_INTERNAL');
      }
    }
    return undefined;
  }
}

function isAllowance(v: unknown): v is ClientAllowance {
  return v !== null && typeof v === 'object' && Number.isInteger((v as ClientAllowance).max) && (v as ClientAllowance).max >= 0 && typeof (v as ClientAllowance).message === 'string';
}

function isIdentity(v: unknown): v is Identity {
  if (v === null || typeof v !== 'object') return false;
  const i = v as Identity;
  return typeof i.userId === 'string' && i.userId !== '' && typeof i.role === 'string'
    && (i.expiresAt === undefined || Number.isFinite(i.expiresAt))
    && i.credential !== null && typeof i.credential === 'object'
    && (i.credential.kind === 'token' || i.credential.kind === 'apiKey') && typeof i.credential.id === 'string';
}

/**
 * The credential of an HTTP request or a /ws upgrade: `Authorization: Bearer …`, `X-API-Key`, and on /ws the
 * `token` and `apiKey` query parameters (browsers cannot set headers on a WebSocket). Undefined: none given.
 * Throws TG_ERR_AUTH_REQUIRED for an Authorization header of another scheme or a credential too long to be one.
 */
export function credentialFrom(header: (name: string) => string, query: URLSearchParams | undefined, remoteAddress: string, ignoreOtherSchemes = false): Credential | undefined {
  let scheme: Credential['scheme'] | undefined;
  let value = '';
  let authorization = header('authorization');
  // At the /ws upgrade a browser may send the Basic credentials of a proxy in front: not meant for tickgate.
  if (authorization && ignoreOtherSchemes && !/^Bearer[ \t]/i.test(authorization)) authorization = '';
  if (authorization) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!m) throw new TickgateError('TG_ERR_AUTH_REQUIRED', 'The Authorization header must be "Bearer <access token or API key>"');
    scheme = 'bearer';
    value = m[1]!;
  } else if (header('x-api-key')) {
    scheme = 'apiKey';
    value = header('x-api-key').trim();
  } else if (query?.get('token')) {
    scheme = 'bearer';
    value = query.get('token')!;
  } else if (query?.get('apiKey')) {
    scheme = 'apiKey';
    value = query.get('apiKey')!;
  }
  if (scheme === undefined) return undefined;
  if (value.length > MAX_CREDENTIAL_LENGTH) throw new TickgateError('TG_ERR_AUTH_REQUIRED', `The credential is over ${MAX_CREDENTIAL_LENGTH} characters: send an access token or an API key`);
  return { scheme, value, remoteAddress };
}
