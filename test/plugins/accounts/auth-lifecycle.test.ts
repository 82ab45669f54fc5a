// The auth plugin end to end over HTTP: register, login, me, refresh rotation and reuse, logout, validation, limits.
import t from 'tap';
import { startAccounts, PASSWORD } from '../../helpers/accounts.js';

const s = await startAccounts(t);

t.test('register answers 201 with the user, an access token and a refresh token; the email is kept lowercase', async (t) => {
  const res = await s.call('POST', '/api/v1/auth/register', { body: { email: '  Ada.Lovelace@Example.com ', password: PASSWORD, displayName: 'Ada' } });
  t.equal(res.status, 201);
  t.equal(res.body.success, true);
  const { user, accessToken, refreshToken, expiresIn } = res.body.data;
  t.same(Object.keys(user).sort(), ['createdAt', 'displayName', 'email', 'id', 'role']);
  t.match(user, { email: 'ada.lovelace@example.com', displayName: 'Ada', role: 'user' });
  t.match(user.id, /^[0-9a-f-]{36}$/);
  t.ok(!Number.isNaN(Date.parse(user.createdAt)));
  t.match(accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  t.match(refreshToken, /^tgr_[\w-]{43}$/, 'an opaque refresh token');
  t.equal(expiresIn, 900, '15 minutes by default');
  t.equal(res.headers.get('cache-control'), 'no-store', 'tokens are not cached by proxies');
  const me = await s.call('GET', '/api/v1/auth/me', { token: accessToken });
  t.equal(me.status, 200);
  t.same(me.body, { success: true, data: { user } });
  const dup = await s.call('POST', '/api/v1/auth/register', { body: { email: 'ADA.LOVELACE@example.com', password: PASSWORD } });
  t.equal(dup.status, 409);
  t.equal(dup.body.error.code, 'TG_ERR_EMAIL_TAKEN', 'one email is one account, whatever its case');
});

t.test('two registrations of one email at the same moment: exactly one account', async (t) => {
  const email = `race-${Date.now()}@example.com`;
  const answers = await Promise.all(Array.from({ length: 4 }, () => s.call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD } })));
  t.same(answers.map((a) => a.status).sort(), [201, 409, 409, 409]);
});

t.test('bodies are validated with a message per field, limited in size, and must be JSON', async (t) => {
  const bad = await s.call('POST', '/api/v1/auth/register', { body: { email: 'not-an-email', password: 'short' } });
  t.equal(bad.status, 400);
  t.equal(bad.body.error.code, 'TG_ERR_VALIDATION');
  t.same(bad.body.error.details.map((d: { field: string }) => d.field), ['email'], 'the schema names the bad email first');
  const weak = await s.call('POST', '/api/v1/auth/register', { body: { email: 'weak@example.com', password: 'short' } });
  t.equal(weak.status, 400);
  t.same(weak.body.error.details, [{ field: 'password', message: 'must be at least 10 characters (a passphrase of a few words is easiest)' }]);
  t.match(weak.body.error.message, /password: must be at least 10 characters/);
  const same = await s.call('POST', '/api/v1/auth/register', { body: { email: 'samesame@example.com', password: 'samesame@example.com' } });
  t.same(same.body.error.details, [{ field: 'password', message: 'must not be your email address' }]);
  const extra = await s.call('POST', '/api/v1/auth/register', { body: { email: 'x@example.com', password: PASSWORD, role: 'admin' } });
  t.equal(extra.status, 400, 'no role at registration');
  t.match(extra.body.error.details[0], { field: '(body)' });
  const missing = await s.call('POST', '/api/v1/auth/login', {});
  t.equal(missing.status, 400);
  t.equal(missing.body.error.code, 'TG_ERR_VALIDATION');
  const notJson = await s.call('POST', '/api/v1/auth/login', { body: '{"email":', headers: { 'content-type': 'application/json' } });
  t.equal(notJson.status, 400);
  t.equal(notJson.body.error.code, 'TG_ERR_INVALID_JSON');
  const huge = await s.call('POST', '/api/v1/auth/register', { body: { email: 'big@example.com', password: 'x'.repeat(5000) } });
  t.equal(huge.status, 413);
  t.equal(huge.body.error.code, 'TG_ERR_BODY_TOO_LARGE');
});

