// Built-in auth plugin: sign-up, sign-in, refresh and sign-out; JWT access tokens (jose); the gateway's authenticator.
import { z } from 'zod';
import { definePlugin } from '../../core/plugin-api.js';
import type { Credential, Identity } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import type { Database } from '../db/database.js';
import type { UsersService } from '../users/service.js';
import { isApiKeyFormat } from '../users/user-store.js';
import { USERS_ERRORS } from '../users/errors.js';
import { AUTH_ERRORS } from './errors.js';
import { AUTH_MIGRATIONS } from './migrations.js';
import { loadSigningKeys } from './signing-keys.js';
import { AccessTokens } from './access-tokens.js';
import { SessionStore } from './sessions.js';
import { AttemptLimits } from './attempt-limits.js';
import { authRoutes } from './routes.js';

const DAY_MS = 24 * 3600 * 1000;

const configSchema = z.object({
  /** How access tokens are signed: HS256 with a shared secret, or EdDSA / ES256 with a key pair (public keys at /.well-known/jwks.json). */
  algorithm: z.enum(['HS256', 'EdDSA', 'ES256']).default('HS256'),
  /** HS256 secret (env JWT_SECRET), 32 characters or more; empty: one is generated and kept in the database. */
  jwtSecret: z.string().default('').refine((s) => s === '' || s.length >= 32, { message: 'must be at least 32 characters (e.g. openssl rand -base64 48), or empty to have one generated' }),
  /** EdDSA / ES256 private key, PKCS#8 PEM; empty: a key pair is generated and kept in the database. */
  privateKeyFile: z.string().default(''),
  /** The `kid` of the key; empty: the key's JWK thumbprint. */
  keyId: z.string().default(''),
  issuer: z.string().min(1).default('tickgate'),
  audience: z.string().min(1).default('tickgate'),
  accessTokenTtlSeconds: z.number().int().min(1).max(24 * 3600).default(900),
  refreshTokenTtlDays: z.number().int().min(1).max(365).default(30),
  /** Leeway for exp and nbf against clock skew between machines. */
  clockToleranceSeconds: z.number().int().min(0).max(300).default(5),
  /** `open`: anyone may register; `closed`: accounts are made by admins (npm run user:create). */
  registration: z.enum(['open', 'closed']).default('open'),
  limits: z.object({
    loginsPerIpPerMinute: z.number().int().min(1).default(20),
    failuresPerAccountPerIpPer15Minutes: z.number().int().min(1).default(10),
    failuresPerAccountPerHour: z.number().int().min(1).default(100),
    failedAuthPerIpPerMinute: z.number().int().min(1).default(60),
  }).strict().prefault({}),
}).strict().superRefine((c, ctx) => {
  if (c.algorithm === 'HS256' && c.privateKeyFile) ctx.addIssue({ code: 'custom', path: ['privateKeyFile'], message: 'is for EdDSA or ES256: HS256 uses jwtSecret' });
  if (c.algorithm !== 'HS256' && c.jwtSecret) ctx.addIssue({ code: 'custom', path: ['jwtSecret'], message: `is for HS256: ${c.algorithm} uses privateKeyFile` });
});

