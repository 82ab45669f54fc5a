// Users and API keys in the database: create, authenticate, read, change, list, delete; a cache of who may act.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DataTypes, Op, UniqueConstraintError, type Model, type ModelStatic } from 'sequelize';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { TickgateError } from '../../core/errors.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../../core/logger.js';
import { checkPassword, decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { USERS_ERRORS } from './errors.js';

export type Role = 'user' | 'admin';
export const ROLES: readonly Role[] = ['user', 'admin'];

/** A user as the API shows them. */
export interface PublicUser {
  id: string;
  email: string;
  displayName: string;
  role: Role;
  createdAt: string;
}

/** A user as an admin sees them. */
export interface AdminUser extends PublicUser {
  disabled: boolean;
  disabledAt: string | null;
  updatedAt: string;
}

/** What every authenticated request checks: the current role, and whether the account may act at all. */
export interface UserStatus {
  role: Role;
  disabled: boolean;
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  /** The key's first characters, to tell keys apart; the key itself is shown once, when created. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** What changed, for the account channel and for whoever must react (sign-outs, session revocation). */
export type UserChange =
  | { event: 'profile.updated'; userId: string; user: PublicUser }
  | { event: 'password.changed'; userId: string; keepSession: string | undefined }
  | { event: 'role.changed'; userId: string; role: Role; by: string }
  | { event: 'account.disabled' | 'account.enabled'; userId: string; by: string }
  | { event: 'account.deleted'; userId: string; by: string }
  | { event: 'api-key.created'; userId: string; key: ApiKeyInfo }
  | { event: 'api-key.revoked'; userId: string; keyId: string };

interface UserRow extends Model {
  id: string;
  email: string;
  passwordHash: string;
  displayName: string;
  role: Role;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface ApiKeyRow extends Model {
  id: string;
  userId: string;
  name: string;
  keyHash: string;
  keyPrefix: string;
  secret: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const API_KEY_PREFIX = 'tg_';
/** Keys are `tg_` and 43 base64url characters (256 random bits). */
const API_KEY_RE = /^tg_[A-Za-z0-9_-]{43}$/;

export function isApiKeyFormat(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function publicUser(u: UserRow): PublicUser {
  return { id: u.id, email: u.email, displayName: u.displayName, role: u.role, createdAt: u.createdAt.toISOString() };
}

export function adminUser(u: UserRow): AdminUser {
  return { ...publicUser(u), disabled: u.disabledAt !== null, disabledAt: u.disabledAt?.toISOString() ?? null, updatedAt: u.updatedAt.toISOString() };
}

function keyInfo(k: ApiKeyRow): ApiKeyInfo {
  return { id: k.id, name: k.name, prefix: k.keyPrefix, createdAt: k.createdAt.toISOString(), lastUsedAt: k.lastUsedAt?.toISOString() ?? null };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(id: string): boolean {
  return UUID_RE.test(id);
}

export interface UserStoreOptions {
  passwordMinLength: number;
  maxApiKeysPerUser: number;
  /** Wrong current passwords per user per 15 minutes at POST /me/password. */
  passwordChangeFailuresPer15Minutes: number;
}

export class UserStore {
  private readonly users: ModelStatic<UserRow>;
  private readonly keys: ModelStatic<ApiKeyRow>;
  /**
   * Users by id, with their state: read on every authenticated request and upgrade (and by /me), so kept in memory
   * and updated at once by every change made here; the TTL bounds how long a change made behind this gateway's back
   * (SQL, another gateway on the same database) goes unseen.
   */
  private readonly cache = new LRUCache<string, { user: PublicUser; disabled: boolean } | false>({ max: 100_000, ttl: 30_000 });
  /** API keys by hash: a key used by a bot on every request costs a hash and a lookup, not a query. */
  private readonly keyCache = new LRUCache<string, { keyId: string; userId: string } | false>({ max: 100_000, ttl: 60_000 });
  private readonly listeners: Array<(change: UserChange) => void | Promise<void>> = [];
  /** Wrong current passwords per user: the password-change route must not be a way to guess a signed-in user's password. */
  private readonly passwordFailures: RateLimiterMemory;
  /**
   * Bumped by every change made here: a database read that started before a change must not put what it read
   * into a cache after the change wrote the new state (a disabled user cached as enabled again).
   */
  private generation = 0;
  /** Hashes of keys that proved valid lately (see isKnownApiKey). */
  private readonly provenKeys = new LRUCache<string, true>({ max: 100_000, ttl: 7 * 24 * 3600 * 1000 });
  /** Signing secrets by key hash, for programs that sign every request (see signingKey). */
  private readonly secretCache = new LRUCache<string, { keyId: string; userId: string; secret: string } | false>({ max: 100_000, ttl: 60_000 });
  /** last_used_at is written at most once a minute per key. */
  private readonly keyUsedAt = new LRUCache<string, number>({ max: 100_000 });

  constructor(private readonly db: Database, private readonly opts: UserStoreOptions, private readonly log?: Logger) {
    this.passwordFailures = new RateLimiterMemory({ points: opts.passwordChangeFailuresPer15Minutes, duration: 15 * 60 });
    const s = db.sequelize;
    this.users = (s.models.User as ModelStatic<UserRow> | undefined) ?? s.define<UserRow>('User', {
      id: { type: DataTypes.UUID, primaryKey: true },
      email: { type: DataTypes.TEXT, allowNull: false },
      passwordHash: { type: DataTypes.TEXT, allowNull: false },
      displayName: { type: DataTypes.TEXT, allowNull: false },
      role: { type: DataTypes.TEXT, allowNull: false },
      disabledAt: { type: DataTypes.DATE, allowNull: true },
    }, { tableName: 'users', underscored: true });
    this.keys = (s.models.ApiKey as ModelStatic<ApiKeyRow> | undefined) ?? s.define<ApiKeyRow>('ApiKey', {
      id: { type: DataTypes.UUID, primaryKey: true },
      userId: { type: DataTypes.UUID, allowNull: false },
      name: { type: DataTypes.TEXT, allowNull: false },
      keyHash: { type: DataTypes.TEXT, allowNull: false },
      keyPrefix: { type: DataTypes.TEXT, allowNull: false },
      secret: { type: DataTypes.TEXT, allowNull: true },
      lastUsedAt: { type: DataTypes.DATE, allowNull: true },
    }, { tableName: 'api_keys', underscored: true, updatedAt: false });
  }

  /**
   * `fn` hears every change made here, after it is committed. The change's method resolves only after every
   * listener's promise has. A password change also rejects when a listener rejects (it answers only once the user's
   * other sessions have ended); for the other changes, which stand once committed, a listener's failure is logged
   * and the other listeners still hear the change.
   */
  onChange(fn: (change: UserChange) => void | Promise<void>): void {
    this.listeners.push(fn);
  }

  private async emit(change: UserChange): Promise<void> {
    const results = await Promise.allSettled(this.listeners.map(async (fn) => fn(change)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === 0) return;
    if (change.event === 'password.changed') throw failed[0]!.reason;
    for (const f of failed) this.log?.error({ err: f.reason, event: change.event, userId: change.userId }, 'a listener of an account change failed');
  }

  checkPassword(password: string, email: string, field?: string): void {
    checkPassword(password, email, this.opts.passwordMinLength, field);
  }

  async create(input: { email: string; password: string; displayName?: string | undefined; role?: Role }): Promise<PublicUser> {
    const email = input.email.trim().toLowerCase();
    this.checkPassword(input.password, email);
    const passwordHash = await hashPassword(input.password);
    try {
      const row = await this.users.create({
        id: randomUUID(),
        email,
        passwordHash,
        displayName: input.displayName?.trim() || email.split('@')[0]!,
        role: input.role ?? 'user',
        disabledAt: null,
      });
      return publicUser(row);
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw USERS_ERRORS.error('TG_ERR_EMAIL_TAKEN');
      throw err;
    }
  }

  /**
   * The user whose email and password these are, or undefined. An unknown email costs the same argon2 work as a
   * wrong password, so the time taken does not tell whether an account exists.
   */
  async authenticate(email: string, password: string): Promise<PublicUser & { disabled: boolean } | undefined> {
    const row = await this.users.findOne({ where: { email: email.trim().toLowerCase() } });
    const ok = await verifyPassword(row?.passwordHash ?? await decoyHash(), password);
    if (!row || !ok) return undefined;
    return { ...publicUser(row), disabled: row.disabledAt !== null };
  }

  async get(id: string): Promise<PublicUser | undefined> {
    return (await this.cached(id))?.user;
  }

  /** The cached user and state, read from the database on a miss; undefined for no such user. */
  private async cached(id: string): Promise<{ user: PublicUser; disabled: boolean } | undefined> {
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit || undefined;
    const started = this.generation;
    const row = isUuid(id) ? await this.users.findByPk(id) : null;
    const entry = row ? { user: publicUser(row), disabled: row.disabledAt !== null } : false;
    if (started === this.generation) this.cache.set(id, entry);
    return entry || undefined;
  }

  private remember(row: UserRow): void {
    this.generation++;
    this.cache.set(row.id, { user: publicUser(row), disabled: row.disabledAt !== null });
  }

  async getForAdmin(id: string): Promise<AdminUser> {
    const row = isUuid(id) ? await this.users.findByPk(id) : null;
    if (!row) throw USERS_ERRORS.error('TG_ERR_USER_NOT_FOUND');
    return adminUser(row);
  }

  /** The user's current role and state (cached); undefined once the user is deleted. */
  async status(id: string): Promise<UserStatus | undefined> {
    const entry = await this.cached(id);
    return entry ? { role: entry.user.role, disabled: entry.disabled } : undefined;
  }

  async updateProfile(id: string, patch: { displayName?: string | undefined }): Promise<PublicUser> {
    const row = await this.users.findByPk(id);
    if (!row) throw USERS_ERRORS.error('TG_ERR_USER_NOT_FOUND');
    if (patch.displayName !== undefined) row.displayName = patch.displayName.trim();
    await row.save();
    this.remember(row);
    const user = publicUser(row);
    await this.emit({ event: 'profile.updated', userId: id, user });
    return user;
  }

  /** Checks the current password, sets the new one; `keepSession` is the caller's session, which stays signed in. */
  async changePassword(id: string, current: string, next: string, keepSession: string | undefined): Promise<void> {
    const row = await this.users.findByPk(id);
    if (!row) throw USERS_ERRORS.error('TG_ERR_USER_NOT_FOUND');
    // Counted before the check, so that concurrent guesses cannot all pass it; a right password takes it back.
    try {
      await this.passwordFailures.consume(id);
    } catch (res) {
      const err = USERS_ERRORS.error('TG_ERR_TOO_MANY_ATTEMPTS', 'Too many wrong current passwords: wait for the time in Retry-After, then try again');
      (err as { retryAfter?: number }).retryAfter = Math.max(1, Math.ceil((res instanceof RateLimiterRes ? res.msBeforeNext : 60_000) / 1000));
      throw err;
    }
    if (!(await verifyPassword(row.passwordHash, current))) throw USERS_ERRORS.error('TG_ERR_WRONG_PASSWORD');
    await this.passwordFailures.reward(id, 1);
    this.checkPassword(next, row.email, 'newPassword');
    row.passwordHash = await hashPassword(next);
    await row.save();
    await this.emit({ event: 'password.changed', userId: id, keepSession });
  }

  async list(opts: { page: number; pageSize: number; q: string | undefined }): Promise<{ users: AdminUser[]; page: number; pageSize: number; total: number }> {
    const where = opts.q ? { email: { [Op.iLike]: `%${opts.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` } } : {};
    const { rows, count } = await this.users.findAndCountAll({
      where,
      order: [['createdAt', 'ASC'], ['id', 'ASC']],
      limit: opts.pageSize,
      offset: (opts.page - 1) * opts.pageSize,
    });
    return { users: rows.map(adminUser), page: opts.page, pageSize: opts.pageSize, total: count };
  }

  /** An admin's change to a user: role, disabled, display name. An admin cannot demote or disable themself. */
  async adminUpdate(actorId: string, id: string, patch: { role?: Role | undefined; disabled?: boolean | undefined; displayName?: string | undefined }): Promise<AdminUser> {
    if (id === actorId && ((patch.role !== undefined && patch.role !== 'admin') || patch.disabled === true)) {
      throw USERS_ERRORS.error('TG_ERR_SELF_CHANGE', 'An admin cannot demote or disable their own account: ask another admin');
    }
    const changes: UserChange[] = [];
    const row = await this.db.transaction(async () => {
      const r = isUuid(id) ? await this.users.findByPk(id, { lock: true }) : null;
      if (!r) throw USERS_ERRORS.error('TG_ERR_USER_NOT_FOUND');
      if (patch.role !== undefined && patch.role !== r.role) {
        r.role = patch.role;
        changes.push({ event: 'role.changed', userId: id, role: patch.role, by: actorId });
      }
      if (patch.disabled !== undefined && patch.disabled !== (r.disabledAt !== null)) {
        r.disabledAt = patch.disabled ? new Date() : null;
        changes.push({ event: patch.disabled ? 'account.disabled' : 'account.enabled', userId: id, by: actorId });
      }
      if (patch.displayName !== undefined && patch.displayName.trim() !== r.displayName) {
        r.displayName = patch.displayName.trim();
      }
      if (r.changed()) await r.save();
      return r;
    });
    this.remember(row);
    if (patch.displayName !== undefined) changes.unshift({ event: 'profile.updated', userId: id, user: publicUser(row) });
    for (const c of changes) await this.emit(c);
    return adminUser(row);
  }

  async delete(actorId: string, id: string): Promise<void> {
    if (id === actorId) throw USERS_ERRORS.error('TG_ERR_SELF_CHANGE', 'An admin cannot delete their own account: ask another admin');
    const n = isUuid(id) ? await this.users.destroy({ where: { id } }) : 0;
    if (n === 0) throw USERS_ERRORS.error('TG_ERR_USER_NOT_FOUND');
    this.generation++;
    this.cache.set(id, false);
    for (const [hash, v] of this.keyCache.entries()) if (v && v.userId === id) this.keyCache.set(hash, false);
    for (const [hash, v] of this.secretCache.entries()) if (v && v.userId === id) this.secretCache.set(hash, false);
    await this.emit({ event: 'account.deleted', userId: id, by: actorId });
  }

  async createApiKey(userId: string, name: string): Promise<ApiKeyInfo & { key: string; secret: string }> {
    const count = await this.keys.count({ where: { userId } });
    if (count >= this.opts.maxApiKeysPerUser) {
      throw USERS_ERRORS.error('TG_ERR_API_KEY_LIMIT', `You have ${count} API keys, the most one account may hold: revoke one you no longer use (DELETE /api/v1/users/me/api-keys/:id)`);
    }
    const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    // 64 hex characters, the shape of a Binance API secret: programs written for Binance accept it as it is.
    const secret = randomBytes(32).toString('hex');
    const row = await this.keys.create({ id: randomUUID(), userId, name: name.trim(), keyHash: sha256(key), keyPrefix: key.slice(0, 10), secret, lastUsedAt: null });
    const info = keyInfo(row);
    await this.emit({ event: 'api-key.created', userId, key: info });
    return { ...info, key, secret };
  }

  /**
   * A change made on another gateway of the cluster: what this one cached about the user or the key is read again
   * (a disabled account, a revoked key stop here at once, not after the cache's TTL).
   */
  changedElsewhere(change: UserChange): void {
    this.generation++;
    this.cache.delete(change.userId);
    if (change.event !== 'api-key.revoked' && change.event !== 'account.deleted') return;
    const ofChange = (v: { keyId: string; userId: string } | false) => v !== false && (change.event === 'account.deleted' ? v.userId === change.userId : v.keyId === change.keyId);
    for (const [hash, v] of this.keyCache.entries()) if (ofChange(v)) this.keyCache.set(hash, false);
    for (const [hash, v] of this.secretCache.entries()) if (ofChange(v)) this.secretCache.set(hash, false);
  }

  async listApiKeys(userId: string): Promise<ApiKeyInfo[]> {
    const rows = await this.keys.findAll({ where: { userId }, order: [['createdAt', 'ASC'], ['id', 'ASC']] });
    return rows.map(keyInfo);
  }

  async revokeApiKey(userId: string, keyId: string): Promise<void> {
    const row = isUuid(keyId) ? await this.keys.findOne({ where: { id: keyId, userId } }) : null;
    if (!row) throw USERS_ERRORS.error('TG_ERR_API_KEY_NOT_FOUND');
    await row.destroy();
    this.generation++;
    this.keyCache.set(row.keyHash, false);
    this.secretCache.set(row.keyHash, false);
    this.provenKeys.delete(row.keyHash);
    await this.emit({ event: 'api-key.revoked', userId, keyId });
  }

  /**
   * True when `key` proved valid on this gateway in the last week (it is still verified on use: a revoked key fails
   * then). Limits use it to tell a bot's known key from a guess.
   */
  isKnownApiKey(key: string): boolean {
    return API_KEY_RE.test(key) && this.provenKeys.has(sha256(key));
  }

  /**
   * The key's owner and signing secret, for a request signed with it (HMAC); undefined for a key that is not valid,
   * or that has no secret (made before keys had one). It does not count as a use: verify the signature, then call
   * verifyApiKey.
   */
  async signingKey(key: string): Promise<{ keyId: string; userId: string; secret: string } | undefined> {
    if (!API_KEY_RE.test(key)) return undefined;
    const hash = sha256(key);
    let hit = this.secretCache.get(hash);
    if (hit === undefined) {
      const started = this.generation;
      const row = await this.keys.findOne({ where: { keyHash: hash }, attributes: ['id', 'userId', 'secret'] });
      hit = row && row.secret ? { keyId: row.id, userId: row.userId, secret: row.secret } : false;
      if (started === this.generation) this.secretCache.set(hash, hit);
    }
    return hit || undefined;
  }

  /** The key's owner, or undefined for a key that is not (or no longer) valid. */
  async verifyApiKey(key: string): Promise<{ keyId: string; userId: string } | undefined> {
    if (!API_KEY_RE.test(key)) return undefined;
    const hash = sha256(key);
    let hit = this.keyCache.get(hash);
    if (hit === undefined) {
      const started = this.generation;
      const row = await this.keys.findOne({ where: { keyHash: hash }, attributes: ['id', 'userId'] });
      hit = row ? { keyId: row.id, userId: row.userId } : false;
      if (started === this.generation) this.keyCache.set(hash, hit);
    }
    if (!hit) return undefined;
    this.provenKeys.set(hash, true);
    const now = Date.now();
    if ((this.keyUsedAt.get(hit.keyId) ?? 0) < now - 60_000) {
      this.keyUsedAt.set(hit.keyId, now);
      // Bookkeeping only: a failure must not fail the request.
      void this.keys.update({ lastUsedAt: new Date(now) }, { where: { id: hit.keyId } }).catch(() => undefined);
    }
    return hit;
  }
}
