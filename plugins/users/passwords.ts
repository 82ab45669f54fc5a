// Password hashing (argon2id, off the event loop) and the password policy.
import { hash, verify } from '@node-rs/argon2';
import { TickgateError } from '../../core/errors.js';

/** @node-rs/argon2's Algorithm.Argon2id (a const enum its package declares; the value is part of its API). */
const ARGON2ID = 2;

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. Hashing runs on libuv's thread pool, not the event loop. */
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MAX_LENGTH = 256;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** False for a wrong password and for a hash that is not one (never throws on a bad stored value). */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

/** A hash of nothing anyone knows: verified against when an email is unknown, so both answers take as long. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(`decoy-${Math.random()}-${Date.now()}`);
  return decoy;
}

/**
 * The policy, after NIST SP 800-63B: long enough, not absurdly long, not the email, not one repeated character.
 * No composition rules (they make passwords weaker, not stronger). Throws TG_ERR_VALIDATION naming the field.
 */
export function checkPassword(password: string, email: string, minLength: number, field = 'password'): void {
  const problem =
    password.length < minLength ? `must be at least ${minLength} characters (a passphrase of a few words is easiest)`
    : password.length > PASSWORD_MAX_LENGTH ? `must be at most ${PASSWORD_MAX_LENGTH} characters`
    : password.toLowerCase() === email.toLowerCase() || password.toLowerCase() === email.split('@')[0]!.toLowerCase() ? 'must not be your email address'
    : /^(.)\1*$/su.test(password) ? 'must not be one character repeated'
    : undefined;
  if (!problem) return;
  const err = new TickgateError('TG_ERR_VALIDATION', `Invalid request: ${field}: ${problem}`);
  err.details = [{ field, message: problem }];
  throw err;
}