t.test('login: the right password signs in; a wrong password and an unknown email get the very same answer', async (t) => {
  const reg = await s.register();
  const ok = await s.call('POST', '/api/v1/auth/login', { body: { email: reg.user.email.toUpperCase(), password: PASSWORD } });
  t.equal(ok.status, 200);
  t.same(ok.body.data.user, reg.user);
  t.not(ok.body.data.refreshToken, reg.refreshToken, 'a new session');
  const wrong = await s.call('POST', '/api/v1/auth/login', { body: { email: reg.user.email, password: 'not the password at all' } });
  const unknown = await s.call('POST', '/api/v1/auth/login', { body: { email: `nobody-${Date.now()}@example.com`, password: 'not the password at all' } });
  t.equal(wrong.status, 401);
  t.same(unknown.status, wrong.status);
  t.same(unknown.body, wrong.body, 'nothing tells an unknown email from a wrong password');
  t.same(wrong.body.error, { code: 'TG_ERR_INVALID_CREDENTIALS', message: 'Email or password is incorrect' });
});

t.test('refresh rotates the pair; a refresh token used twice revokes its whole session', async (t) => {
  const reg = await s.register();
  const first = await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: reg.refreshToken } });
  t.equal(first.status, 200);
  t.not(first.body.data.refreshToken, reg.refreshToken, 'rotated');
  t.not(first.body.data.accessToken, reg.accessToken);
  t.same(first.body.data.user, reg.user);
  const second = await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.body.data.refreshToken } });
  t.equal(second.status, 200, 'the rotated token works once');
  const again = await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: reg.refreshToken } });
  t.equal(again.status, 401);
  t.equal(again.body.error.code, 'TG_ERR_REFRESH_REUSED', 'the first token, used again: theft is assumed');
  const heir = await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: second.body.data.refreshToken } });
  t.equal(heir.body.error.code, 'TG_ERR_REFRESH_INVALID', 'the newest token of the family is dead too');
  const access = await s.call('GET', '/api/v1/auth/me', { token: second.body.data.accessToken });
  t.equal(access.status, 401);
  t.equal(access.body.error.code, 'TG_ERR_SESSION_REVOKED', 'and so are the session\'s access tokens, at once');
  const other = await s.login(reg.user.email, PASSWORD);
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: other.accessToken })).status, 200, 'another session of the user is untouched');
});

t.test('two refreshes with one token at the same moment: at most one succeeds, and the session ends', async (t) => {
  const reg = await s.register();
  const answers = await Promise.all([0, 1].map(() => s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: reg.refreshToken } })));
  const codes = answers.map((a) => a.status === 200 ? 'ok' : a.body.error.code).sort();
  t.same(codes, ['TG_ERR_REFRESH_REUSED', 'ok']);
  const winner = answers.find((a) => a.status === 200)!;
  const after = await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: winner.body.data.refreshToken } });
  t.equal(after.body.error.code, 'TG_ERR_REFRESH_INVALID');
});

t.test('logout revokes that session: its refresh token and its access tokens stop; other sessions stay', async (t) => {
  const reg = await s.register();
  const other = await s.login(reg.user.email, PASSWORD);
  const out = await s.call('POST', '/api/v1/auth/logout', { body: { refreshToken: reg.refreshToken } });
  t.equal(out.status, 200);
  t.same(out.body, { success: true, data: { loggedOut: true } });
  t.equal((await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: reg.refreshToken } })).body.error.code, 'TG_ERR_REFRESH_INVALID');
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: reg.accessToken })).body.error.code, 'TG_ERR_SESSION_REVOKED');
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: other.accessToken })).status, 200);
  t.equal((await s.call('POST', '/api/v1/auth/logout', { body: { refreshToken: reg.refreshToken } })).status, 200, 'logging out again is harmless');
  const unknown = await s.call('POST', '/api/v1/auth/logout', { body: { refreshToken: `tgr_${'A'.repeat(43)}` } });
  t.equal(unknown.status, 401);
  t.equal(unknown.body.error.code, 'TG_ERR_REFRESH_INVALID');
});

t.test('routes for signed-in users: no credentials is 401 with WWW-Authenticate; a malformed header is refused', async (t) => {
  const none = await s.call('GET', '/api/v1/auth/me');
  t.equal(none.status, 401);
  t.equal(none.body.error.code, 'TG_ERR_AUTH_REQUIRED');
  t.match(none.body.error.message, /Authorization: Bearer/);
  t.equal(none.headers.get('www-authenticate'), 'Bearer realm="tickgate"');
  const basic = await s.call('GET', '/api/v1/auth/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  t.equal(basic.status, 401);
  t.match(basic.body.error.message, /must be "Bearer/);
});

t.test('the JWKS route serves no key for HS256 (a shared secret is never published)', async (t) => {
  const res = await s.call('GET', '/.well-known/jwks.json');
  t.equal(res.status, 200);
  t.same(res.body, { keys: [] });
});
