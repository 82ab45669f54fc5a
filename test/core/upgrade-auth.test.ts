// Connections authenticated at the upgrade (the upgrade waits for the authenticator) stay open after `connected`.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { startStack, until } from '../helpers/stack.js';
import { TestClient, refusedUpgrade } from '../helpers/ws-client.js';

const openAlloc = fileURLToPath(new URL('../fixtures/open-alloc-plugin/index.js', import.meta.url));

t.test('a connection authenticated at the upgrade stays open when code in its open allocates', async (t) => {
  // The fixture's allocation in `open` is what made uWS's corked upgrade close nearly every such connection
  // (uNetworking/uWebSockets#1928): the gateway completes the delayed upgrade outside a cork.
  const { wsUrl } = await startStack(t, { config: { plugins: ['market', { path: openAlloc }] } });
  const dropped: string[] = [];
  for (let i = 0; i < 30; i++) {
    const c = i % 2 === 0
      ? await TestClient.connect(`${wsUrl}?token=user:u${i}`)
      : await TestClient.connect(wsUrl, { headers: { authorization: `Bearer user:u${i}` } });
    t.equal(c.frames[0]!.data.authenticated, true);
    try {
      await c.ping();
    } catch (err) {
      dropped.push(`connection ${i}: ${(err as Error).message.slice(0, 160)}`);
    }
    c.close();
    await c.waitClose();
  }
  t.same(dropped, [], 'every connection answered its ping');
});

t.test('an authenticator answered from inside another request\'s handling: the upgrade completes a turn later', async (t) => {
  // Completing the upgrade right in that callback made uWS abort the process ("Cork buffer must not be held across
  // event loop iterations"): this test file would die here.
  const { wsUrl, httpUrl } = await startStack(t, { config: { plugins: ['market', { path: openAlloc }] } });
  const pending = TestClient.connect(`${wsUrl}?token=held:u1`);
  let released = 0;
  await until(async () => {
    released = ((await (await fetch(`${httpUrl}/api/v1/open-alloc/release`)).json()) as { released: number }).released;
    return released > 0;
  }, 'the waiting upgrade released by a request');
  t.equal(released, 1, 'the waiting upgrade was released by the request');
  const c = await pending;
  t.equal(c.frames[0]!.data.user.userId, 'u1');
  t.equal((await c.ping()).type, 'pong');
  c.close();
});

t.test('an authenticator that never answers: the upgrade is refused after server.routeTimeoutMs, and its address is free again', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { server: { routeTimeoutMs: 300 }, limits: { maxConnectionsPerIp: 1 }, plugins: ['market', { path: openAlloc }] } });
  // "held:" tokens wait until a release, which comes only after the refusal here.
  const refused = await Promise.race([
    refusedUpgrade(`${wsUrl}?token=held:u2`),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the upgrade was not answered within 10 s')), 10_000)),
  ]);
  t.equal(refused.status, 504);
  t.same(refused.body.error, { code: 'TG_ERR_ROUTE_TIMEOUT', message: 'The credential could not be checked in time: retry later' });
  // The address's one allowed connection is not held by the refused wait (anonymous: no timer of its own).
  const c = await TestClient.connect(wsUrl);
  t.equal((await c.ping()).type, 'pong');
  c.close();
  await c.waitClose();
  // The authenticator's late answer is ignored: the refused request is not upgraded, and the gateway goes on.
  const late = (await (await fetch(`${httpUrl}/api/v1/open-alloc/release`)).json()) as { released: number };
  t.equal(late.released, 1, 'the late answer was given');
  await new Promise((resolve) => setImmediate(resolve));
  const after = await TestClient.connect(wsUrl);
  t.equal((await after.ping()).type, 'pong', 'the gateway still serves');
  after.close();
});

t.test('an in-band auth the authenticator never answers: an error after server.routeTimeoutMs, then the waiting messages are handled', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { server: { routeTimeoutMs: 300 }, plugins: ['market', { path: openAlloc }] } });
  const c = await TestClient.connect(wsUrl);
  c.send({ type: 'auth', token: 'held:u3' });
  // Waits behind the auth, and is judged without an identity once the wait ends.
  c.subscribe('alloc:u3');
  c.send({ type: 'ping' });
  const timeout = await c.next((f) => f.type === 'error' && f.data?.code === 'TG_ERR_ROUTE_TIMEOUT');
  t.equal(timeout.data.message, 'The credential could not be checked in time: send the auth message again later');
  const refused = await c.next((f) => f.type === 'error' && f.channel === 'alloc:u3');
  t.equal(refused.data.code, 'TG_ERR_AUTH_REQUIRED', 'the waiting subscribe was handled without an identity');
  const pong = await c.next((f) => f.type === 'pong');
  t.ok(c.indexOf(timeout) < c.indexOf(refused) && c.indexOf(refused) < c.indexOf(pong), 'the timeout first, then the waiting messages in order');
  // The late answer is ignored: no `authenticated` frame on this connection.
  const late = (await (await fetch(`${httpUrl}/api/v1/open-alloc/release`)).json()) as { released: number };
  t.equal(late.released, 1, 'the late answer was given');
  t.equal((await c.ping()).type, 'pong');
  t.notOk(c.frames.some((f) => f.type === 'authenticated'), 'no authenticated frame after the timeout');
  // A new auth on the same connection works.
  c.send({ type: 'auth', token: 'user:u3' });
  const ok = await c.next((f) => f.type === 'authenticated');
  t.equal(ok.data.userId, 'u3');
  c.subscribe('alloc:u3');
  t.equal((await c.next((f) => f.type === 'subscribed')).channel, 'alloc:u3');
  // A renewal that times out leaves the connection with the identity it had.
  c.send({ type: 'auth', token: 'held:u4' });
  c.subscribe('alloc:u4');
  t.equal((await c.next((f) => f.type === 'error' && f.data?.code === 'TG_ERR_ROUTE_TIMEOUT')).type, 'error');
  t.equal((await c.next((f) => f.type === 'error' && f.channel === 'alloc:u4')).data.code, 'TG_ERR_FORBIDDEN', 'still u3: another user\'s channel is forbidden, not "sign in first"');
  t.notOk(c.frames.some((f) => f.type === 'unauthenticated' || (f.type === 'unsubscribed' && f.channel === 'alloc:u3')), 'u3 keeps its channel');
  c.close();
});
