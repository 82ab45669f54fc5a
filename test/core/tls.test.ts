// wss:// and https:// served by uWS's SSL app, with a certificate made in the test; SIGHUP's reload keeps open sockets.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { Agent, fetch as undiciFetch } from 'undici';
import { startStack, until } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { validateConfig } from '../../core/config.js';

async function certificate(cn: string): Promise<{ cert: string; key: string; fingerprint256: string }> {
  const pems = await generate([{ name: 'commonName', value: cn }], { keySize: 2048, extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }] });
  return { cert: pems.cert, key: pems.private, fingerprint256: new X509Certificate(pems.cert).fingerprint256 };
}

/** Certificate and key files holding a first certificate, and a second one to renew them with. */
async function renewablePair() {
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const first = await certificate('tickgate-first');
  const second = await certificate('tickgate-second');
  writeFileSync(certFile, first.cert);
  writeFileSync(keyFile, first.key);
  return { certFile, keyFile, first, second };
}

const peerFingerprint = (c: TestClient) => ((c.ws as unknown as { _socket: TLSSocket })._socket).getPeerX509Certificate()!.fingerprint256;

t.test('wss:// and https:// with a configured certificate; a reload serves the new one and keeps open connections', async (t) => {
  const { certFile, keyFile, first, second } = await renewablePair();
  // A short route timeout: the replaced app serves HTTP for that long plus uWS's keep-alive (12 s) after a reload.
  const { server } = await startStack(t, { config: { server: { tls: { certFile, keyFile }, routeTimeoutMs: 500 } } });
  const wss = `wss://127.0.0.1:${server.port}/ws`;
  const https = `https://127.0.0.1:${server.port}`;
  const trustFirst = new Agent({ connect: { ca: first.cert } });
  t.teardown(() => trustFirst.close());

  const res = await undiciFetch(`${https}/api/v1/market/symbols`, { dispatcher: trustFirst });
  t.equal(res.status, 200, 'https:// answers, with the certificate the client trusts');
  await res.text();
  t.equal(res.headers.get('strict-transport-security'), 'max-age=31536000', 'HSTS with TLS');

  const old = await TestClient.connect(wss, { ca: first.cert });
  t.equal(peerFingerprint(old), first.fingerprint256);
  old.subscribe('price:BTCUSDT');
  await old.next((f) => f.type === 'price');

  // A renewal: the files are replaced, then the reload (what SIGHUP does).
  writeFileSync(certFile, second.cert);
  writeFileSync(keyFile, second.key);
  const reloaded = await server.reloadTls();
  t.ok(reloaded.reloaded, reloaded.message);
  // The keep-alive connection opened before the reload still serves (on the certificate it started with).
  const again = await undiciFetch(`${https}/api/v1/market/symbols`, { dispatcher: trustFirst });
  t.equal(again.status, 200, 'an HTTP keep-alive connection from before the reload still answers');
  await again.text();
  const fresh = await TestClient.connect(wss, { ca: second.cert });
  t.equal(peerFingerprint(fresh), second.fingerprint256, 'a new connection gets the new certificate');
  fresh.subscribe('price:BTCUSDT');
  await fresh.next((f) => f.type === 'price');
  const seen = old.frames.filter((f) => f.type === 'price').length;
  await until(() => old.frames.filter((f) => f.type === 'price').length >= seen + 2, 'the connection opened before the reload still gets frames');
  t.equal(old.closed, undefined, 'and was never closed');
  await old.ping();

  // A broken renewal changes nothing.
  writeFileSync(keyFile, first.key);
  const refused = await server.reloadTls();
  t.notOk(refused.reloaded);
  t.match(refused.message, /the current one stays: .*key\.pem does not go with .*cert\.pem/);
  const still = await TestClient.connect(wss, { ca: second.cert });
  t.equal(peerFingerprint(still), second.fingerprint256, 'the last good certificate is still served');

  // The app of the first certificate goes when its last connection does.
  const apps = (server as unknown as { apps: { size: number } }).apps;
  t.equal(apps.size, 2);
  old.close();
  await new Promise((r) => setTimeout(r, 300));
  t.equal(apps.size, 2, 'kept for the HTTP grace after its last WebSocket');
  await until(() => apps.size === 1, 'the old certificate\'s app is closed after the grace', 20_000);
  await fresh.ping();
  for (const c of [fresh, still]) c.close();
});

