// Sessions and their refresh tokens: opaque, stored hashed, rotated on every use; a reused one revokes its session.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/database.js';
import { AUTH_ERRORS } from './errors.js';

const REFRESH_PREFIX = 'tgr_';
const REFRESH_RE = /^tgr_[A-Za-z0-9_-]{43}$/;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function newRefreshToken(): string {
  return REFRESH_PREFIX + randomBytes(32).toString('base64url');
}

export interface Rotated {
  sessionId: string;
  userId: string;
  refreshToken: string;
}

/** A refresh token used twice: its session was revoked (committed) before this is thrown. */
export class RefreshReuse extends Error {
  constructor(readonly sessionId: string, readonly userId: string) {
    super('refresh token reused');
  }
}

export class SessionStore {
  /**
   * Whether a session is live, by id: checked on every request with an access token, so kept in memory; updated at
   * once by revocations made here, re-read after the TTL for those made elsewhere (another gateway, SQL).
   */
  private readonly live = new LRUCache<string, { userId: string; active: boolean }>({ max: 200_000, ttl: 30_000 });

  /** Bumped by every revocation here: a read that started before one must not cache the session as live after it. */
  private generation = 0;

  constructor(private readonly db: Database, private readonly refreshTtlMs: number) {}

  private revoked(sessionId: string, userId: string): void {
    this.generation++;
    this.live.set(sessionId, { userId, active: false });
  }

  async create(userId: string, meta: { ip: string; userAgent: string | undefined }): Promise<Rotated> {
    const sessionId = randomUUID();
    const refreshToken = newRefreshToken();
    const now = new Date();
    await this.db.transaction(async () => {
      await this.db.sequelize.query(
        'INSERT INTO auth_sessions (id, user_id, created_at, expires_at, created_ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6)',
        { bind: [sessionId, userId, now, new Date(now.getTime() + this.refreshTtlMs), meta.ip || null, meta.userAgent?.slice(0, 256) ?? null] },
      );
      await this.db.sequelize.query('INSERT INTO auth_refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)', { bind: [sha256(refreshToken), sessionId, now] });
    });
    this.live.set(sessionId, { userId, active: true });
    return { sessionId, userId, refreshToken };
  }

  /**
   * Exchanges a refresh token for a new one. The token and its session are locked for the exchange, so two
   * concurrent uses of one token cannot both succeed: the second sees it used, and revokes the session.
   */
  async rotate(refreshToken: string): Promise<Rotated> {
    if (!REFRESH_RE.test(refreshToken)) throw AUTH_ERRORS.error('TG_ERR_REFRESH_INVALID');
    const next = newRefreshToken();
    const outcome = await this.db.transaction(async () => {
      const rows = await this.db.sequelize.query<{ session_id: string; used_at: Date | null; user_id: string; expires_at: Date; revoked_at: Date | null }>(
        `SELECT t.session_id, t.used_at, s.user_id, s.expires_at, s.revoked_at
           FROM auth_refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id
          WHERE t.token_hash = $1
          FOR UPDATE OF t, s`,
        { bind: [sha256(refreshToken)], type: QueryTypes.SELECT },
      );
      const row = rows[0];
      if (!row || row.revoked_at !== null || row.expires_at.getTime() <= Date.now()) return { kind: 'invalid' as const };
      if (row.used_at !== null) {
        await this.db.sequelize.query("UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'refresh-token-reuse' WHERE id = $1", { bind: [row.session_id] });
        return { kind: 'reused' as const, sessionId: row.session_id, userId: row.user_id };
      }
      const now = new Date();
      await this.db.sequelize.query('UPDATE auth_refresh_tokens SET used_at = $2 WHERE token_hash = $1', { bind: [sha256(refreshToken), now] });
      await this.db.sequelize.query('INSERT INTO auth_refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)', { bind: [sha256(next), row.session_id, now] });
      await this.db.sequelize.query('UPDATE auth_sessions SET expires_at = $2 WHERE id = $1', { bind: [row.session_id, new Date(now.getTime() + this.refreshTtlMs)] });
      return { kind: 'ok' as const, sessionId: row.session_id, userId: row.user_id };
    });
    if (outcome.kind === 'invalid') throw AUTH_ERRORS.error('TG_ERR_REFRESH_INVALID');
    if (outcome.kind === 'reused') {
      this.revoked(outcome.sessionId, outcome.userId);
      throw new RefreshReuse(outcome.sessionId, outcome.userId);
    }
    this.live.set(outcome.sessionId, { userId: outcome.userId, active: true });
    return { sessionId: outcome.sessionId, userId: outcome.userId, refreshToken: next };
  }

