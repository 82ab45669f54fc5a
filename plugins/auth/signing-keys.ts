// The key access tokens are signed with: configured (JWT_SECRET, a PKCS#8 key file) or generated once and stored.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, importPKCS8, type CryptoKey, type JWK } from 'jose';
import { QueryTypes } from 'sequelize';
import type { Database } from '../db/database.js';
import type { Logger } from '../../core/logger.js';

export type Algorithm = 'HS256' | 'EdDSA' | 'ES256';

export interface SigningKeys {
  alg: Algorithm;
  kid: string;
  signKey: CryptoKey | Uint8Array;
  verifyKey: CryptoKey | Uint8Array;
  /** Public keys for /.well-known/jwks.json (none for HS256: a shared secret is never published). */
  jwks: { keys: JWK[] };
  /** Where the key came from, for the start log. */
  source: string;
}

export interface KeyOptions {
  alg: Algorithm;
  jwtSecret: string;
  privateKeyFile: string;
  keyId: string;
}

async function fromPrivateJwk(alg: Algorithm, jwk: JWK, kid: string | undefined, source: string): Promise<SigningKeys> {
  const { d: _d, ...pub } = jwk;
  const publicJwk: JWK = { ...pub, alg, use: 'sig' };
  const id = kid || (await calculateJwkThumbprint(pub as JWK));
  publicJwk.kid = id;
  return {
    alg,
    kid: id,
    signKey: (await importJWK({ ...jwk, alg }, alg)) as CryptoKey,
    verifyKey: (await importJWK({ ...pub, alg }, alg)) as CryptoKey,
    jwks: { keys: [publicJwk] },
    source,
  };
}

/**
 * Loads the configured key, or the one this database generated (creating it on first start). Generated keys live in
 * the table auth_signing_keys, so gateways sharing a database share the key and a restart keeps sessions valid.
 */
/**
 * An HS256 secret as a CryptoKey, imported once: given raw bytes, jose imports the key again for every token it
 * signs or verifies (WebCrypto's importKey and a transferable KeyObject: in a CPU profile of GET /api/v1/auth/me
 * with a Bearer token, about a sixth of the acceptor's time).
 */
async function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

export async function loadSigningKeys(opts: KeyOptions, db: Database, log: Logger): Promise<SigningKeys> {
  const { alg } = opts;
  if (alg === 'HS256' && opts.jwtSecret) {
    const secret = await hmacKey(new TextEncoder().encode(opts.jwtSecret));
    return { alg, kid: opts.keyId || 'configured', signKey: secret, verifyKey: secret, jwks: { keys: [] }, source: 'JWT_SECRET' };
  }
  if (alg !== 'HS256' && opts.privateKeyFile) {
    const pem = await readFile(opts.privateKeyFile, 'utf8');
    const key = await importPKCS8(pem, alg, { extractable: true });
    return fromPrivateJwk(alg, await exportJWK(key), opts.keyId || undefined, opts.privateKeyFile);
  }
  const stored = await db.transaction(async () => {
    // Gateways starting together on one new database take turns: the first generates, the others read its key.
    await db.sequelize.query('SELECT pg_advisory_xact_lock($1)', { bind: ['8388065079098830001'] });
    const found = await db.sequelize.query<{ kid: string; material: string; created_at: Date }>(
      'SELECT kid, material, created_at FROM auth_signing_keys WHERE alg = $1 ORDER BY created_at ASC LIMIT 1',
      { bind: [alg], type: QueryTypes.SELECT },
    );
    if (found[0]) return { ...found[0], generated: false };
    let material: string;
    let kid: string;
    if (alg === 'HS256') {
      material = JSON.stringify({ k: randomBytes(48).toString('base64url') });
      kid = `hs-${randomBytes(6).toString('hex')}`;
    } else {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(privateKey);
      const { d: _d, ...pub } = jwk;
      material = JSON.stringify(jwk);
      kid = await calculateJwkThumbprint(pub as JWK);
    }
    const created = new Date();
    await db.sequelize.query('INSERT INTO auth_signing_keys (kid, alg, material, created_at) VALUES ($1, $2, $3, $4)', { bind: [kid, alg, material, created] });
    return { kid, material, created_at: created, generated: true };
  });
  const where = db.mode === 'embedded' ? 'the embedded database' : 'the database';
  if (stored.generated) {
    log.warn({ alg, kid: stored.kid }, `no signing key configured: generated one and stored it in ${where} (table auth_signing_keys); ${alg === 'HS256' ? 'set JWT_SECRET (32+ characters)' : 'set the auth privateKeyFile'} to use your own`);
  } else {
    log.info({ alg, kid: stored.kid, created: stored.created_at }, `signing access tokens with the key generated in ${where} (set ${alg === 'HS256' ? 'JWT_SECRET' : 'privateKeyFile'} to use your own)`);
  }
  const source = `generated (${where})`;
  if (alg === 'HS256') {
    const secret = await hmacKey(Buffer.from((JSON.parse(stored.material) as { k: string }).k, 'base64url'));
    return { alg, kid: stored.kid, signKey: secret, verifyKey: secret, jwks: { keys: [] }, source };
  }
  return fromPrivateJwk(alg, JSON.parse(stored.material) as JWK, stored.kid, source);
}
