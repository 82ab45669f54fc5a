// Deployment settings: the symbols a deployment serves (allow-list, active cap) and client addresses behind a proxy.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, getJson, until } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { canonicalAddress, clientAddressResolver } from '../../core/client-address.js';
import { validateConfig, ConfigError } from '../../core/config.js';

const tmp = mkdtempSync(join(tmpdir(), 'tickgate-deploy-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const platform = { path: fileURLToPath(new URL('../fixtures/platform-plugin/index.js', import.meta.url)), config: { marker: join(tmp, 'marker') } };

t.test('symbols.allow: only the allowed trading symbols are listed and accepted, on /ws and REST', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { symbols: { allow: ['BTCUSDT', 'ETHUSDT', 'BREAKUSDT', 'NOTLISTED'] } } });
  const list = await getJson(`${httpUrl}/api/v1/market/symbols`);
  t.same(list.body.data, ['BTCUSDT', 'ETHUSDT'], 'allowed, listed by the exchange and trading');
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:ETHUSDT', 'price:SOLUSDT');
  await c.next((f) => f.type === 'price' && f.channel === 'price:ETHUSDT');
  const refused = await c.next((f) => f.type === 'error' && f.channel === 'price:SOLUSDT');
  t.equal(refused.data.code, 'TG_ERR_UNKNOWN_SYMBOL');
  t.equal(refused.data.message, 'Failed to fetch quote for SOLUSDT', 'the guide\'s text');
  t.match(refused.data.hint, /does not serve this symbol \(symbols\.allow\)/);
  const rest = await getJson(`${httpUrl}/api/v1/market/ticker/SOLUSDT`);
  t.equal(rest.status, 404);
  t.equal(rest.body.error.code, 'TG_ERR_UNKNOWN_SYMBOL');
  t.match(rest.body.error.hint, /symbols\.allow/, 'REST errors carry the hint too');
});

t.test('symbols.maxActive: a new symbol beyond the cap is refused until one closes', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { symbols: { maxActive: 2 }, plugins: ['market', platform] } });
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT', 'trades:BTCUSDT', 'price:ETHUSDT');
  await c.next((f) => f.type === 'price' && f.channel === 'price:ETHUSDT');
  c.subscribe('price:SOLUSDT');
  const limit = await c.next((f) => f.type === 'error' && f.channel === 'price:SOLUSDT');
  t.equal(limit.data.code, 'TG_ERR_SYMBOL_LIMIT');
  t.match(limit.data.message, /at most 2 symbols at once/);
  c.subscribe('ticker:BTCUSDT');
  await c.next((f) => f.type === 'ticker', 10_000);
  t.pass('more channels of a symbol already open are fine');
  const rest = await getJson(`${httpUrl}/api/v1/platform/ask/XRPUSDT`);
  t.equal(rest.status, 503, 'ask() for a new symbol counts against the cap too');
  t.equal(rest.body.error.code, 'TG_ERR_SYMBOL_LIMIT');
  c.unsubscribe('price:ETHUSDT');
  await until(async () => (await getJson(`${httpUrl}/api/v1/platform/ask/XRPUSDT`)).status === 200, 'a slot frees once ETHUSDT closes', 20_000);
});

t.test('behind a trusted proxy, X-Forwarded-For is the client address for per-IP limits and routes; otherwise ignored', async (t) => {
  const trusted = await startStack(t, { config: { server: { trustProxy: ['loopback'] }, limits: { maxConnectionsPerIp: 1 }, plugins: ['market', platform] } });
  const a = await TestClient.connect(trusted.wsUrl, { headers: { 'x-forwarded-for': '203.0.113.7' } });
  const b = await TestClient.connect(trusted.wsUrl, { headers: { 'x-forwarded-for': '203.0.113.8' } });
  t.ok(a && b, 'one connection each from two clients behind the proxy');
  const third = await TestClient.connect(trusted.wsUrl, { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' } }).then(() => 'open', (e: Error) => e.message);
  t.match(third, /429/, 'the rightmost untrusted address is the client: 203.0.113.7 already holds its one connection');
  const who = await fetch(`${trusted.httpUrl}/api/v1/platform/whoami`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
  t.equal(((await who.json()) as any).data.remoteAddress, '203.0.113.9', 'routes see the forwarded address');

  const direct = await startStack(t, { config: { limits: { maxConnectionsPerIp: 1 }, plugins: ['market', platform] } });
  await TestClient.connect(direct.wsUrl, { headers: { 'x-forwarded-for': '203.0.113.7' } });
  const spoofed = await TestClient.connect(direct.wsUrl, { headers: { 'x-forwarded-for': '203.0.113.8' } }).then(() => 'open', (e: Error) => e.message);
  t.match(spoofed, /429/, 'without trustProxy the header is ignored: both come from 127.0.0.1');
  const me = await fetch(`${direct.httpUrl}/api/v1/platform/whoami`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
  t.equal(((await me.json()) as any).data.remoteAddress, '127.0.0.1', 'the peer address, in its plain IPv4 form');
});

t.test('client addresses: uWS forms made canonical; a bad trust entry is a configuration error naming the key', async (t) => {
  t.equal(canonicalAddress('0000:0000:0000:0000:0000:ffff:7f00:0001'), '127.0.0.1');
  t.equal(canonicalAddress('0000:0000:0000:0000:0000:ffff:cb00:7107'), '203.0.113.7');
  t.equal(canonicalAddress('0000:0000:0000:0000:0000:0000:0000:0001'), '::1');
  t.equal(canonicalAddress('2001:0db8:0000:0000:0000:ff00:0042:8329'), '2001:db8::ff00:42:8329');
  t.equal(canonicalAddress('::ffff:10.1.2.3'), '10.1.2.3');
  t.equal(canonicalAddress('10.1.2.3'), '10.1.2.3');
  const resolve = clientAddressResolver(['10.0.0.0/8']);
  t.equal(resolve('10.0.0.5', '198.51.100.1'), '198.51.100.1', 'a trusted proxy\'s header is believed');
  t.equal(resolve('10.0.0.5', '198.51.100.1, 10.0.0.9'), '198.51.100.1', 'through a chain of trusted proxies');
  t.equal(resolve('192.0.2.1', '198.51.100.1'), '192.0.2.1', 'an untrusted peer\'s header is not');
  t.equal(resolve('10.0.0.5', undefined), '10.0.0.5', 'no header: the proxy itself');
  t.equal(resolve('10.0.0.5', 'not-an-address'), '10.0.0.5', 'a malformed entry: the proxy itself');
  t.throws(() => validateConfig({ server: { trustProxy: ['not-an-ip'] } }, 'test'), ConfigError);
  t.throws(() => validateConfig({ server: { trustProxy: ['not-an-ip'] } }, 'test'), /server\.trustProxy/);
  t.throws(() => validateConfig({ symbols: { allow: ['btcusdt'] } }, 'test'), /symbols\.allow\.0: symbols are uppercase/);
  t.throws(() => validateConfig({ upstream: { exchange: 'kraken' } }, 'test'), /upstream\.exchange/);
});