  /** Revokes the session a refresh token belongs to (used or not); undefined for a token no session has. */
  async revokeByToken(refreshToken: string, reason: string): Promise<{ sessionId: string; userId: string } | undefined> {
    if (!REFRESH_RE.test(refreshToken)) return undefined;
    const rows = await this.db.sequelize.query<{ id: string; user_id: string }>(
      `UPDATE auth_sessions s SET revoked_at = COALESCE(s.revoked_at, now()), revoked_reason = COALESCE(s.revoked_reason, $2)
         FROM auth_refresh_tokens t
        WHERE t.token_hash = $1 AND s.id = t.session_id
        RETURNING s.id, s.user_id`,
      { bind: [sha256(refreshToken), reason], type: QueryTypes.SELECT },
    );
    const row = rows[0];
    if (!row) return undefined;
    this.revoked(row.id, row.user_id);
    return { sessionId: row.id, userId: row.user_id };
  }

  /** Revokes every live session of a user but `keep`; returns their ids. */
  async revokeUserSessions(userId: string, reason: string, keep?: string): Promise<string[]> {
    const rows = await this.db.sequelize.query<{ id: string }>(
      `UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2
        WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3::uuid)
        RETURNING id`,
      { bind: [userId, reason, keep ?? null], type: QueryTypes.SELECT },
    );
    for (const r of rows) this.revoked(r.id, userId);
    return rows.map((r) => r.id);
  }

  /** Whether the session an access token names is live and the user's own (cached; revocations here update it). */
  async isActive(sessionId: string, userId: string): Promise<boolean> {
    let hit = this.live.get(sessionId);
    if (hit === undefined) {
      if (!/^[0-9a-f-]{36}$/i.test(sessionId)) return false;
      const started = this.generation;
      const rows = await this.db.sequelize.query<{ user_id: string; revoked_at: Date | null; expires_at: Date }>(
        'SELECT user_id, revoked_at, expires_at FROM auth_sessions WHERE id = $1',
        { bind: [sessionId], type: QueryTypes.SELECT },
      );
      const row = rows[0];
      hit = row ? { userId: row.user_id, active: row.revoked_at === null && row.expires_at.getTime() > Date.now() } : { userId: '', active: false };
      if (started === this.generation) this.live.set(sessionId, hit);
    }
    return hit.active && hit.userId === userId;
  }

  /** Sessions another gateway of the cluster revoked: this one stops taking their access tokens at once. */
  revokedElsewhere(userId: string, ids: string[]): void {
    for (const id of ids) this.revoked(id, userId);
  }

  /** Forgets a deleted user's sessions (the database removed them with the user). */
  forgetUser(userId: string): void {
    for (const [id, v] of this.live.entries()) if (v.userId === userId) this.revoked(id, userId);
    this.generation++;
  }

  /** Deletes sessions that ended long ago; their tokens go with them. */
  async purge(olderThanMs: number): Promise<number> {
    const cutoff = new Date(Date.now() - olderThanMs);
    const rows = await this.db.sequelize.query<{ id: string }>(
      'DELETE FROM auth_sessions WHERE expires_at < $1 OR revoked_at < $1 RETURNING id',
      { bind: [cutoff], type: QueryTypes.SELECT },
    );
    return rows.length;
  }
}