t.test('a certificate that cannot be used stops the start with what is wrong', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-tls-'));
  const a = await certificate('a');
  const b = await certificate('b');
  writeFileSync(join(dir, 'a.pem'), a.cert);
  writeFileSync(join(dir, 'b-key.pem'), b.key);
  writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
  t.throws(() => validateConfig({ server: { tls: { certFile: join(dir, 'a.pem'), keyFile: join(dir, 'b-key.pem') } } }, 'test'), /server\.tls: .*b-key\.pem does not go with .*a\.pem/);
  t.throws(() => validateConfig({ server: { tls: { certFile: join(dir, 'missing.pem'), keyFile: join(dir, 'b-key.pem') } } }, 'test'), /server\.tls: cannot read .*missing\.pem: ENOENT/);
  t.throws(() => validateConfig({ server: { tls: { certFile: join(dir, 'junk.pem'), keyFile: join(dir, 'b-key.pem') } } }, 'test'), /junk\.pem is not a PEM certificate/);
  t.throws(() => validateConfig({ server: { tls: { certFile: join(dir, 'a.pem') } } }, 'test'), /certFile and keyFile go together/);
  t.throws(() => validateConfig({ server: { tls: { certFile: 'a.pem', keyFile: 'b-key.pem' } } }, 'test', '/nonexistent'), /cannot read \/nonexistent\/a\.pem/, 'relative paths are from the configuration file\'s folder');
});

t.test('without TLS, a reload says there is nothing to reload', async (t) => {
  const { server } = await startStack(t);
  t.same(await server.reloadTls(), { reloaded: false, message: 'no TLS certificate is configured' });
});

t.test('the gateway process reloads its certificate on SIGHUP, and a second gateway on its TLS port is refused', async (t) => {
  const { spawn } = await import('node:child_process');
  const { PACKAGE_ROOT } = await import('../../core/config.js');
  const { SimExchange } = await import('../../sim/exchange.js');
  const { certFile, keyFile, first, second } = await renewablePair();
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  const env = { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', SHARDS: '1', BINANCE_WS_URL: sim.wsUrl, BINANCE_REST_URL: sim.restUrl, TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, TICKGATE__PLUGINS: '[market]' };
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist/core/main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await until(() => /listening on 127\.0\.0\.1:\d+/.test(out), 'listening', 20_000);
  const port = /listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]!;
  const before = await TestClient.connect(`wss://127.0.0.1:${port}/ws`, { ca: first.cert });
  writeFileSync(certFile, second.cert);
  writeFileSync(keyFile, second.key);
  child.kill('SIGHUP');
  await until(() => /TLS certificate reloaded/.test(out), 'the reload is logged');
  const after = await TestClient.connect(`wss://127.0.0.1:${port}/ws`, { ca: second.cert });
  t.equal(peerFingerprint(after), second.fingerprint256);
  await before.ping();
  t.equal(before.closed, undefined, 'SIGHUP did not stop the gateway or drop a connection');

  const other = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist/core/main.js')], { env: { ...env, PORT: port }, stdio: ['ignore', 'pipe', 'pipe'] });
  let otherOut = '';
  other.stdout.on('data', (d: Buffer) => (otherOut += d.toString()));
  const code = await new Promise<number | null>((resolve) => other.on('exit', (c) => resolve(c)));
  t.equal(code, 1, 'a second gateway on the same TLS port exits 1');
  t.match(otherOut, /port is in use/);
  before.close();
  after.close();
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
