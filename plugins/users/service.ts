// The `users` service other plugins use (auth signs users in with it; a trading plugin publishes on orders:/portfolio:).
import type { UserStore } from './user-store.js';

export interface UsersService {
  store: UserStore;
  /** Publishes on a user-keyed channel (account:, orders:, portfolio:) of the users plugin. */
  publish(channel: string, type: string, data: unknown): void;
  /** An event on `account:<userId>`: `{"type":"account","data":{"event":…, …data}}`. */
  accountEvent(userId: string, event: string, data?: Record<string, unknown>): void;
}
