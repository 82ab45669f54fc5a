// Limits on sign-in attempts (per address, and per account on failures) and on failed credentials per address.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AUTH_ERRORS } from './errors.js';

export interface AttemptLimitOptions {
  /** Login and registration attempts per address per minute (each costs an argon2 hash). */
  loginsPerIpPerMinute: number;
  /** Failed logins per account per 15 minutes; the account's logins then wait (whoever tries). */
  failuresPerAccountPer15Minutes: number;
  /** Bad access tokens and API keys per address per minute; the address then waits. */
  failedAuthPerIpPerMinute: number;
}

function tooMany(res: unknown): Error {
  const err = AUTH_ERRORS.error('TG_ERR_TOO_MANY_ATTEMPTS');
  const ms = res instanceof RateLimiterRes ? res.msBeforeNext : 60_000;
  (err as { retryAfter?: number }).retryAfter = Math.max(1, Math.ceil(ms / 1000));
  return err;
}

export class AttemptLimits {
  private readonly logins: RateLimiterMemory;
  private readonly accountFailures: RateLimiterMemory;
  private readonly authFailures: RateLimiterMemory;

  constructor(private readonly opts: AttemptLimitOptions) {
    this.logins = new RateLimiterMemory({ points: opts.loginsPerIpPerMinute, duration: 60 });
    this.accountFailures = new RateLimiterMemory({ points: opts.failuresPerAccountPer15Minutes, duration: 15 * 60 });
    this.authFailures = new RateLimiterMemory({ points: opts.failedAuthPerIpPerMinute, duration: 60 });
  }

  /** Counts a login or registration attempt from `ip`; throws TG_ERR_TOO_MANY_ATTEMPTS over the limit. */
  async attempt(ip: string): Promise<void> {
    try {
      await this.logins.consume(ip);
    } catch (res) {
      throw tooMany(res);
    }
  }

  /**
   * Counts a login attempt on the account before the password is checked (so that concurrent guesses cannot all
   * pass a check made before any of them failed); a success clears the count. Throws past the limit. An unknown
   * email is counted like any other.
   */
  async attemptAccount(email: string): Promise<void> {
    try {
      await this.accountFailures.consume(email);
    } catch (res) {
      throw tooMany(res);
    }
  }

  async accountSucceeded(email: string): Promise<void> {
    await this.accountFailures.delete(email);
  }

  async checkAddress(ip: string): Promise<void> {
    const res = await this.authFailures.get(ip);
    if (res && res.consumedPoints >= this.opts.failedAuthPerIpPerMinute) throw tooMany(res);
  }

  async credentialFailed(ip: string): Promise<void> {
    await this.authFailures.penalty(ip, 1);
  }
}
