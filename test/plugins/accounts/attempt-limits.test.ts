// Sign-in limits: per address, per account on failures (known and unknown emails alike), bad credentials per address.
import t from 'tap';
import { startAccounts, PASSWORD } from '../../helpers/accounts.js';

// Behind a trusted proxy each request names its client address, so one test can be many clients.
const s = await startAccounts(t, {
  config: { server: { trustProxy: ['loopback'] } },
  auth: { limits: { loginsPerIpPerMinute: 5, failuresPerAccountPer15Minutes: 3, failedAuthPerIpPerMinute: 4 } },
});
const from = (ip: string) => ({ 'x-forwarded-for': ip });

t.test('logins per address: the one over the limit gets 429 with Retry-After; another address is not affected', async (t) => {
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push((await s.call('POST', '/api/v1/auth/login', { body: { email: `ip-${i}@example.com`, password: 'whatever-password' }, headers: from('10.1.0.1') })).status);
  }
  t.same(statuses, [401, 401, 401, 401, 401, 429]);
  const limited = await s.call('POST', '/api/v1/auth/login', { body: { email: 'ip@example.com', password: 'whatever-password' }, headers: from('10.1.0.1') });
  t.equal(limited.body.error.code, 'TG_ERR_TOO_MANY_ATTEMPTS');
  const retry = Number(limited.headers.get('retry-after'));
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry} s`);
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: 'ip@example.com', password: 'whatever-password' }, headers: from('10.1.0.2') })).status, 401);
});

t.test('failed logins per account: after the limit even the right password waits, from any address; other accounts do not', async (t) => {
  const victim = await s.register();
  const bystander = await s.register();
  for (let i = 0; i < 3; i++) {
    t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: 'guess-number-' + i }, headers: from(`10.2.0.${i}`) })).status, 401);
  }
  const right = await s.call('POST', '/api/v1/auth/login', { body: { email: victim.user.email, password: PASSWORD }, headers: from('10.2.1.1') });
  t.equal(right.status, 429);
  t.equal(right.body.error.code, 'TG_ERR_TOO_MANY_ATTEMPTS');
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: bystander.user.email, password: PASSWORD }, headers: from('10.2.1.2') })).status, 200);
  // An unknown email is limited exactly like a real one, so the limit does not reveal which emails exist.
  const ghost = `ghost-${Date.now()}@example.com`;
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push((await s.call('POST', '/api/v1/auth/login', { body: { email: ghost, password: 'guess-number-x' }, headers: from(`10.3.0.${i}`) })).status);
  t.same(answers, [401, 401, 401, 429]);
});

t.test('a successful login clears the account\'s failures', async (t) => {
  const u = await s.register();
  for (let i = 0; i < 2; i++) await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: 'wrong-password-' + i }, headers: from(`10.4.0.${i}`) });
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: PASSWORD }, headers: from('10.4.1.0') })).status, 200);
  for (let i = 0; i < 2; i++) await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: 'wrong-password-' + i }, headers: from(`10.4.2.${i}`) });
  t.equal((await s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: PASSWORD }, headers: from('10.4.3.0') })).status, 200, 'two new failures are under the limit of three');
});

t.test('bad credentials per address: past the limit, even a valid token from that address waits', async (t) => {
  const u = await s.register();
  for (let i = 0; i < 4; i++) {
    const r = await s.call('GET', '/api/v1/auth/me', { token: `not.a.token${i}`, headers: from('10.5.0.1') });
    t.equal(r.body.error.code, 'TG_ERR_TOKEN_INVALID');
  }
  const blocked = await s.call('GET', '/api/v1/auth/me', { token: u.accessToken, headers: from('10.5.0.1') });
  t.equal(blocked.status, 429);
  t.ok(Number(blocked.headers.get('retry-after')) >= 1);
  t.equal((await s.call('GET', '/api/v1/auth/me', { token: u.accessToken, headers: from('10.5.0.2') })).status, 200);
});

t.test('concurrent guesses on one account cannot all pass: at most the limit are checked', async (t) => {
  const u = await s.register();
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => s.call('POST', '/api/v1/auth/login', { body: { email: u.user.email, password: 'concurrent-guess-' + i }, headers: from(`10.6.0.${i}`) })));
  const statuses = answers.map((a) => a.status).sort();
  t.same(statuses, [401, 401, 401, 429, 429, 429, 429, 429]);
});
