// Sign-in limits: per address; failed logins per account and address, and per account from all addresses (known and
// unknown emails alike); bad credentials per address, which never stop credentials known to be valid.
import t from 'tap';
import { startAccounts, PASSWORD } from '../../helpers/accounts.js';

// Behind a trusted proxy each request names its client address, so one test can be many clients.
const s = await startAccounts(t, {
  config: { server: { trustProxy: ['loopback'] } },
  auth: { limits: { loginsPerIpPerMinute: 50, failuresPerAccountPerIpPer15Minutes: 3, failuresPerAccountPerHour: 6, failedAuthPerIpPerMinute: 4 } },
});
const from = (ip: string) => ({ 'x-forwarded-for': ip });

t.test('logins per address: the one over the limit gets 429 with Retry-After; another address is not affected', async (t) => {
  const statuses: number[] = [];
  for (let i = 0; i < 51; i++) {
    statuses.push((await s.call('POST', '/api/v1/auth/login', { body: { email: `ip-${i}@example.com`, password: 'whatever-password' }, headers: from('10.1.0.1') })).status);
  }
  t.same(statuses, [...Array(50).fill(401), 429]);
  const limited = await s.call('POST', '/api/v1/auth/login', { body: { email: 'ip@example.com', password: 'whatever-password' }, headers: from('10.1.0.1') });
  t.equal(limited.body.error.code, 'TG_ERR_TOO_MANY_ATTEMPTS');
  const retry = Number(limited.headers.get('retry-after'));
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry} s`);
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: 'ip@example.com', password: 'whatever-password' }, headers: from('10.1.0.2') })).status, 401);
});

t.test('failed logins on an account from one address: that address waits for that account; the owner elsewhere does not', async (t) => {
  const victim = await s.register();
  const bystander = await s.register();
  for (let i = 0; i < 3; i++) {
    t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: 'guess-number-' + i }, headers: from('10.2.0.1') })).status, 401);
  }
  const guesser = await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: PASSWORD }, headers: from('10.2.0.1') });
  t.equal(guesser.status, 429, 'from the guessing address even the right password waits');
  t.equal(guesser.body.error.code, 'TG_ERR_TOO_MANY_ATTEMPTS');
  t.ok(Number(guesser.headers.get('retry-after')) > 60, 'for the rest of the 15 minutes');
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: PASSWORD }, headers: from('10.2.1.1') })).status, 200, 'the owner, elsewhere, is not locked out');
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: bystander.user.email, password: PASSWORD }, headers: from('10.2.0.1') })).status, 200, 'the guessing address may still sign in to another account');
  // An unknown email is limited exactly like a real one, so the limit does not reveal which emails exist.
  const ghost = `ghost-${Date.now()}@example.com`;
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push((await s.call('POST', '/api/v1/auth/login', { body: { email: ghost, password: 'guess-number-x' }, headers: from('10.3.0.1') })).status);
  t.same(answers, [401, 401, 401, 429]);
});

t.test('failed logins on an account spread over many addresses: past the account\'s limit, logins from new addresses wait; the owner\'s known address does not', async (t) => {
  const victim = await s.register();
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: PASSWORD }, headers: from('10.7.9.9') })).status, 200, 'the owner signs in from home');
  for (let i = 0; i < 6; i++) {
    t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: 'spread-guess-' + i }, headers: from(`10.7.0.${i}`) })).status, 401);
  }
  const right = await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: PASSWORD }, headers: from('10.7.1.1') });
  t.equal(right.status, 429, 'from an address the account never signed in from, even the right password waits');
  t.ok(Number(right.headers.get('retry-after')) > 15 * 60, 'for the rest of the hour');
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: PASSWORD }, headers: from('10.7.9.9') })).status, 200, 'the owner, from an address they signed in from before, is not locked out');
  const ghost = `spread-ghost-${Date.now()}@example.com`;
  const answers = [];
  for (let i = 0; i < 7; i++) answers.push((await s.call('POST', '/api/v1/auth/login', { body: { email: ghost, password: 'guess-number-x' }, headers: from(`10.8.0.${i}`) })).status);
  t.same(answers, [401, 401, 401, 401, 401, 401, 429], 'an unknown email alike');
});

t.test('an IPv6 client counts by its /64: rotating addresses inside it does not escape the limits', async (t) => {
  const bad = [];
  for (let i = 1; i <= 5; i++) bad.push((await s.call('GET', '/api/v1/auth/me', { token: `not.a.token${i}`, headers: from(`2001:db8:0:1::${i}`) })).status);
  t.same(bad, [401, 401, 401, 401, 429]);
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: 'not.a.token', headers: from('2001:db8:0:2::1') })).status, 401, 'another /64 is another client');
});

t.test('a successful login clears the address\'s failures on the account', async (t) => {
  const u = await s.register();
  for (let i = 0; i < 2; i++) await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: 'wrong-password-' + i }, headers: from('10.4.0.1') });
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: PASSWORD }, headers: from('10.4.0.1') })).status, 200);
  for (let i = 0; i < 2; i++) await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: 'wrong-password-' + i }, headers: from('10.4.0.1') });
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: PASSWORD }, headers: from('10.4.0.1') })).status, 200, 'two new failures are under the limit of three');
});

t.test('bad credentials per address: past the limit, unproven credentials from it wait; valid tokens and known keys pass', async (t) => {
  const u = await s.register();
  const bad = [];
  for (let i = 0; i < 4; i++) bad.push((await s.call('GET', '/api/v1/auth/me', { token: `not.a.token${i}`, headers: from('10.5.0.1') })).body.error.code);
  t.same(bad, Array(4).fill('TG_ERR_TOKEN_INVALID'));
  const blocked = await s.call('GET', '/api/v1/auth/me', { token: 'not.a.token.again', headers: from('10.5.0.1') });
  t.equal(blocked.status, 429, 'another bad token now waits');
  t.ok(Number(blocked.headers.get('retry-after')) >= 1);
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: u.accessToken, headers: from('10.5.0.1') })).status, 200, 'a valid token from the same address (a neighbour behind NAT) passes');
  const unknownKey = await s.call('GET', '/api/v1/auth/me', { headers: { ...from('10.5.0.1'), 'x-api-key': 'tg_' + 'A'.repeat(43) } });
  t.equal(unknownKey.status, 429, 'an unknown API key is not looked up');
  const made = await s.call('POST', '/api/v1/users/me/api-keys', { token: u.accessToken, body: { name: 'bot' } });
  const key = made.body.data.key as string;
  t.equal((await s.call('GET', '/api/v1/auth/me', { headers: { ...from('10.5.0.1'), 'x-api-key': key } })).status, 429, 'a valid key the gateway has not seen yet waits too');
  t.equal((await s.call('GET', '/api/v1/auth/me', { headers: { ...from('10.5.0.2'), 'x-api-key': key } })).status, 200);
  t.equal((await s.call('GET', '/api/v1/auth/me', { headers: { ...from('10.5.0.1'), 'x-api-key': key } })).status, 200, 'once known to be valid, it passes from the limited address');
});

t.test('concurrent guesses on one account cannot all pass: at most the limit are checked', async (t) => {
  const u = await s.register();
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: 'concurrent-guess-' + i }, headers: from('10.6.0.1') })));
  t.same(answers.map((a) => a.status).sort(), [401, 401, 401, 429, 429, 429, 429, 429], 'from one address');
  const v = await s.register();
  const spread = await Promise.all(Array.from({ length: 8 }, (_, i) => s.call('POST', '/api/v1/auth/login', { body: { email: v.user.email, password: 'concurrent-guess-' + i }, headers: from(`10.6.1.${i}`) })));
  t.same(spread.map((a) => a.status).sort(), [401, 401, 401, 401, 401, 401, 429, 429], 'from many addresses');
});
