// Every bad input gets its documented error frame (or close code), and the connection and the server stay usable.
import t from 'tap';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { startStack, getJson, until } from '../helpers/stack.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

const isError = (code: string, channel?: string) => (f: Frame) => f.type === 'error' && f.data?.code === code && (channel === undefined || f.channel === channel);

/** Sends one bad input, expects one error frame with the code, then proves the connection still works. */
async function expectError(t: Test, c: TestClient, input: unknown, code: string, channel?: string): Promise<Frame> {
  c.send(input);
  const f = await c.next(isError(code, channel));
  t.equal(f.data.code, code, `${code} for ${String(typeof input === 'string' ? input : JSON.stringify(input)).slice(0, 60)}`);
  t.type(f.data.message, 'string');
  t.ok(f.data.message.length > 10, 'the message says what to do');
  t.match(f.timestamp, /Z$/);
  if (channel !== undefined) t.equal(f.channel, channel);
  await c.ping();
  return f;
}

t.test('malformed messages: JSON, binary, shape, type, channels', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  await expectError(t, c, '{"type":"subscribe",', 'TG_ERR_INVALID_JSON');
  await expectError(t, c, 'not json at all', 'TG_ERR_INVALID_JSON');
  await expectError(t, c, Buffer.from([0x7b, 0x7d]), 'TG_ERR_BINARY_UNSUPPORTED');
  await expectError(t, c, '42', 'TG_ERR_INVALID_MESSAGE');
  await expectError(t, c, '[1,2]', 'TG_ERR_INVALID_MESSAGE');
  await expectError(t, c, 'null', 'TG_ERR_INVALID_MESSAGE');
  await expectError(t, c, { channels: ['price:BTCUSDT'] }, 'TG_ERR_INVALID_MESSAGE');
  await expectError(t, c, { type: 7 }, 'TG_ERR_INVALID_MESSAGE');
  const unknown = await expectError(t, c, { type: 'subcribe', channels: ['price:BTCUSDT'] }, 'TG_ERR_UNKNOWN_TYPE');
  t.match(unknown.data.message, /subcribe/);
  await expectError(t, c, { type: 'subscribe' }, 'TG_ERR_INVALID_CHANNELS');
  await expectError(t, c, { type: 'subscribe', channels: 'price:BTCUSDT' }, 'TG_ERR_INVALID_CHANNELS');
  await expectError(t, c, { type: 'subscribe', channels: [] }, 'TG_ERR_INVALID_CHANNELS');
  await expectError(t, c, { type: 'unsubscribe', channels: {} }, 'TG_ERR_INVALID_CHANNELS');
  const notString = await expectError(t, c, { type: 'subscribe', channels: [42] }, 'TG_ERR_INVALID_CHANNEL');
  t.match(notString.data.message, /channels\[0\]/);
});

t.test('invalid UTF-8 in a text frame: the WebSocket layer drops that connection (1006); others carry on', async (t) => {
  const { wsUrl } = await startStack(t);
  const bystander = await TestClient.connect(wsUrl);
  const c = await TestClient.connect(wsUrl);
  // The ws client validates what it sends, so the bad frame is written on the socket directly.
  const payload = Buffer.from([0xc3, 0x28]);
  const frame = Buffer.from([0x81, 0x80 | payload.length, 1, 2, 3, 4, ...payload.map((b, i) => b ^ [1, 2, 3, 4][i % 4]!)]);
  (c.ws as unknown as { _socket: import('node:net').Socket })._socket.write(frame);
  const closed = await c.waitClose();
  t.equal(closed.code, 1006, 'dropped by uWS without a close frame (documented)');
  await bystander.ping();
});

