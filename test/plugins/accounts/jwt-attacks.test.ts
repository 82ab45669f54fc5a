// Forged and bent access tokens, each refused on a REST route, at the /ws upgrade and in-band.
import t, { type Test } from 'tap';
import { SignJWT, base64url, decodeJwt, type JWK } from 'jose';
import { startAccounts, makeAdmin, type AccountsStack } from '../../helpers/accounts.js';
import { TestClient, refusedUpgrade } from '../../helpers/ws-client.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
const key = new TextEncoder().encode(SECRET);

/** Expects `token` refused with `code` on REST, at the upgrade and in-band (where the connection stays anonymous). */
async function refusedEverywhere(t: Test, s: AccountsStack, token: string, code: string, what: string): Promise<void> {
  const rest = await s.call('GET', '/api/v1/auth/me', { token });
  t.equal(rest.status, 401, `${what}: REST status`);
  t.equal(rest.body.error?.code, code, `${what}: REST code`);
  const up = await refusedUpgrade(`${s.wsUrl}?token=${encodeURIComponent(token)}`);
  t.equal(up.status, 401, `${what}: upgrade status`);
  t.equal(up.body.error?.code, code, `${what}: upgrade code`);
  const c = await TestClient.connect(s.wsUrl);
  c.send({ type: 'auth', token });
  const err = await c.next((f) => f.type === 'error');
  t.equal(err.data.code, code, `${what}: in-band code`);
  c.subscribe('account:someone');
  t.equal((await c.next((f) => f.type === 'error' && f.channel === 'account:someone')).data.code, 'TG_ERR_AUTH_REQUIRED', `${what}: still anonymous`);
  c.close();
}

t.test('HS256: every bent token is refused', async (t) => {
  const s = await startAccounts(t, { auth: { jwtSecret: SECRET } });
  const u = await s.register();
  const good = u.accessToken;
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: good })).status, 200, 'the genuine token works');
  const claims = decodeJwt(good);
  const now = Math.floor(Date.now() / 1000);
  const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = {}, k: Uint8Array = key) =>
    new SignJWT({ ...claims, ...payload }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', ...header } as { alg: string }).sign(k);

  const [h, p] = good.split('.') as [string, string, string];
  const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${p}.`;
  await refusedEverywhere(t, s, none, 'TG_ERR_TOKEN_INVALID', 'alg none');
  await refusedEverywhere(t, s, await sign({}, {}, new TextEncoder().encode('another-secret-that-is-also-long-enough-000')), 'TG_ERR_TOKEN_INVALID', 'wrong key');
  await refusedEverywhere(t, s, await sign({ iat: now - 3600, nbf: now - 3600, exp: now - 60 }), 'TG_ERR_TOKEN_EXPIRED', 'expired');
  await refusedEverywhere(t, s, await sign({ nbf: now + 600, exp: now + 1200 }), 'TG_ERR_TOKEN_INVALID', 'not yet valid');
  await refusedEverywhere(t, s, await sign({ aud: 'another-service' }), 'TG_ERR_TOKEN_INVALID', 'wrong audience');
  await refusedEverywhere(t, s, await sign({ iss: 'someone-else' }), 'TG_ERR_TOKEN_INVALID', 'wrong issuer');
  await refusedEverywhere(t, s, await sign({}, { typ: 'JWT' }), 'TG_ERR_TOKEN_INVALID', 'not an access token (typ)');
  const tampered = `${h}.${base64url.encode(JSON.stringify({ ...claims, role: 'admin', sub: '00000000-0000-4000-8000-000000000000' }))}.${good.split('.')[2]}`;
  await refusedEverywhere(t, s, tampered, 'TG_ERR_TOKEN_INVALID', 'tampered payload');
  await refusedEverywhere(t, s, 'garbage', 'TG_ERR_TOKEN_INVALID', 'not a JWT');
  await refusedEverywhere(t, s, await sign({ sid: '00000000-0000-4000-8000-000000000000' }), 'TG_ERR_SESSION_REVOKED', 'a session that does not exist');

  // A token of a user who is then deleted stops at once.
  const admin = await s.register();
  await makeAdmin(s.db, admin.user.id);
  const doomed = await s.register();
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: doomed.accessToken })).status, 200);
  t.equal((await s.call('DELETE', `/api/v1/users/${doomed.user.id}`, { token: admin.accessToken })).status, 200);
  await refusedEverywhere(t, s, doomed.accessToken, 'TG_ERR_TOKEN_INVALID', 'a deleted user\'s token');
  t.equal((await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: doomed.refreshToken } })).body.error.code, 'TG_ERR_REFRESH_INVALID', 'and their refresh token');
});

t.test('EdDSA: the public keys are published; HS256 signed with the public key (algorithm confusion) is refused', async (t) => {
  const s = await startAccounts(t, { auth: { algorithm: 'EdDSA' } });
  const jwks = await s.call('GET', '/.well-known/jwks.json');
  t.equal(jwks.status, 200);
  t.equal(jwks.body.keys.length, 1);
  const jwk = jwks.body.keys[0] as JWK;
  t.match(jwk, { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
  t.notOk('d' in jwk, 'never the private part');
  const u = await s.register();
  const header = JSON.parse(Buffer.from(u.accessToken.split('.')[0]!, 'base64url').toString()) as { alg: string; kid: string };
  t.same(header, { alg: 'EdDSA', typ: 'at+jwt', kid: jwk.kid });
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: u.accessToken })).status, 200);
  const claims = decodeJwt(u.accessToken);
  // The classic confusion: the attacker uses the published public key as an HMAC secret.
  for (const secret of [jwk.x!, JSON.stringify(jwk)]) {
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid! }).sign(new TextEncoder().encode(secret));
    await refusedEverywhere(t, s, forged, 'TG_ERR_TOKEN_INVALID', 'HS256 with the public key');
  }
});
