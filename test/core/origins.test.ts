// Browsers: an Origin allow-list for /ws upgrades, CORS for the HTTP API, and security headers on every answer.
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { TestClient, refusedUpgrade } from '../helpers/ws-client.js';
import { validateConfig } from '../../core/config.js';

const APP = 'https://app.example.com';

t.test('with server.wsOrigins, an upgrade from another origin is refused 403; the listed one and none at all are let in', async (t) => {
  const { wsUrl } = await startStack(t, { config: { server: { wsOrigins: [APP, 'http://localhost:8080'] } } });
  const refused = await refusedUpgrade(wsUrl, { origin: 'https://evil.example' });
  t.equal(refused.status, 403);
  t.equal(refused.body.error.code, 'TG_ERR_ORIGIN_FORBIDDEN');
  t.match(refused.body.error.message, /https:\/\/evil\.example.*https:\/\/app\.example\.com, http:\/\/localhost:8080 \(server\.wsOrigins\)/);
  const near = await refusedUpgrade(wsUrl, { origin: 'https://app.example.com.evil.example' });
  t.equal(near.status, 403, 'an origin that only starts like a listed one is refused');
  const page = await TestClient.connect(wsUrl, { origin: APP });
  await page.ping();
  const bot = await TestClient.connect(wsUrl);
  await bot.ping();
  page.close();
  bot.close();
});

t.test('without server.wsOrigins any origin may connect (the default)', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl, { origin: 'https://anywhere.example' });
  await c.ping();
  c.close();
});

t.test('CORS: a listed origin gets Access-Control-Allow-Origin and its preflight is answered; others get nothing', async (t) => {
  const { httpUrl } = await startStack(t, { config: { server: { corsOrigins: [APP] } } });
  const allowed = await fetch(`${httpUrl}/api/v1/market/symbols`, { headers: { origin: APP } });
  t.equal(allowed.headers.get('access-control-allow-origin'), APP);
  t.equal(allowed.headers.get('vary'), 'origin');
  t.equal(allowed.headers.get('access-control-expose-headers'), 'retry-after');
  const other = await fetch(`${httpUrl}/api/v1/market/symbols`, { headers: { origin: 'https://evil.example' } });
  t.equal(other.headers.get('access-control-allow-origin'), null);
  t.equal(other.headers.get('vary'), 'origin', 'the answer depends on Origin whatever it was: caches are told');
  t.equal((await fetch(`${httpUrl}/api/v1/market/symbols`)).headers.get('vary'), 'origin', 'even without one');
  const preflight = await fetch(`${httpUrl}/api/v1/market/ticker/BTCUSDT`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
  t.equal(preflight.status, 204);
  t.equal(preflight.headers.get('access-control-allow-origin'), APP);
  t.match(preflight.headers.get('access-control-allow-methods'), /GET/);
  t.match(preflight.headers.get('access-control-allow-headers'), /authorization/);
  const badPreflight = await fetch(`${httpUrl}/api/v1/market/ticker/BTCUSDT`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
  t.equal(badPreflight.headers.get('access-control-allow-origin'), null, 'a preflight from an origin not listed gets no CORS headers');
  const unknown = await fetch(`${httpUrl}/api/v1/nothing/here`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'GET' } });
  t.equal(unknown.status, 404, 'a preflight for a path that does not exist');
});

t.test('CORS "*" answers every origin with *; no CORS headers by default', async (t) => {
  const any = await startStack(t, { config: { server: { corsOrigins: ['*'] } } });
  t.equal((await fetch(`${any.httpUrl}/health`, { headers: { origin: 'https://x.example' } })).headers.get('access-control-allow-origin'), '*');
  const none = await startStack(t);
  t.equal((await fetch(`${none.httpUrl}/health`, { headers: { origin: APP } })).headers.get('access-control-allow-origin'), null);
});

t.test('every HTTP answer carries the security headers', async (t) => {
  const { httpUrl, wsUrl } = await startStack(t, { config: { server: { wsOrigins: [APP] } } });
  for (const path of ['/health', '/api/v1/market/symbols', '/no/such/path', '/ws']) {
    const res = await fetch(`${httpUrl}${path}`);
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    t.equal(res.headers.get('x-frame-options'), 'DENY');
    t.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    t.equal(res.headers.get('referrer-policy'), 'no-referrer');
  }
  // A refused upgrade is an HTTP answer too.
  const refused = await refusedUpgrade(wsUrl, { headers: { 'sec-websocket-version': '13' }, origin: 'https://evil.example' });
  t.equal(refused.status, 403);
  t.equal(refused.headers['x-content-type-options'], 'nosniff');
  t.equal(refused.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
});

t.test('origins in the configuration must be origins', async (t) => {
  for (const bad of ['app.example.com', 'https://app.example.com/', 'https://app.example.com/path']) {
    t.throws(() => validateConfig({ server: { wsOrigins: [bad] } }, 'test'), /server\.wsOrigins\.0: must be an origin as browsers send it/, bad);
    t.throws(() => validateConfig({ server: { corsOrigins: [bad] } }, 'test'), /server\.corsOrigins\.0/, bad);
  }
  t.throws(() => validateConfig({ server: { wsOrigins: ['*'] } }, 'test'), /server\.wsOrigins/, '"*" is for CORS only: an empty wsOrigins admits any');
  t.same(validateConfig({ server: { corsOrigins: ['*', 'http://localhost:5173'] } }, 'test').server.corsOrigins, ['*', 'http://localhost:5173']);
});
