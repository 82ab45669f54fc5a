// Built-in users plugin: accounts in the database, profiles, admin powers, API keys, and the private account channels.
import { z } from 'zod';
import { definePlugin, type AcceptorApi } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import type { Database } from '../db/database.js';
import { USERS_MIGRATIONS } from './migrations.js';
import { USERS_ERRORS } from './errors.js';
import { UserStore, type UserChange } from './user-store.js';
import { userRoutes } from './routes.js';

export type { UsersService } from './service.js';
import type { UsersService } from './service.js';

const configSchema = z.object({
  /** Shortest password accepted at registration and password change. */
  passwordMinLength: z.number().int().min(8).max(128).default(10),
  /** API keys one account may hold. */
  maxApiKeysPerUser: z.number().int().min(1).max(1000).default(20),
  /** Largest page of the admin user list. */
  maxPageSize: z.number().int().min(1).max(1000).default(100),
  /** Wrong current passwords per user per 15 minutes at POST /api/v1/users/me/password; then 429. */
  passwordChangeFailuresPer15Minutes: z.number().int().min(1).default(10),
}).strict();

/** User-keyed channel families: account events now; orders and portfolio for the plugins that fill them. */
const PRIVATE_KINDS = {
  account: 'account events: profile, password, sessions, API keys, role, disabled',
  orders: 'order state changes (filled by a trading plugin)',
  portfolio: 'balances and positions (filled by a trading plugin)',
} as const;

export default definePlugin({
  name: 'users',
  configSchema,
  errors: USERS_ERRORS,
  async acceptor(api) {
    const db = api.use<Database>('db');
    await db.migrate('users', USERS_MIGRATIONS);
    const store = new UserStore(db, api.config, api.log);
    for (const [kind, description] of Object.entries(PRIVATE_KINDS)) api.channel(kind, { key: 'user', description });
    store.onChange((change) => {
      react(api, change);
      // The user's connections on the cluster's other gateways, and what those cache, follow the change too.
      api.broadcast('change', change);
    });
    api.onBroadcast('change', (data) => {
      const change = data as UserChange;
      store.changedElsewhere(change);
      endAccess(api, change);
    });
    const adminFields = new Map<string, (userId: string) => unknown>();
    const service: UsersService = {
      store,
      publish: (channel, type, data) => api.publish(channel, type, data),
      accountEvent: (userId, event, data) => accountEvent(api, userId, event, data),
      addAdminField: (name, value) => {
        if (adminFields.has(name) || ['id', 'email', 'displayName', 'role', 'createdAt', 'disabled', 'disabledAt', 'updatedAt'].includes(name)) {
          throw new Error(`the admin user view has a field "${name}" already`);
        }
        adminFields.set(name, value);
      },
    };
    api.provide('users', service);
    userRoutes(api, store, api.config.maxPageSize, adminFields);
  },
});

/** An account: channel frame's data: the event's name (`profile.updated`, `session.revoked`, …) and its fields. */
export interface AccountData {
  event: string;
  [field: string]: unknown;
}

function accountEvent(api: AcceptorApi, userId: string, event: string, data: Record<string, unknown> = {}): void {
  api.publish(`account:${userId}`, 'account', { event, ...data } satisfies AccountData);
}

/** What each change means on open connections: an event on the user's account channel, and what they lose. */
function react(api: AcceptorApi, change: UserChange): void {
  const { userId } = change;
  switch (change.event) {
    case 'profile.updated':
      return accountEvent(api, userId, change.event, { user: change.user });
    case 'password.changed':
      // The auth plugin ends the other sessions (it listens to the same change).
      return accountEvent(api, userId, change.event);
    case 'role.changed':
      accountEvent(api, userId, change.event, { role: change.role });
      endAccess(api, change);
      return;
    case 'account.enabled':
      return accountEvent(api, userId, change.event);
    case 'account.disabled':
    case 'account.deleted': {
      // The event first: it reaches the account channel before the sign-out ends that subscription.
      accountEvent(api, userId, change.event);
      const n = endAccess(api, change);
      api.log.info({ userId, event: change.event, by: change.by, connections: n }, 'account access ended');
      return;
    }
    case 'api-key.created':
      return accountEvent(api, userId, change.event, { key: change.key });
    case 'api-key.revoked':
      accountEvent(api, userId, change.event, { keyId: change.keyId });
      endAccess(api, change);
      return;
  }
}

/** What a change takes from the user's open connections on this gateway (each gateway of a cluster runs it); how many ended. */
function endAccess(api: AcceptorApi, change: UserChange): number {
  const { userId } = change;
  switch (change.event) {
    case 'role.changed':
      api.clients.setRole(userId, change.role);
      return 0;
    case 'account.disabled':
    case 'account.deleted':
      return api.clients.signOut(userId, new TickgateError(change.event === 'account.disabled' ? 'TG_ERR_ACCOUNT_DISABLED' : 'TG_ERR_TOKEN_INVALID', change.event === 'account.disabled' ? undefined : 'This account was deleted'));
    case 'api-key.revoked':
      return api.clients.signOut(userId, new TickgateError('TG_ERR_TOKEN_INVALID', 'The API key this connection used was revoked'), (id) => id.credential.kind === 'apiKey' && id.credential.id === change.keyId);
    default:
      return 0;
  }
}
