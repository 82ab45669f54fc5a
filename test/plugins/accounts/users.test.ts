// The users plugin: profiles, password changes, admin powers and their limits, disabling and deleting, API keys —
// over REST and on open /ws connections.
import t from 'tap';
import { startAccounts, makeAdmin, PASSWORD } from '../../helpers/accounts.js';
import { TestClient, refusedUpgrade } from '../../helpers/ws-client.js';

const s = await startAccounts(t, { users: { maxApiKeysPerUser: 3, passwordChangeFailuresPer15Minutes: 3 }, auth: { limits: { loginsPerIpPerMinute: 1000 } } });
const root = await s.register({ displayName: 'Root' });
await makeAdmin(s.db, root.user.id);
const admin = (await s.login(root.user.email, PASSWORD)).accessToken;

t.test('a user reads and updates their own profile; the change is an event on their account channel', async (t) => {
  const u = await s.register();
  const c = await TestClient.connect(`${s.wsUrl}?token=${u.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`account:${u.user.id}`);
  await c.next((f) => f.type === 'subscribed');
  const me = await s.call('GET', '/api/v1/users/me', { token: u.accessToken });
  t.same(me.body, { success: true, data: { user: u.user } });
  const patched = await s.call('PATCH', '/api/v1/users/me', { token: u.accessToken, body: { displayName: '  Grace  ' } });
  t.equal(patched.status, 200);
  t.equal(patched.body.data.user.displayName, 'Grace');
  const event = await c.next((f) => f.type === 'account');
  t.equal(event.channel, `account:${u.user.id}`);
  t.match(event.data, { event: 'profile.updated', user: { id: u.user.id, displayName: 'Grace' } });
  t.equal(typeof event.seq, 'number');
  const empty = await s.call('PATCH', '/api/v1/users/me', { token: u.accessToken, body: { displayName: '' } });
  t.equal(empty.status, 400);
  t.same(empty.body.error.details, [{ field: 'displayName', message: 'must not be empty' }]);
});

t.test('a user cannot make themself admin', async (t) => {
  const u = await s.register();
  const self = await s.call('PATCH', '/api/v1/users/me', { token: u.accessToken, body: { role: 'admin' } });
  t.equal(self.status, 403);
  t.equal(self.body.error.code, 'TG_ERR_FORBIDDEN');
  const direct = await s.call('PATCH', `/api/v1/users/${u.user.id}`, { token: u.accessToken, body: { role: 'admin' } });
  t.equal(direct.status, 403, 'the admin route refuses a user');
  t.equal(direct.body.error.message, 'This route needs the admin role');
  t.equal((await s.call('GET', '/api/v1/users', { token: u.accessToken })).status, 403);
  t.equal((await s.call('GET', '/api/v1/users/me', { token: u.accessToken })).body.data.user.role, 'user');
});

t.test('a password change checks the current one, applies the policy, and signs out the other sessions only', async (t) => {
  const u = await s.register();
  const other = await s.login(u.user.email, PASSWORD);
  const c = await TestClient.connect(`${s.wsUrl}?token=${other.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`account:${u.user.id}`, 'price:BTCUSDT');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'price:BTCUSDT');
  const wrong = await s.call('POST', '/api/v1/users/me/password', { token: u.accessToken, body: { currentPassword: 'not-it-at-all', newPassword: 'a whole new passphrase' } });
  t.equal(wrong.status, 403);
  t.equal(wrong.body.error.code, 'TG_ERR_WRONG_PASSWORD');
  const weak = await s.call('POST', '/api/v1/users/me/password', { token: u.accessToken, body: { currentPassword: PASSWORD, newPassword: 'short' } });
  t.equal(weak.status, 400);
  t.same(weak.body.error.details.map((d: { field: string }) => d.field), ['newPassword']);
  const ok = await s.call('POST', '/api/v1/users/me/password', { token: u.accessToken, body: { currentPassword: PASSWORD, newPassword: 'a whole new passphrase' } });
  t.equal(ok.status, 200);
  // Answered only once the other sessions have ended: the very next request with one of their tokens is refused.
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: other.accessToken })).body.error.code, 'TG_ERR_SESSION_REVOKED');
  // The open connection of the other session: told, and its private channel ends; the public one stays.
  const gone = await c.next((f) => f.type === 'unauthenticated');
  t.equal(gone.data.code, 'TG_ERR_SESSION_REVOKED');
  const ended = await c.next((f) => f.type === 'error' && f.channel === `account:${u.user.id}`);
  t.equal(ended.data.code, 'TG_ERR_SESSION_REVOKED');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === `account:${u.user.id}`);
  t.notOk(c.frames.some((f) => f.type === 'unsubscribed' && f.channel === 'price:BTCUSDT'), 'public channels stay');
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: other.accessToken })).body.error.code, 'TG_ERR_SESSION_REVOKED');
  t.equal((await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: other.refreshToken } })).body.error.code, 'TG_ERR_REFRESH_INVALID');
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: u.accessToken })).status, 200, 'the session that changed it stays');
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: PASSWORD } })).status, 401, 'the old password is gone');
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: 'a whole new passphrase' } })).status, 200);
});

