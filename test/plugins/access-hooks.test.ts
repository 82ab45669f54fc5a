// The access hooks of the plugin API, with a fixture plugin instead of the auth plugin: authenticator, route
// guards, subscribe rules applied live, sign-outs, and the containment of a plugin's mistakes.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { startStack, type Stack } from '../helpers/stack.js';
import { TestClient, refusedUpgrade } from '../helpers/ws-client.js';
import { validateConfig } from '../../core/config.js';
import { TickgateServer } from '../../core/server.js';
import { createLogger } from '../../core/logger.js';

const gatekeeper = fileURLToPath(new URL('../fixtures/gatekeeper-plugin/index.js', import.meta.url));
const secondAuthenticator = fileURLToPath(new URL('../fixtures/gatekeeper-plugin/second.js', import.meta.url));
const s = await startStack(t, { config: { plugins: ['market', { path: gatekeeper }] } });

async function call(st: Stack, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(st.httpUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
}

t.test('route guards: user, admin, optional', async (t) => {
  t.equal((await call(s, 'GET', '/api/v1/gatekeeper/whoami')).body.error.code, 'TG_ERR_AUTH_REQUIRED');
  const who = await call(s, 'GET', '/api/v1/gatekeeper/whoami', 'test:u1:user');
  t.same(who.body.identity, { userId: 'u1', role: 'user', credential: { kind: 'token', id: 'u1-cred' } });
  t.equal((await call(s, 'GET', '/api/v1/gatekeeper/whoami', 'nope')).body.error.code, 'TG_ERR_TOKEN_INVALID', 'the authenticator\'s code');
  t.same((await call(s, 'GET', '/api/v1/gatekeeper/maybe')).body, { identity: null }, 'optional: anonymous is served');
  t.equal((await call(s, 'GET', '/api/v1/gatekeeper/maybe', 'test:u2:user')).body.identity.userId, 'u2');
  t.equal((await call(s, 'GET', '/api/v1/gatekeeper/maybe', 'nope')).status, 401, 'optional: a bad credential is still refused');
  const user = await call(s, 'POST', '/api/v1/gatekeeper/plan', 'test:u1:user', { userId: 'u1', plan: 'pro' });
  t.equal(user.status, 403);
  t.same(user.body.error, { code: 'TG_ERR_FORBIDDEN', message: 'This route needs the admin role' });
});

t.test('request rules see the caller on every /api/ route, refuse with their code (thrown or rejected), and are contained', async (t) => {
  t.equal((await call(s, 'GET', '/api/v1/gatekeeper/seen?x=1', 'test:u7:user')).status, 200);
  t.equal((await call(s, 'GET', '/api/v1/gatekeeper/seen?x=2')).status, 200);
  t.equal((await call(s, 'GET', '/api/v1/gatekeeper/seen?x=3', 'nope')).status, 200, 'a bad credential on a public route: served as anonymous');
  const seen = (await call(s, 'GET', '/api/v1/gatekeeper/seen')).body.seen as Array<string | null>;
  t.same(seen.slice(-4, -1), ['u7', null, null], 'the identity of a valid credential, on a route without auth');
  const sync = await call(s, 'GET', '/api/v1/gatekeeper/seen?deny=sync');
  t.same([sync.status, sync.body.error.code], [403, 'GATE_PLAN_REQUIRED']);
  const later = await call(s, 'GET', '/api/v1/gatekeeper/seen?deny=async');
  t.same([later.status, later.body.error.code], [401, 'GATE_SIGNED_OUT']);
  const crash = await call(s, 'GET', '/api/v1/gatekeeper/seen?deny=crash');
  t.same([crash.status, crash.body.error.code], [500, 'TG_ERR_INTERNAL'], 'an uncoded failure is refused as internal');
});

t.test('a route naming its channel is gated by the subscribe rules: anonymous and free refused, pro served, a bad credential told so', async (t) => {
  const anon = await call(s, 'GET', '/api/v1/gatekeeper/book/BTCUSDT');
  t.same([anon.status, anon.body.error.code], [403, 'GATE_PLAN_REQUIRED']);
  t.equal((await call(s, 'GET', '/api/v1/gatekeeper/book/BTCUSDT', 'nope')).status, 401);
  await call(s, 'POST', '/api/v1/gatekeeper/plan', 'test:admin1:admin', { userId: 'u9', plan: 'pro' });
  const pro = await call(s, 'GET', '/api/v1/gatekeeper/book/BTCUSDT', 'test:u9:user');
  t.same([pro.status, pro.body.symbol], [200, 'BTCUSDT']);
});

t.test('a subscribe rule gates a channel, and a plan change applies to the open connection without a reconnect', async (t) => {
  const c = await TestClient.connect(`${s.wsUrl}?token=test:planner:user`);
  t.teardown(() => c.close());
  c.subscribe('depth:BTCUSDT:100', 'depth:BTCUSDT');
  const refused = await c.next((f) => f.type === 'error' && f.channel === 'depth:BTCUSDT:100');
  t.same(refused.data, { code: 'GATE_PLAN_REQUIRED', message: 'This channel needs the pro plan: upgrade, then subscribe again' });
  await c.next((f) => f.type === 'subscribed' && f.channel === 'depth:BTCUSDT');
  await call(s, 'POST', '/api/v1/gatekeeper/plan', 'test:boss:admin', { userId: 'planner', plan: 'pro' });
  c.subscribe('depth:BTCUSDT:100');
  await c.next((f) => f.type === 'subscribed' && f.channel === 'depth:BTCUSDT:100');
  await call(s, 'POST', '/api/v1/gatekeeper/plan', 'test:boss:admin', { userId: 'planner', plan: 'free' });
  t.equal((await c.next((f) => f.type === 'error' && f.channel === 'depth:BTCUSDT:100')).data.code, 'GATE_PLAN_REQUIRED', 'the downgrade ends it');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === 'depth:BTCUSDT:100');
  t.notOk(c.frames.some((f) => f.type === 'unsubscribed' && f.channel === 'depth:BTCUSDT'), 'the ungated channel stays');
});