export default definePlugin({
  name: 'auth',
  configSchema,
  errors: AUTH_ERRORS,
  async acceptor(api) {
    const c = api.config;
    const db = api.use<Database>('db');
    const users = api.use<UsersService>('users');
    await db.migrate('auth', AUTH_MIGRATIONS);
    const keys = await loadSigningKeys({ alg: c.algorithm, jwtSecret: c.jwtSecret, privateKeyFile: c.privateKeyFile, keyId: c.keyId }, db, api.log);
    const tokens = new AccessTokens(keys, { issuer: c.issuer, audience: c.audience, ttlSeconds: c.accessTokenTtlSeconds, clockToleranceSeconds: c.clockToleranceSeconds });
    const sessions = new SessionStore(db, c.refreshTokenTtlDays * DAY_MS);
    const limits = new AttemptLimits(c.limits);
    const { store } = users;

    /** Who may act now: a deleted user's credentials stop at once, a disabled user's too. */
    const statusOf = async (userId: string) => {
      const status = await store.status(userId);
      if (!status) throw new TickgateError('TG_ERR_TOKEN_INVALID', 'This account no longer exists');
      if (status.disabled) throw USERS_ERRORS.error('TG_ERR_ACCOUNT_DISABLED');
      return status;
    };

    api.authenticate(async (credential: Credential): Promise<Identity> => {
      const ip = credential.remoteAddress;
      if (credential.scheme === 'apiKey' || isApiKeyFormat(credential.value)) {
        // A key that proved valid on this gateway passes whatever others at the address did. An unknown one costs a
        // query: past the address's failed-credential limit it waits instead, and it is counted before the lookup
        // (and taken back if valid), so that a burst of guesses cannot all pass the check.
        const known = store.isKnownApiKey(credential.value);
        if (!known) {
          await limits.checkAddress(ip);
          await limits.credentialFailed(ip);
        }
        const key = await store.verifyApiKey(credential.value);
        if (!key) {
          if (known) await limits.credentialFailed(ip);
          throw new TickgateError('TG_ERR_TOKEN_INVALID', 'The API key is not valid (unknown or revoked): create one with POST /api/v1/users/me/api-keys');
        }
        if (!known) await limits.credentialSucceeded(ip);
        const status = await statusOf(key.userId);
        return { userId: key.userId, role: status.role, expiresAt: undefined, credential: { kind: 'apiKey', id: key.keyId } };
      }
      let claims;
      try {
        claims = await tokens.verify(credential.value);
      } catch (err) {
        // An expired token is normal wear, not an attack: only invalid ones count against the address, and past
        // its limit they are answered 429 (with Retry-After) instead of 401. A valid token always passes.
        if ((err as TickgateError).code === 'TG_ERR_TOKEN_INVALID') {
          await limits.checkAddress(ip);
          await limits.credentialFailed(ip);
        }
        throw err;
      }
      // The account first: a deleted or disabled account says so, whatever became of the session.
      const status = await statusOf(claims.userId);
      if (!(await sessions.isActive(claims.sessionId, claims.userId))) throw AUTH_ERRORS.error('TG_ERR_SESSION_REVOKED');
      return { userId: claims.userId, role: status.role, expiresAt: claims.expiresAt, credential: { kind: 'token', id: claims.sessionId } };
    });

    /** Ends sessions: their refresh tokens stop (the database), their access tokens stop (the cache), their open connections sign out. */
    const endHere = (userId: string, ids: string[]) => {
      const set = new Set(ids);
      api.clients.signOut(userId, AUTH_ERRORS.error('TG_ERR_SESSION_REVOKED'), (id) => id.credential.kind === 'token' && set.has(id.credential.id));
    };
    const sessionsEnded = (userId: string, ids: string[], reason: string) => {
      if (ids.length === 0) return;
      endHere(userId, ids);
      // The cluster's other gateways: their cache stops the tokens, their connections sign out.
      api.broadcast('sessions-ended', { userId, ids });
      users.accountEvent(userId, 'session.revoked', { sessions: ids, reason });
    };
    api.onBroadcast('sessions-ended', (data) => {
      const { userId, ids } = data as { userId: string; ids: string[] };
      sessions.revokedElsewhere(userId, ids);
      endHere(userId, ids);
    });
    api.onBroadcast('user-deleted', (data) => sessions.forgetUser((data as { userId: string }).userId));

    store.onChange(async (change) => {
      if (change.event === 'password.changed') {
        // Awaited: the password change answers once the other sessions have ended.
        let ids: string[];
        try {
          ids = await sessions.revokeUserSessions(change.userId, 'password-changed', change.keepSession);
        } catch (err) {
          api.log.error({ err, userId: change.userId }, 'could not revoke sessions after a password change');
          throw new TickgateError('TG_ERR_INTERNAL', 'The password was changed, but your other sessions could not be ended: sign in again and change the password once more, or ask an administrator');
        }
        sessionsEnded(change.userId, ids, 'password-changed');
      } else if (change.event === 'account.deleted') {
        sessions.forgetUser(change.userId);
        api.broadcast('user-deleted', { userId: change.userId });
      }
    });

    authRoutes(api, { store, tokens, sessions, limits, registration: c.registration, sessionsEnded, statusOf, jwks: keys.jwks });

    const purge = () => {
      void sessions.purge(c.refreshTokenTtlDays * DAY_MS).then(
        (n) => n && api.log.info({ sessions: n }, 'purged ended sessions'),
        (err: unknown) => api.log.warn({ err }, 'session purge failed'),
      );
    };
    purge();
    const timer = setInterval(purge, 6 * 3600 * 1000);
    timer.unref();
    api.onClose(() => clearInterval(timer));
    api.log.info({ algorithm: keys.alg, kid: keys.kid, key: keys.source, registration: c.registration, accessTokenTtlSeconds: c.accessTokenTtlSeconds }, 'auth ready');
  },
});