t.test('wrong current passwords are limited per user: past the limit even the right one waits, with Retry-After', async (t) => {
  const u = await s.register();
  const bystander = await s.register();
  const change = (token: string, currentPassword: string) => s.call('POST', '/api/v1/users/me/password', { token, body: { currentPassword, newPassword: 'another new passphrase' } });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await change(u.accessToken, `guess-number-${i}`)).status);
  t.same(statuses, [403, 403, 403]);
  const right = await change(u.accessToken, PASSWORD);
  t.equal(right.status, 429);
  t.equal(right.body.error.code, 'TG_ERR_TOO_MANY_ATTEMPTS');
  t.ok(Number(right.headers.get('retry-after')) >= 1, 'Retry-After says when');
  t.equal((await change(bystander.accessToken, PASSWORD)).status, 200, 'another user is not affected');
  // Concurrent guesses are counted before the check: of eight at once, at most the limit are checked.
  const other = await s.register();
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => change(other.accessToken, `concurrent-${i}`)));
  t.same(answers.map((a) => a.status).sort(), [403, 403, 403, 429, 429, 429, 429, 429]);
});

t.test('admins list users page by page, search by email, and read one', async (t) => {
  const tag = `list${Date.now()}`;
  const made = [];
  for (let i = 0; i < 3; i++) made.push(await s.register({ email: `${tag}-${i}@example.com` }));
  const page1 = await s.call('GET', `/api/v1/users?q=${tag}&pageSize=2`, { token: admin });
  t.equal(page1.status, 200);
  t.equal(page1.body.data.total, 3);
  t.same(page1.body.data.users.map((u: { email: string }) => u.email), [`${tag}-0@example.com`, `${tag}-1@example.com`]);
  t.match(page1.body.data.users[0], { id: made[0]!.user.id, role: 'user', disabled: false, disabledAt: null });
  const page2 = await s.call('GET', `/api/v1/users?q=${tag.toUpperCase()}&pageSize=2&page=2`, { token: admin });
  t.same(page2.body.data.users.map((u: { email: string }) => u.email), [`${tag}-2@example.com`], 'case-insensitive search, second page');
  const wild = await s.call('GET', '/api/v1/users?q=%25', { token: admin });
  t.equal(wild.body.data.total, 0, 'a "%" is searched for, not a wildcard');
  const bad = await s.call('GET', '/api/v1/users?pageSize=100000', { token: admin });
  t.equal(bad.status, 400);
  t.same(bad.body.error.details.map((d: { field: string }) => d.field), ['pageSize']);
  const one = await s.call('GET', `/api/v1/users/${made[1]!.user.id}`, { token: admin });
  t.equal(one.body.data.user.email, `${tag}-1@example.com`);
  t.equal((await s.call('GET', '/api/v1/users/00000000-0000-4000-8000-000000000000', { token: admin })).body.error.code, 'TG_ERR_USER_NOT_FOUND');
  t.equal((await s.call('GET', '/api/v1/users/not-a-uuid', { token: admin })).status, 404);
});