t.test('a plugin signs a user out of every open connection; plugins see who authenticated', async (t) => {
  const a = await TestClient.connect(`${s.wsUrl}?token=test:leaver:user`);
  const b = await TestClient.connect(s.wsUrl);
  t.teardown(() => {
    a.close();
    b.close();
  });
  b.send({ type: 'auth', token: 'test:leaver:user' });
  await b.next((f) => f.type === 'authenticated');
  for (const c of [a, b]) {
    c.subscribe('vip:leaver');
    await c.next((f) => f.type === 'subscribed');
  }
  const listed = await call(s, 'GET', '/api/v1/gatekeeper/clients/leaver');
  t.same(listed.body.clients, ['user', 'user']);
  t.ok(listed.body.authenticated.filter((u: string) => u === 'leaver').length >= 2, 'the authenticated event fired for both');
  const out = await call(s, 'POST', '/api/v1/gatekeeper/signout', 'test:boss:admin', { userId: 'leaver' });
  t.same(out.body, { ended: 2 });
  for (const c of [a, b]) {
    t.equal((await c.next((f) => f.type === 'unauthenticated')).data.code, 'GATE_SIGNED_OUT');
    t.equal((await c.next((f) => f.type === 'error' && f.channel === 'vip:leaver')).data.code, 'GATE_SIGNED_OUT');
    await c.next((f) => f.type === 'unsubscribed');
  }
  t.same((await call(s, 'GET', '/api/v1/gatekeeper/clients/leaver')).body.clients, []);
});

t.test('a plugin\'s mistakes are contained: a non-identity, an uncoded failure, a failing rule', async (t) => {
  for (const token of ['junk', 'crash']) {
    const rest = await call(s, 'GET', '/api/v1/gatekeeper/whoami', token);
    t.equal(rest.status, 500);
    t.equal(rest.body.error.code, 'TG_ERR_INTERNAL');
    const up = await refusedUpgrade(`${s.wsUrl}?token=${token}`);
    t.equal(up.status, 500);
    t.equal(up.body.error.code, 'TG_ERR_INTERNAL');
  }
  const c = await TestClient.connect(`${s.wsUrl}?token=test:crasher:user`);
  t.teardown(() => c.close());
  c.subscribe('aggTrades:BTCUSDT');
  t.equal((await c.next((f) => f.type === 'error')).data.code, 'TG_ERR_INTERNAL');
  await c.ping();
});

t.test('an expiring identity ends by itself; a renewal in-band carries on', async (t) => {
  const c = await TestClient.connect(`${s.wsUrl}?token=test:brief:user:300`);
  t.teardown(() => c.close());
  c.subscribe('vip:brief');
  await c.next((f) => f.type === 'subscribed');
  t.equal((await c.next((f) => f.type === 'unauthenticated')).data.code, 'TG_ERR_TOKEN_EXPIRED');
  await c.next((f) => f.type === 'unsubscribed' && f.channel === 'vip:brief');
});

t.test('a route for signed-in callers with no authenticator is refused at start, naming the route', async (t) => {
  const config = validateConfig({ server: { host: '127.0.0.1', port: 0 }, shards: 1, log: { level: 'silent' }, upstream: { heartbeatStream: '', wsUrl: 'ws://127.0.0.1:9', restUrl: 'http://127.0.0.1:9' }, plugins: ['market', { path: gatekeeper, config: { authenticate: false } }] }, 'test');
  await t.rejects(TickgateServer.start(config, createLogger('silent')), /plugin "gatekeeper" registered route GET \/api\/v1\/gatekeeper\/whoami for authenticated callers, but no plugin authenticates clients/);
  const twice = validateConfig({ server: { host: '127.0.0.1', port: 0 }, shards: 1, log: { level: 'silent' }, upstream: { heartbeatStream: '', wsUrl: 'ws://127.0.0.1:9', restUrl: 'http://127.0.0.1:9' }, plugins: ['market', { path: gatekeeper }, { path: secondAuthenticator }] }, 'test');
  await t.rejects(TickgateServer.start(twice, createLogger('silent')), /an authenticator is already registered by plugin "gatekeeper"; a gateway has one/);
});

t.test('at the upgrade, a Basic Authorization header (a proxy\'s, sent by a browser) is not taken for tickgate\'s', async (t) => {
  const c = await TestClient.connect(s.wsUrl, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  t.teardown(() => c.close());
  t.equal(c.frames[0]!.data.authenticated, false);
});

t.test('upgrades waiting for the authenticator count against maxConnectionsPerIp', async (t) => {
  const limited = await startStack(t, { config: { limits: { maxConnectionsPerIp: 3 }, plugins: ['market', { path: gatekeeper }] } });
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => TestClient.connect(`${limited.wsUrl}?token=test:many${i}:user`).then((c) => c, () => undefined)));
  const open = results.filter((c) => c !== undefined);
  t.ok(open.length <= 3, `${open.length} of 8 concurrent authenticated upgrades opened (limit 3)`);
  for (const c of open) c!.close();
});
