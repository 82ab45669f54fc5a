// Authenticated /ws: ?token= at the upgrade, in-band auth and renewal, expiry, and who may hold a private channel.
import t from 'tap';
import { startAccounts, makeAdmin, PASSWORD } from '../../helpers/accounts.js';
import { startStack } from '../../helpers/stack.js';
import { TestClient, refusedUpgrade } from '../../helpers/ws-client.js';

const s = await startAccounts(t);

t.test('the connected frame says whether the connection is authenticated, and as whom', async (t) => {
  const u = await s.register();
  const anon = await TestClient.connect(s.wsUrl);
  t.teardown(() => anon.close());
  t.equal(anon.frames[0]!.data.authenticated, false);
  t.notOk('user' in anon.frames[0]!.data);
  const c = await TestClient.connect(`${s.wsUrl}?token=${u.accessToken}`);
  t.teardown(() => c.close());
  const data = c.frames[0]!.data;
  t.equal(data.authenticated, true);
  t.match(data.user, { userId: u.user.id, role: 'user', via: 'token' });
  const expires = Date.parse(data.user.expiresAt);
  t.ok(expires > Date.now() + 800_000 && expires <= Date.now() + 900_000, 'the access token\'s expiry');
  const header = await TestClient.connect(s.wsUrl, { headers: { authorization: `Bearer ${u.accessToken}` } });
  t.teardown(() => header.close());
  t.equal(header.frames[0]!.data.user.userId, u.user.id, 'an Authorization header works for clients that can send one');
  // All three answer a ping first: a connection the server had closed fails here, with its close code, instead of
  // showing only as a count one short.
  for (const conn of [anon, c, header]) await conn.ping();
  t.same([anon, c, header].map((conn) => conn.closed), [undefined, undefined, undefined], 'all three connections open');
  const health = await s.call('GET', '/health');
  t.match(health.body, { clients: 3, authenticatedClients: 2 }, 'health counts the signed-in connections');
});

t.test('private channels: anonymous gets the guide\'s error, another user FORBIDDEN, the owner and an admin are served', async (t) => {
  const owner = await s.register();
  const other = await s.register();
  const boss = await s.register();
  await makeAdmin(s.db, boss.user.id);
  const anon = await TestClient.connect(s.wsUrl);
  t.teardown(() => anon.close());
  anon.subscribe('portfolio:user123');
  const guide = await anon.next((f) => f.type === 'error');
  t.equal(guide.channel, 'portfolio:user123');
  t.same(guide.data, { code: 'TG_ERR_AUTH_REQUIRED', message: 'Authentication required for this channel' });
  for (const kind of ['account', 'orders', 'portfolio']) {
    const c = await TestClient.connect(`${s.wsUrl}?token=${other.accessToken}`);
    c.subscribe(`${kind}:${owner.user.id}`);
    t.equal((await c.next((f) => f.type === 'error')).data.code, 'TG_ERR_FORBIDDEN', `${kind}: another user`);
    c.close();
    const mine = await TestClient.connect(`${s.wsUrl}?token=${owner.accessToken}`);
    mine.subscribe(`${kind}:${owner.user.id}`);
    await mine.next((f) => f.type === 'subscribed' && f.channel === `${kind}:${owner.user.id}`);
    mine.close();
  }
  const bossToken = (await s.login(boss.user.email, PASSWORD)).accessToken;
  const adminConn = await TestClient.connect(`${s.wsUrl}?token=${bossToken}`);
  t.teardown(() => adminConn.close());
  adminConn.subscribe(`account:${owner.user.id}`);
  await adminConn.next((f) => f.type === 'subscribed');
  await s.call('PATCH', '/api/v1/users/me', { token: owner.accessToken, body: { displayName: 'Watched' } });
  t.match((await adminConn.next((f) => f.type === 'account')).data, { event: 'profile.updated' }, 'an admin sees the user\'s events');
});