t.test('role changes apply to open connections at once; an admin cannot demote, disable or delete themself', async (t) => {
  const u = await s.register();
  const stranger = await s.register();
  const c = await TestClient.connect(`${s.wsUrl}?token=${u.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`account:${stranger.user.id}`);
  t.equal((await c.next((f) => f.type === 'error')).data.code, 'TG_ERR_FORBIDDEN');
  const up = await s.call('PATCH', `/api/v1/users/${u.user.id}`, { token: admin, body: { role: 'admin' } });
  t.equal(up.body.data.user.role, 'admin');
  await new Promise((r) => setTimeout(r, 50));
  c.subscribe(`account:${stranger.user.id}`);
  await c.next((f) => f.type === 'subscribed' && f.channel === `account:${stranger.user.id}`);
  t.pass('the promoted user may hold another user\'s channel on the same connection');
  await s.call('PATCH', `/api/v1/users/${u.user.id}`, { token: admin, body: { role: 'user' } });
  const lost = await c.next((f) => f.type === 'error' && f.channel === `account:${stranger.user.id}`);
  t.equal(lost.data.code, 'TG_ERR_FORBIDDEN', 'demoted: the other user\'s channel ends');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === `account:${stranger.user.id}`);
  for (const body of [{ role: 'user' }, { disabled: true }]) {
    const self = await s.call('PATCH', `/api/v1/users/${root.user.id}`, { token: admin, body });
    t.equal(self.status, 409);
    t.equal(self.body.error.code, 'TG_ERR_SELF_CHANGE');
  }
  t.equal((await s.call('DELETE', `/api/v1/users/${root.user.id}`, { token: admin })).body.error.code, 'TG_ERR_SELF_CHANGE');
  const invalid = await s.call('PATCH', `/api/v1/users/${u.user.id}`, { token: admin, body: { role: 'superuser' } });
  t.equal(invalid.status, 400);
  t.same(invalid.body.error.details.map((d: { field: string }) => d.field), ['role']);
});

t.test('disabling a user cuts them off at once: REST, new upgrades, and their open connection; enabling restores', async (t) => {
  const u = await s.register();
  const key = (await s.call('POST', '/api/v1/users/me/api-keys', { token: u.accessToken, body: { name: 'bot' } })).body.data.key as string;
  const c = await TestClient.connect(`${s.wsUrl}?token=${u.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`account:${u.user.id}`, 'price:ETHUSDT');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'price:ETHUSDT');
  const off = await s.call('PATCH', `/api/v1/users/${u.user.id}`, { token: admin, body: { disabled: true } });
  t.equal(off.body.data.user.disabled, true);
  t.match(off.body.data.user.disabledAt, /^\d{4}-/);
  t.match((await c.next((f) => f.type === 'account')).data, { event: 'account.disabled' }, 'the account channel says why first');
  t.equal((await c.next((f) => f.type === 'unauthenticated')).data.code, 'TG_ERR_ACCOUNT_DISABLED');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === `account:${u.user.id}`);
  await c.next((f) => f.type === 'price');
  t.pass('public data keeps flowing to the now anonymous connection');
  for (const token of [u.accessToken, key]) {
    const rest = await s.call('GET', '/api/v1/users/me', { token });
    t.equal(rest.status, 403);
    t.equal(rest.body.error.code, 'TG_ERR_ACCOUNT_DISABLED');
  }
  t.equal((await refusedUpgrade(`${s.wsUrl}?token=${u.accessToken}`)).body.error.code, 'TG_ERR_ACCOUNT_DISABLED');
  const login = await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: PASSWORD } });
  t.equal(login.body.error.code, 'TG_ERR_ACCOUNT_DISABLED', 'with the right password, the account says it is disabled');
  t.equal((await s.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: u.refreshToken } })).body.error.code, 'TG_ERR_ACCOUNT_DISABLED');
  await s.call('PATCH', `/api/v1/users/${u.user.id}`, { token: admin, body: { disabled: false } });
  t.equal((await s.call('GET', '/api/v1/users/me', { token: u.accessToken })).status, 200, 'enabled again');
});

