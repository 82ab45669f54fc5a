// A plugin's own WebSocket endpoint beside /ws, fed by a raw channel: frames as the producer made them, fanned out
// through the plugin's topics, one upstream stream for every listener, refusals as the plugin words them.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { getJson, startStack, until } from '../helpers/stack.js';
import { TestClient, refusedUpgrade } from '../helpers/ws-client.js';
import { TickgateServer } from '../../core/server.js';
import { testConfig } from '../helpers/stack.js';

const tape = fileURLToPath(new URL('../fixtures/tape-plugin/index.js', import.meta.url));

/** A plain WebSocket client of the plugin's endpoint: its text frames, and how it closed. */
async function open(url: string) {
  const ws = new WebSocket(url);
  const frames: string[] = [];
  let closed: number | undefined;
  ws.on('message', (d: Buffer) => frames.push(d.toString('utf8')));
  ws.on('close', (code) => {
    closed = code;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames, closedWith: () => closed };
}

t.test('a plugin endpoint serves a raw channel: plain bytes, one upstream stream, released after the last socket', async (t) => {
  const { server, httpUrl, wsUrl } = await startStack(t, { config: { plugins: ['market', { name: 'tape', path: tape }] }, sim: { tradesPerSecond: 50 } });
  const base = `ws://127.0.0.1:${server.port}`;
  const a = await open(`${base}/tape/BTCUSDT`);
  const b = await open(`${base}/tape/BTCUSDT`);
  await until(() => a.frames.length >= 5 && b.frames.length >= 5, 'both sockets get trades');
  t.ok(a.frames.every((f) => /^\d+$/.test(f)), 'frames are the producer\'s own bytes, no envelope');
  const ids = a.frames.map(Number);
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'in order');
  const stats = (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data;
  t.same(stats.binanceActiveStreams.filter((s: string) => s.startsWith('btcusdt')), ['btcusdt@trade'], 'one upstream stream for both');
  a.ws.send('hello');
  await until(() => a.frames.includes('HELLO'), 'the endpoint answers messages');
  // /ws clients do not see a raw kind at all.
  const c = await TestClient.connect(wsUrl);
  c.subscribe('tape:BTCUSDT');
  const err = await c.next((f) => f.type === 'error');
  t.equal(err.data.code, 'TG_ERR_UNKNOWN_CHANNEL_KIND');
  t.notMatch(err.data.message.split('available kinds are')[1], /tape/, 'not listed among the kinds /ws clients may use');
  a.ws.close();
  b.ws.close();
  await until(async () => !(await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.binanceActiveStreams.includes('btcusdt@trade'), 'upstream released');
});


t.test('refusals: the plugin\'s own answer, and the gateway\'s limits apply to its endpoints', async (t) => {
  const { server } = await startStack(t, { config: { plugins: ['market', { name: 'tape', path: tape }], limits: { maxConnectionsPerIp: 2 } } });
  const base = `ws://127.0.0.1:${server.port}`;
  const refused = await refusedUpgrade(`${base}/tape/NOPE`);
  t.equal(refused.status, 400);
  t.equal(refused.headers['x-tape'], 'refused');
  t.same(refused.body, { problem: 'no symbol NOPE' }, 'the plugin\'s body');
  const plain = await fetch(`http://127.0.0.1:${server.port}/tape/BTCUSDT`);
  t.equal(plain.status, 404, 'a plain GET is not an upgrade: the router answers');
  const a = await open(`${base}/tape/BTCUSDT`);
  const b = await open(`${base}/tape/BTCUSDT`);
  t.equal((await refusedUpgrade(`${base}/tape/BTCUSDT`)).status, 429, 'limits.maxConnectionsPerIp counts the plugin\'s connections');
  a.ws.close();
  await server.close();
  await until(() => b.closedWith() !== undefined, 'closed at shutdown');
  t.equal(b.closedWith(), 1001, 'shutdown closes them with 1001');
});

t.test('a raw channel whose producer fails ends its hold', async (t) => {
  const { server } = await startStack(t, { config: { plugins: ['market', { name: 'tape', path: tape }] } });
  const state = (server as unknown as { plugins: { services: Map<string, { service: { holds: Map<string, unknown>; ended: string[] } }> } }).plugins.services.get('tape')!.service;
  const s = await open(`ws://127.0.0.1:${server.port}/tape/ETHUSDT`);
  await until(() => state.ended.includes('ETHUSDT'), 'the plugin was told the channel ended');
  t.notOk(state.holds.has('ETHUSDT'));
  s.ws.close();
});

t.test('an endpoint on /ws, or on a pattern another plugin serves, stops the load', async (t) => {
  for (const [pattern, why] of [['/ws', /gateway's own feed/], ['/tape/:symbol', /already served by plugin "tape"/]] as const) {
    const { pathToFileURL } = await import('node:url');
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'tg-sock-'));
    const file = join(dir, 'index.mjs');
    const api = pathToFileURL(fileURLToPath(new URL('../../core/plugin-api.js', import.meta.url))).href;
    writeFileSync(file, `import { definePlugin } from ${JSON.stringify(api)};\nexport default definePlugin({ name: 'other', acceptor: (api) => api.websocket(${JSON.stringify(pattern)}, { upgrade: () => ({ accept: {} }), message: () => {} }) });\n`);
    const config = testConfig({ plugins: ['market', { name: 'tape', path: tape }, { name: 'other', path: file }] }, { wsUrl: 'ws://127.0.0.1:9', restUrl: 'http://127.0.0.1:9' });
    await t.rejects(TickgateServer.start(config), why, `${pattern} refused`);
  }
});
