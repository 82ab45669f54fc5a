// Limits on sign-in attempts and on failed credentials, designed so that an attacker cannot lock a user out:
// - logins and registrations per address (each costs an argon2 hash);
// - failed logins per account *and* address: a guesser from one address waits, the account's owner elsewhere does not;
// - failed logins per account from all addresses, a higher limit, against guessing spread over many addresses; an
//   address the account signed in from before is exempt, so a distributed attack cannot lock the owner out there;
// - an IPv6 client counts by its /64 (one host commonly holds a whole /64 and could rotate through it);
// - failed credentials (bad tokens, unknown API keys) per address: past it, only credentials already known to be
//   valid pass, so users sharing an address (NAT) with a misbehaving client keep working.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { LRUCache } from 'lru-cache';
import { addressBucket as limitKey } from '../../core/client-address.js';
import { USERS_ERRORS } from '../users/errors.js';

export interface AttemptLimitOptions {
  /** Login and registration attempts per address per minute (each costs an argon2 hash). */
  loginsPerIpPerMinute: number;
  /** Failed logins on one account from one address per 15 minutes; that address then waits for that account. */
  failuresPerAccountPerIpPer15Minutes: number;
  /** Failed logins on one account from all addresses per hour; the account's logins then wait. */
  failuresPerAccountPerHour: number;
  /** Bad access tokens and unknown API keys per address per minute; the address's unproven credentials then wait. */
  failedAuthPerIpPerMinute: number;
}

function tooMany(res: unknown): Error {
  const err = USERS_ERRORS.error('TG_ERR_TOO_MANY_ATTEMPTS');
  const ms = res instanceof RateLimiterRes ? res.msBeforeNext : 60_000;
  (err as { retryAfter?: number }).retryAfter = Math.max(1, Math.ceil(ms / 1000));
  return err;
}

/** How long a successful sign-in from an address exempts that address from the account-wide limit. */
const KNOWN_ADDRESS_MS = 30 * 24 * 3600 * 1000;

export class AttemptLimits {
  /** Account and address pairs that signed in successfully lately (this gateway's memory). */
  private readonly knownAddresses = new LRUCache<string, true>({ max: 200_000, ttl: KNOWN_ADDRESS_MS });
  private readonly logins: RateLimiterMemory;
  private readonly accountFromIp: RateLimiterMemory;
  private readonly account: RateLimiterMemory;
  private readonly authFailures: RateLimiterMemory;

  constructor(private readonly opts: AttemptLimitOptions) {
    this.logins = new RateLimiterMemory({ points: opts.loginsPerIpPerMinute, duration: 60 });
    this.accountFromIp = new RateLimiterMemory({ points: opts.failuresPerAccountPerIpPer15Minutes, duration: 15 * 60 });
    this.account = new RateLimiterMemory({ points: opts.failuresPerAccountPerHour, duration: 3600 });
    this.authFailures = new RateLimiterMemory({ points: opts.failedAuthPerIpPerMinute, duration: 60 });
  }

  /** Counts a login or registration attempt from `ip`; throws TG_ERR_TOO_MANY_ATTEMPTS over the limit. */
  async attempt(ip: string): Promise<void> {
    try {
      await this.logins.consume(limitKey(ip));
    } catch (res) {
      throw tooMany(res);
    }
  }

  /**
   * Counts a login attempt on the account before the password is checked (so that concurrent guesses cannot all
   * pass a check made before any of them failed); a success takes it back. Throws past either account limit. An
   * unknown email is counted like any other.
   */
  async attemptAccount(email: string, ip: string): Promise<void> {
    const pair = `${email}\n${limitKey(ip)}`;
    try {
      await this.accountFromIp.consume(pair);
    } catch (res) {
      throw tooMany(res);
    }
    if (this.knownAddresses.has(pair)) return;
    try {
      await this.account.consume(email);
    } catch (res) {
      await this.accountFromIp.reward(pair, 1);
      throw tooMany(res);
    }
  }

  /** A successful login: the address's failures on the account are forgotten, and this attempt is not a failure. */
  async accountSucceeded(email: string, ip: string): Promise<void> {
    const pair = `${email}\n${limitKey(ip)}`;
    await this.accountFromIp.delete(pair);
    if (!this.knownAddresses.has(pair)) await this.account.reward(email, 1);
    this.knownAddresses.set(pair, true);
  }

  /** Throws TG_ERR_TOO_MANY_ATTEMPTS when `ip` is past its failed-credential limit. */
  async checkAddress(ip: string): Promise<void> {
    const res = await this.authFailures.get(limitKey(ip));
    if (res && res.consumedPoints >= this.opts.failedAuthPerIpPerMinute) throw tooMany(res);
  }

  async credentialFailed(ip: string): Promise<void> {
    await this.authFailures.penalty(limitKey(ip), 1);
  }

  /** Takes back a failure counted before a credential was checked (an API key looked up), once it proved valid. */
  async credentialSucceeded(ip: string): Promise<void> {
    await this.authFailures.reward(limitKey(ip), 1);
  }
}