t.test('deleting a user ends everything of theirs', async (t) => {
  const u = await s.register();
  const c = await TestClient.connect(`${s.wsUrl}?token=${u.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`account:${u.user.id}`);
  await c.next((f) => f.type === 'subscribed');
  const del = await s.call('DELETE', `/api/v1/users/${u.user.id}`, { token: admin });
  t.same(del.body, { success: true, data: { deleted: true } });
  t.match((await c.next((f) => f.type === 'unauthenticated')).data, { code: 'TG_ERR_TOKEN_INVALID', message: 'This account was deleted' });
  t.equal((await s.call('GET', `/api/v1/users/${u.user.id}`, { token: admin })).status, 404);
  t.equal((await s.call('DELETE', `/api/v1/users/${u.user.id}`, { token: admin })).status, 404);
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: PASSWORD } })).body.error.code, 'TG_ERR_INVALID_CREDENTIALS');
});

t.test('API keys: created once visible, used on REST and /ws like the owner, revoked at once (open connections too)', async (t) => {
  const u = await s.register();
  const made = await s.call('POST', '/api/v1/users/me/api-keys', { token: u.accessToken, body: { name: 'trading bot' } });
  t.equal(made.status, 201);
  const { id, name, key, prefix } = made.body.data;
  t.equal(name, 'trading bot');
  t.match(key, /^tg_[\w-]{43}$/);
  t.equal(prefix, key.slice(0, 10));
  const list = await s.call('GET', '/api/v1/users/me/api-keys', { token: u.accessToken });
  t.same(list.body.data.keys.map((k: { id: string }) => k.id), [id]);
  t.notOk(JSON.stringify(list.body).includes(key), 'the key itself is never shown again');
  t.equal((await s.call('GET', '/api/v1/users/me', { token: key })).body.data.user.id, u.user.id, 'Authorization: Bearer tg_…');
  t.equal((await s.call('GET', '/api/v1/users/me', { headers: { 'x-api-key': key } })).body.data.user.id, u.user.id, 'X-API-Key');
  const byQuery = await TestClient.connect(`${s.wsUrl}?apiKey=${key}`);
  t.teardown(() => byQuery.close());
  t.match(byQuery.frames[0]!.data, { authenticated: true, user: { userId: u.user.id, role: 'user', via: 'apiKey', expiresAt: null } });
  const inBand = await TestClient.connect(s.wsUrl);
  t.teardown(() => inBand.close());
  inBand.send({ type: 'auth', apiKey: key });
  inBand.subscribe(`account:${u.user.id}`);
  t.match((await inBand.next((f) => f.type === 'authenticated')).data, { userId: u.user.id, via: 'apiKey' });
  await inBand.next((f) => f.type === 'subscribed');
  byQuery.subscribe(`account:${u.user.id}`);
  await byQuery.next((f) => f.type === 'subscribed');
  const revoke = await s.call('DELETE', `/api/v1/users/me/api-keys/${id}`, { token: u.accessToken });
  t.same(revoke.body, { success: true, data: { revoked: true } });
  for (const c of [byQuery, inBand]) {
    t.match((await c.next((f) => f.type === 'unauthenticated')).data, { code: 'TG_ERR_TOKEN_INVALID' });
    await c.next((f) => f.type === 'unsubscribed' && f.channel === `account:${u.user.id}`);
  }
  t.equal((await s.call('GET', '/api/v1/users/me', { token: key })).body.error.code, 'TG_ERR_TOKEN_INVALID', 'REST refuses it at once');
  t.equal((await refusedUpgrade(`${s.wsUrl}?apiKey=${key}`)).status, 401);
  t.equal((await s.call('DELETE', `/api/v1/users/me/api-keys/${id}`, { token: u.accessToken })).body.error.code, 'TG_ERR_API_KEY_NOT_FOUND');
  const others = await s.register();
  const theirs = (await s.call('POST', '/api/v1/users/me/api-keys', { token: others.accessToken, body: { name: 'x' } })).body.data.id;
  t.equal((await s.call('DELETE', `/api/v1/users/me/api-keys/${theirs}`, { token: u.accessToken })).status, 404, 'not another user\'s key');
  for (let i = 0; i < 3; i++) await s.call('POST', '/api/v1/users/me/api-keys', { token: u.accessToken, body: { name: `k${i}` } });
  const over = await s.call('POST', '/api/v1/users/me/api-keys', { token: u.accessToken, body: { name: 'one too many' } });
  t.equal(over.status, 409);
  t.equal(over.body.error.code, 'TG_ERR_API_KEY_LIMIT');
});
