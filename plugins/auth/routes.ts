// The auth plugin's routes: register, login, refresh, logout, me, and the public keys (JWKS).
import { z } from 'zod';
import type { JWK } from 'jose';
import type { AcceptorApi, RouteRequest } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { okAnswer } from '../../core/openapi.js';
import { PASSWORD_MAX_LENGTH } from '../users/passwords.js';
import type { PublicUser, Role, UserStore } from '../users/user-store.js';
import { USERS_ERRORS } from '../users/errors.js';
import { AUTH_ERRORS } from './errors.js';
import type { AccessTokens } from './access-tokens.js';
import { RefreshReuse, type SessionStore } from './sessions.js';
import { displayNameField, emailField } from '../users/fields.js';
import { publicUserAnswer } from '../users/answers.js';
import type { AttemptLimits } from './attempt-limits.js';

export interface AuthRouteDeps {
  store: UserStore;
  tokens: AccessTokens;
  sessions: SessionStore;
  limits: AttemptLimits;
  registration: 'open' | 'closed';
  sessionsEnded(userId: string, sessionIds: string[], reason: string): void;
  statusOf(userId: string): Promise<{ role: Role; disabled: boolean }>;
  jwks: { keys: JWK[] };
}

const password = z.string().min(1, 'is required').max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`);
const registerBody = z.object({ email: emailField, password, displayName: displayNameField.optional() }).strict();
const loginBody = z.object({ email: z.string().trim().min(1, 'is required').max(254, 'must be at most 254 characters'), password }).strict();
const refreshBody = z.object({ refreshToken: z.string().min(1, 'is required').max(256, 'is not a refresh token') }).strict();

const BODY = { maxBodyBytes: 4096 } as const;
const TAGS = ['auth'];

/** The answer of register, login and refresh. */
const sessionAnswer = okAnswer(z.object({
  user: publicUserAnswer,
  accessToken: z.string().meta({ description: 'A JWT for Authorization: Bearer, and for /ws' }),
  refreshToken: z.string().meta({ description: 'Single use: POST /api/v1/auth/refresh returns the next one' }),
  expiresIn: z.number().int().meta({ description: 'Seconds the access token is valid' }),
  tokenType: z.literal('Bearer'),
}));

export function authRoutes(api: AcceptorApi, d: AuthRouteDeps): void {
  const base = '/api/v1/auth';

  /** The answer of register, login and refresh: the user, a fresh access token and the session's new refresh token. */
  const issue = async (user: PublicUser, sessionId: string, refreshToken: string, status = 200) => {
    const access = await d.tokens.sign(user.id, sessionId, user.role);
    return { status, headers: { 'cache-control': 'no-store' }, body: { success: true, data: { user, accessToken: access.token, refreshToken, expiresIn: access.expiresIn, tokenType: 'Bearer' } } };
  };
  const meta = (req: RouteRequest) => ({ ip: req.remoteAddress, userAgent: req.headers['user-agent'] });

  if (d.registration === 'closed') {
    // Refused whatever is sent: no body to check, and the document says so.
    api.route('post', `${base}/register`, () => {
      throw AUTH_ERRORS.error('TG_ERR_REGISTRATION_CLOSED');
    }, { ...BODY, schema: { tags: TAGS, summary: 'Registration is closed on this server (auth option registration): 403 TG_ERR_REGISTRATION_CLOSED' } });
  } else api.route('post', `${base}/register`, async (req) => {
    const body = req.body;
    await d.limits.attempt(req.remoteAddress);
    const user = await d.store.create({ email: body.email, password: body.password, displayName: body.displayName });
    api.log.info({ userId: user.id }, 'user registered');
    const s = await d.sessions.create(user.id, meta(req));
    return issue(user, s.sessionId, s.refreshToken, 201);
  }, { ...BODY, schema: { tags: TAGS, summary: 'Creates an account and signs it in', body: registerBody, response: { 201: sessionAnswer } } });

  api.route('post', `${base}/login`, async (req) => {
    const body = req.body;
    const account = body.email.toLowerCase();
    await d.limits.attempt(req.remoteAddress);
    await d.limits.attemptAccount(account, req.remoteAddress);
    const user = await d.store.authenticate(account, body.password);
    if (!user) throw AUTH_ERRORS.error('TG_ERR_INVALID_CREDENTIALS');
    await d.limits.accountSucceeded(account, req.remoteAddress);
    if (user.disabled) throw USERS_ERRORS.error('TG_ERR_ACCOUNT_DISABLED');
    const { disabled: _disabled, ...pub } = user;
    const s = await d.sessions.create(user.id, meta(req));
    return issue(pub, s.sessionId, s.refreshToken);
  }, { ...BODY, schema: { tags: TAGS, summary: 'Signs in: a session with an access token and a refresh token', body: loginBody, response: { 200: sessionAnswer } } });

  api.route('post', `${base}/refresh`, async (req) => {
    const { refreshToken } = req.body;
    let rotated;
    try {
      rotated = await d.sessions.rotate(refreshToken);
    } catch (err) {
      if (err instanceof RefreshReuse) {
        api.log.warn({ userId: err.userId, sessionId: err.sessionId, ip: req.remoteAddress }, 'refresh token reused: session revoked');
        d.sessionsEnded(err.userId, [err.sessionId], 'refresh-token-reuse');
        throw AUTH_ERRORS.error('TG_ERR_REFRESH_REUSED');
      }
      throw err;
    }
    await d.statusOf(rotated.userId);
    const user = await d.store.get(rotated.userId);
    if (!user) throw AUTH_ERRORS.error('TG_ERR_REFRESH_INVALID');
    return issue(user, rotated.sessionId, rotated.refreshToken);
  }, {
    ...BODY,
    schema: {
      tags: TAGS, summary: 'A new access token and the next refresh token (the one sent is spent: sent again, it ends the session)',
      body: refreshBody, response: { 200: sessionAnswer },
    },
  });

  api.route('post', `${base}/logout`, async (req) => {
    const { refreshToken } = req.body;
    const ended = await d.sessions.revokeByToken(refreshToken, 'logout');
    if (!ended) throw AUTH_ERRORS.error('TG_ERR_REFRESH_INVALID');
    d.sessionsEnded(ended.userId, [ended.sessionId], 'logout');
    return { body: { success: true, data: { loggedOut: true } } };
  }, { ...BODY, schema: { tags: TAGS, summary: 'Ends the session of a refresh token', body: refreshBody, response: { 200: okAnswer(z.object({ loggedOut: z.literal(true) })) } } });

  api.route('get', `${base}/me`, async (req) => {
    const user = await d.store.get(req.identity!.userId);
    if (!user) throw new TickgateError('TG_ERR_TOKEN_INVALID', 'This account no longer exists');
    return { body: { success: true, data: { user } } };
  }, { auth: 'user', schema: { tags: TAGS, summary: 'The signed-in user', response: { 200: okAnswer(z.object({ user: publicUserAnswer })) } } });

  api.route('get', '/.well-known/jwks.json', () => ({ headers: { 'cache-control': 'public, max-age=300' }, body: d.jwks }), {
    outsideNamespace: true,
    schema: {
      tags: TAGS, summary: 'The public keys that verify access tokens (JWKS), for services that check tokens themselves',
      response: { 200: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) },
    },
  });
}