t.test('channel names: grammar, kind, symbol format, unknown and non-trading symbols, intervals', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  const sub = (ch: string) => ({ type: 'subscribe', channels: [ch] });
  await expectError(t, c, sub('BTCUSDT'), 'TG_ERR_INVALID_CHANNEL', 'BTCUSDT');
  await expectError(t, c, sub('price:'), 'TG_ERR_INVALID_CHANNEL', 'price:');
  await expectError(t, c, sub('a:b:c:d'), 'TG_ERR_INVALID_CHANNEL', 'a:b:c:d');
  const kind = await expectError(t, c, sub('quotes:BTCUSDT'), 'TG_ERR_UNKNOWN_CHANNEL_KIND', 'quotes:BTCUSDT');
  t.match(kind.data.message, /price/, 'lists the available kinds');
  await expectError(t, c, sub('price:btcusdt'), 'TG_ERR_INVALID_SYMBOL', 'price:btcusdt');
  await expectError(t, c, sub('price:BTC-USDT'), 'TG_ERR_INVALID_SYMBOL', 'price:BTC-USDT');
  const unknown = await expectError(t, c, sub('price:INVALID'), 'TG_ERR_UNKNOWN_SYMBOL', 'price:INVALID');
  t.equal(unknown.data.message, 'Failed to fetch quote for INVALID', 'the guide\'s error text');
  t.type(unknown.data.hint, 'string');
  const halted = await expectError(t, c, sub('ticker:LUNAUSDT'), 'TG_ERR_UNKNOWN_SYMBOL', 'ticker:LUNAUSDT');
  t.match(halted.data.hint, /BREAK/);
  const interval = await expectError(t, c, sub('klines:BTCUSDT:7m'), 'TG_ERR_INVALID_INTERVAL', 'klines:BTCUSDT:7m');
  t.match(interval.data.message, /1m, 3m, 5m/);
  await expectError(t, c, sub('klines:BTCUSDT'), 'TG_ERR_INVALID_ARGUMENT', 'klines:BTCUSDT');
  await expectError(t, c, sub('price:BTCUSDT:1m'), 'TG_ERR_INVALID_ARGUMENT', 'price:BTCUSDT:1m');
  const long = 'price:' + 'A'.repeat(5000);
  c.send(sub(long));
  const clipped = await c.next(isError('TG_ERR_INVALID_CHANNEL'));
  t.ok(clipped.channel!.length <= 130, 'an echoed channel name is clipped');
});

t.test('all 14 protocol intervals (and 1s, 8h) are valid kline channels', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  const intervals = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '12h', '1d', '3d', '1w', '1M', '1s', '8h'];
  c.subscribe(...intervals.map((i) => `klines:BTCUSDT:${i}`));
  for (const i of intervals) await c.next((f) => f.type === 'subscribed' && f.channel === `klines:BTCUSDT:${i}`);
  t.equal(c.frames.filter((f) => f.type === 'error').length, 0, 'no errors');
});

t.test('duplicate subscribe is idempotent; unsubscribe of a channel not held is an error', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  c.subscribe('price:BTCUSDT');
  await c.next((f) => f.type === 'subscribed');
  c.subscribe('price:BTCUSDT', 'price:BTCUSDT');
  await c.next((f) => f.type === 'subscribed');
  await c.next((f) => f.type === 'subscribed');
  const stats = (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data;
  t.same(stats.activeChannels, ['price:BTCUSDT'], 'still one channel');
  t.equal(c.frames.filter((f) => f.type === 'error').length, 0, 'no error for a duplicate');
  c.unsubscribe('price:BTCUSDT');
  await c.next((f) => f.type === 'unsubscribed');
  await expectError(t, c, { type: 'unsubscribe', channels: ['price:BTCUSDT'] }, 'TG_ERR_NOT_SUBSCRIBED', 'price:BTCUSDT');
  await expectError(t, c, { type: 'unsubscribe', channels: ['nonsense'] }, 'TG_ERR_NOT_SUBSCRIBED', 'nonsense');
});

t.test('more than 50 channels: the first 50 are subscribed, every excess one gets its own error', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  const intervals = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '12h', '1d', '3d', '1w', '1M'];
  const symbols = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT'];
  const channels = symbols.flatMap((s) => intervals.map((i) => `klines:${s}:${i}`)).slice(0, 55);
  c.subscribe(...channels);
  for (const ch of channels.slice(0, 50)) await c.next((f) => f.type === 'subscribed' && f.channel === ch);
  for (const ch of channels.slice(50)) {
    const f = await c.next(isError('TG_ERR_CHANNEL_LIMIT', ch));
    t.match(f.data.message, /50/);
  }
  t.equal(c.frames.filter((f) => f.type === 'subscribed').length, 50);
  t.equal(c.frames.filter((f) => f.type === 'error').length, 5, 'one error per refused channel');
  c.unsubscribe(channels[0]!);
  await c.next((f) => f.type === 'unsubscribed');
  c.subscribe(channels[52]!);
  await c.next((f) => f.type === 'subscribed' && f.channel === channels[52]);
  t.pass('after an unsubscribe there is room again');
});