t.test('in-band auth: a subscribe sent right behind it is judged with the new identity; a bad token leaves the connection as it was', async (t) => {
  const u = await s.register();
  const c = await TestClient.connect(s.wsUrl);
  t.teardown(() => c.close());
  c.send({ type: 'auth', token: u.accessToken });
  c.subscribe(`account:${u.user.id}`);
  const ok = await c.next((f) => f.type === 'authenticated');
  t.match(ok.data, { userId: u.user.id, role: 'user', via: 'token' });
  await c.next((f) => f.type === 'subscribed' && f.channel === `account:${u.user.id}`);
  t.ok(c.indexOf(ok) < c.frames.findIndex((f) => f.type === 'subscribed'), 'authenticated before subscribed');
  c.send({ type: 'auth', token: 'not-a-token' });
  t.equal((await c.next((f) => f.type === 'error')).data.code, 'TG_ERR_TOKEN_INVALID');
  await c.ping();
  t.notOk(c.frames.some((f) => f.type === 'unauthenticated' || f.type === 'unsubscribed'), 'a failed renewal ends nothing');
  for (const bad of [{ type: 'auth' }, { type: 'auth', token: 'a', apiKey: 'b' }, { type: 'auth', token: 42 }]) {
    c.send(bad);
    t.equal((await c.next((f) => f.type === 'error')).data.code, 'TG_ERR_INVALID_MESSAGE', JSON.stringify(bad));
  }
});

t.test('signing in as someone else on an open connection keeps only what the new identity may hold', async (t) => {
  const a = await s.register();
  const b = await s.register();
  const c = await TestClient.connect(`${s.wsUrl}?token=${a.accessToken}`);
  t.teardown(() => c.close());
  c.subscribe(`account:${a.user.id}`, 'price:BTCUSDT');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'price:BTCUSDT');
  c.send({ type: 'auth', token: b.accessToken });
  t.equal((await c.next((f) => f.type === 'authenticated')).data.userId, b.user.id);
  t.equal((await c.next((f) => f.type === 'error' && f.channel === `account:${a.user.id}`)).data.code, 'TG_ERR_FORBIDDEN');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === `account:${a.user.id}`);
  t.notOk(c.frames.some((f) => f.type === 'unsubscribed' && f.channel === 'price:BTCUSDT'));
});

t.test('a token that expires on an open connection ends its private subscriptions unless renewed in-band first', async (t) => {
  const short = await startAccounts(t, { auth: { accessTokenTtlSeconds: 3, clockToleranceSeconds: 0 } });
  const u = await short.register();
  const lapsing = await TestClient.connect(`${short.wsUrl}?token=${u.accessToken}`);
  const renewed = await TestClient.connect(`${short.wsUrl}?token=${u.accessToken}`);
  t.teardown(() => {
    lapsing.close();
    renewed.close();
  });
  for (const c of [lapsing, renewed]) {
    c.subscribe(`account:${u.user.id}`, 'price:BTCUSDT');
    await c.next((f) => f.type === 'subscribed' && f.channel === 'price:BTCUSDT');
  }
  await new Promise((r) => setTimeout(r, 1500));
  const fresh = await short.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: u.refreshToken } });
  renewed.send({ type: 'auth', token: fresh.body.data.accessToken });
  await renewed.next((f) => f.type === 'authenticated');
  const expired = await lapsing.next((f) => f.type === 'unauthenticated', 5000);
  t.equal(expired.data.code, 'TG_ERR_TOKEN_EXPIRED');
  t.equal((await lapsing.next((f) => f.type === 'error' && f.channel === `account:${u.user.id}`)).data.code, 'TG_ERR_TOKEN_EXPIRED');
  await lapsing.next((f) => f.type === 'unsubscribed' && f.channel === `account:${u.user.id}`);
  const after = lapsing.frames.length;
  await lapsing.next((f) => f.type === 'price' && lapsing.frames.indexOf(f) >= after);
  t.pass('the public channel goes on');
  await renewed.ping();
  t.notOk(renewed.frames.some((f) => f.type === 'unauthenticated'), 'the renewed connection keeps its identity past the first token\'s expiry');
  lapsing.subscribe(`account:${u.user.id}`);
  t.equal((await lapsing.next((f) => f.type === 'error' && f.channel === `account:${u.user.id}`)).data.code, 'TG_ERR_AUTH_REQUIRED');
});

t.test('without the auth plugin, credentials are refused with a clear code; public channels need none', async (t) => {
  const bare = await startStack(t);
  const up = await refusedUpgrade(`${bare.wsUrl}?token=abc`);
  t.equal(up.status, 501);
  t.equal(up.body.error.code, 'TG_ERR_AUTH_UNAVAILABLE');
  const c = await TestClient.connect(bare.wsUrl);
  t.teardown(() => c.close());
  c.send({ type: 'auth', token: 'abc' });
  t.equal((await c.next((f) => f.type === 'error')).data.code, 'TG_ERR_AUTH_UNAVAILABLE');
  c.subscribe('price:BTCUSDT');
  await c.next((f) => f.type === 'subscribed');
});
