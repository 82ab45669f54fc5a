// Where access tokens' keys come from: generated once and kept with the data, a configured secret, a key file.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { startAccounts, sqlOn } from '../../helpers/accounts.js';
import { testDatabase } from '../../helpers/database.js';

t.test('with no secret configured, one is generated on the first start and kept: tokens survive a restart', async (t) => {
  const db = await testDatabase(t);
  const first = await startAccounts(t, { db });
  const u = await first.register();
  const keys = await sqlOn(db, 'SELECT kid, alg FROM auth_signing_keys');
  t.equal(keys.length, 1);
  t.equal(keys[0].alg, 'HS256');
  t.equal(decodeProtectedHeader(u.accessToken).kid, keys[0].kid);
  await first.server.close();
  await first.sim.close();
  const second = await startAccounts(t, { db });
  t.equal((await second.call('GET', '/api/v1/auth/me', { token: u.accessToken })).status, 200, 'the access token from before the restart');
  t.equal((await second.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: u.refreshToken } })).status, 200, 'and the session');
  t.equal((await sqlOn(db, 'SELECT count(*)::int AS n FROM auth_signing_keys'))[0].n, 1, 'no second key');
});

t.test('a configured JWT secret signs instead; tokens of the generated key are then refused', async (t) => {
  const db = await testDatabase(t);
  const generated = await startAccounts(t, { db });
  const old = await generated.register();
  await generated.server.close();
  await generated.sim.close();
  const configured = await startAccounts(t, { db, auth: { jwtSecret: 'a-configured-secret-of-at-least-32-characters' } });
  t.equal((await configured.call('GET', '/api/v1/auth/me', { token: old.accessToken })).body.error.code, 'TG_ERR_TOKEN_INVALID');
  const fresh = await configured.login(old.user.email, old.password);
  t.equal(decodeProtectedHeader(fresh.accessToken).kid, 'configured');
});

t.test('ES256 with a key file: the configured kid, the public key published, tokens verify', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'es256.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  const s = await startAccounts(t, { auth: { algorithm: 'ES256', privateKeyFile: keyFile, keyId: 'prod-2026-11' } });
  const jwks = (await s.call('GET', '/.well-known/jwks.json')).body;
  t.match(jwks.keys, [{ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: 'prod-2026-11', use: 'sig' }]);
  t.notOk('d' in jwks.keys[0]);
  const u = await s.register();
  t.same(decodeProtectedHeader(u.accessToken), { alg: 'ES256', typ: 'at+jwt', kid: 'prod-2026-11' });
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: u.accessToken })).status, 200);
});

t.test('a secret too short, or options of the other algorithm, stop the start naming the key', async (t) => {
  await t.rejects(startAccounts(t, { auth: { jwtSecret: 'short' } }), /plugins\.auth\.config\.jwtSecret: must be at least 32 characters/);
  await t.rejects(startAccounts(t, { auth: { algorithm: 'EdDSA', jwtSecret: 'x'.repeat(40) } }), /plugins\.auth\.config\.jwtSecret: is for HS256/);
});