t.test('a message listing more channels than allowed per message is refused whole', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  await expectError(t, c, { type: 'subscribe', channels: Array.from({ length: 201 }, () => 'price:BTCUSDT') }, 'TG_ERR_TOO_MANY_IN_MESSAGE');
  t.equal(c.frames.filter((f) => f.type === 'subscribed').length, 0);
});

t.test('oversized message: error frame, then close 1009; the server and other clients carry on', async (t) => {
  const { wsUrl } = await startStack(t);
  const bystander = await TestClient.connect(wsUrl);
  const c = await TestClient.connect(wsUrl);
  c.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(20_000) }));
  const f = await c.next(isError('TG_ERR_MESSAGE_TOO_BIG'));
  t.match(f.data.message, /16384/);
  const closed = await c.waitClose();
  t.equal(closed.code, 1009);
  await bystander.ping();
  const big = await TestClient.connect(wsUrl);
  big.send('x'.repeat(200_000));
  await big.next(isError('TG_ERR_MESSAGE_TOO_BIG'));
  t.equal((await big.waitClose()).code, 1009, 'up to the 256 KiB hard cap the client still gets the error first');
  // Far above the hard cap the WebSocket layer drops the connection itself; the server still lives.
  const huge = await TestClient.connect(wsUrl);
  huge.send('x'.repeat(1_000_000));
  const hugeClosed = await huge.waitClose();
  t.ok(hugeClosed.code === 1006 || hugeClosed.code === 1009, `huge frame closes the connection (${hugeClosed.code})`);
  await bystander.ping();
  const again = await TestClient.connect(wsUrl);
  await again.ping();
});

t.test('message flood: error frame, then close 4429; other clients unaffected', async (t) => {
  const { wsUrl } = await startStack(t);
  const bystander = await TestClient.connect(wsUrl);
  const c = await TestClient.connect(wsUrl);
  for (let i = 0; i < 100; i++) c.send({ type: 'ping' });
  const f = await c.next(isError('TG_ERR_RATE_LIMITED'));
  t.match(f.data.message, /20\/s/);
  const closed = await c.waitClose();
  t.equal(closed.code, 4429);
  const pongs = c.frames.filter((x) => x.type === 'pong').length;
  // 40 at once, plus 20/s refilled while the flood is read: a slow machine reads it over more time.
  t.ok(pongs >= 40 && pongs <= 60, `the burst of 40 was served before the limit (${pongs} pongs)`);
  await bystander.ping();
});

t.test('a client that disconnects abruptly mid-subscription leaves no channel behind', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t);
  const ws = new WebSocket(wsUrl);
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'subscribe', channels: ['trades:BTCUSDT', 'price:ETHUSDT'] }));
  await new Promise((r) => ws.once('message', r));
  await until(async () => (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.activeChannels.length === 2, 'two channels open');
  ws.terminate();
  await until(async () => (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.activeChannels.length === 0, 'channels closed');
  await until(async () => (await getJson(`${httpUrl}/api/v1/ws/stats`)).body.data.binanceStreams === 0, 'upstream streams released');
  t.pass('channels and upstream streams released');
});

t.test('connections per address above limits.maxConnectionsPerIp are refused with 429', async (t) => {
  const { wsUrl } = await startStack(t, { config: { limits: { maxConnectionsPerIp: 2 } } });
  const a = await TestClient.connect(wsUrl);
  await TestClient.connect(wsUrl);
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(wsUrl);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => {});
  });
  t.equal(refused, 429, 'the third is refused');
  a.close();
  await a.waitClose();
  await until(async () => {
    try {
      const c = await TestClient.connect(wsUrl);
      c.close();
      return true;
    } catch {
      return false;
    }
  }, 'a slot is free again after a close');
});
