// Access tokens: short-lived JWTs signed and verified with jose, the algorithm pinned by configuration.
import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { TickgateError } from '../../core/errors.js';
import type { SigningKeys } from './signing-keys.js';

/** RFC 9068's media type for JWT access tokens: a token of another type (an ID token, say) is refused. */
const TYP = 'at+jwt';

export interface TokenOptions {
  issuer: string;
  audience: string;
  ttlSeconds: number;
  clockToleranceSeconds: number;
}

export interface AccessClaims {
  userId: string;
  sessionId: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

export class AccessTokens {
  constructor(private readonly keys: SigningKeys, private readonly opts: TokenOptions) {}

  async sign(userId: string, sessionId: string, role: string): Promise<{ token: string; expiresIn: number; expiresAt: number }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.opts.ttlSeconds;
    const token = await new SignJWT({ sid: sessionId, role })
      .setProtectedHeader({ alg: this.keys.alg, typ: TYP, kid: this.keys.kid })
      .setSubject(userId)
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.keys.signKey);
    return { token, expiresIn: this.opts.ttlSeconds, expiresAt: exp * 1000 };
  }

  /**
   * The claims of a valid token. Refused (TG_ERR_TOKEN_INVALID): another algorithm than the configured one ("none"
   * and HS256-with-the-public-key included), a bad signature, another issuer, audience or type, not yet valid,
   * missing claims; TG_ERR_TOKEN_EXPIRED once expired (past the clock tolerance).
   */
  async verify(token: string): Promise<AccessClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.verifyKey, {
        algorithms: [this.keys.alg],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        typ: TYP,
        clockTolerance: this.opts.clockToleranceSeconds,
        requiredClaims: ['sub', 'sid', 'exp', 'nbf', 'iat'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TickgateError('TG_ERR_TOKEN_EXPIRED');
      throw new TickgateError('TG_ERR_TOKEN_INVALID', 'The access token is not valid: sign in again (POST /api/v1/auth/login)');
    }
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') {
      throw new TickgateError('TG_ERR_TOKEN_INVALID', 'The access token is not valid: sign in again (POST /api/v1/auth/login)');
    }
    return { userId: payload.sub, sessionId: payload.sid, expiresAt: payload.exp * 1000 };
  }
}
