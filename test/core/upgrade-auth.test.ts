// Connections authenticated at the upgrade (the upgrade waits for the authenticator) stay open after `connected`.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { startStack } from '../helpers/stack.js';
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
  for (let tries = 0; released === 0 && tries < 200; tries++) {
    released = ((await (await fetch(`${httpUrl}/api/v1/open-alloc/release`)).json()) as { released: number }).released;
    if (released === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  t.equal(released, 1, 'the waiting upgrade was released by the request');
  const c = await pending;
  t.equal(c.frames[0]!.data.user.userId, 'u1');
  t.equal((await c.ping()).type, 'pong');
  c.close();
});

t.test('an authenticator that never answers: the upgrade is refused after server.routeTimeoutMs, and its address is free again', async (t) => {
  const { wsUrl } = await startStack(t, { config: { server: { routeTimeoutMs: 300 }, limits: { maxConnectionsPerIp: 1 }, plugins: ['market', { path: openAlloc }] } });
  // "held:" tokens wait for a release that never comes here.
  const refused = await refusedUpgrade(`${wsUrl}?token=held:u2`);
  t.equal(refused.status, 504);
  t.equal(refused.body.error.code, 'TG_ERR_ROUTE_TIMEOUT');
  // The address's one allowed connection is not held by the refused wait.
  const c = await TestClient.connect(`${wsUrl}?token=user:u3`);
  t.equal((await c.ping()).type, 'pong');
  c.close();
});
