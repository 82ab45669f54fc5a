// The `users` service other plugins use (auth signs users in with it; a trading plugin publishes on orders:/portfolio:).
import type { UserStore } from './user-store.js';

export interface UsersService {
  store: UserStore;
  /** Publishes on a user-keyed channel (account:, orders:, portfolio:) of the users plugin. */
  publish(channel: string, type: string, data: unknown): void;
  /** An event on `account:<userId>`: `{"type":"account","data":{"event":…, …data}}`. */
  accountEvent(userId: string, event: string, data?: Record<string, unknown>): void;
  /**
   * Adds a field to each user as admins see them (GET /api/v1/users and /api/v1/users/:id), e.g. the payments
   * plugin's `plan`. Synchronous: keep what it needs in memory.
   */
  addAdminField(name: string, value: (userId: string) => unknown): void;
}
