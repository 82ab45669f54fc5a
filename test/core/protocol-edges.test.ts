// Protocol edges: WebSocket versions, ping floods, frames that break RFC 6455, and requests whose framing is ambiguous.
import t from 'tap';
import { startStack } from '../helpers/stack.js';
import { TestClient } from '../helpers/ws-client.js';
import { clientFrame, rawExchange, upgradeRequest } from '../helpers/raw-socket.js';
import { CLOSE_CODES } from '../../core/errors.js';

const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };

t.test('an upgrade that asks for another WebSocket version than 13 is answered 426 with Sec-WebSocket-Version: 13', async (t) => {
  const { server } = await startStack(t);
  for (const version of ['8', '']) {
    const answer = await rawExchange(server.port, upgradeRequest('/ws', { 'Sec-WebSocket-Version': version }), /\}$/);
    t.match(answer.text, /^HTTP\/1\.1 426 /, `version "${version}": 426`);
    t.match(answer.text, /\r\nsec-websocket-version: 13\r\n/i, 'names the version served');
    t.equal(bodyOf(answer.text).error.code, 'TG_ERR_WS_VERSION');
  }
  const ok = await rawExchange(server.port, upgradeRequest('/ws'), /"type":"connected"/);
  t.match(ok.text, /^HTTP\/1\.1 101 /, 'version 13 is upgraded');
});

t.test('ambiguous body framing (two Content-Lengths that differ, two Transfer-Encodings, one that is not plain chunked) is refused with 400 and the connection closed', async (t) => {
  const { server } = await startStack(t);
  const twoLengths = (method: string, path: string, a: number, b: number, body: string) =>
    `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${a}\r\nContent-Length: ${b}\r\n\r\n${body}`;
  // A route, an unknown path (404 otherwise), and the feed's upgrade.
  for (const request of [
    twoLengths('GET', '/health', 2, 40, '{}'),
    twoLengths('POST', '/no/such/route', 2, 40, '{}'),
    upgradeRequest('/ws', { 'Content-Length': '0\r\nContent-Length: 5' }),
    `POST /no/such/route HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`,
    `POST /api/v1/market/symbols HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
  ]) {
    const what = request.split('\r\n')[0]!;
    const answer = await rawExchange(server.port, request, undefined, 2000);
    t.match(answer.text, /^HTTP\/1\.1 400 /, `${what}: 400`);
    t.equal(bodyOf(answer.text).error.code, 'TG_ERR_BAD_REQUEST');
    t.match(answer.text, /\r\nconnection: close\r\n/i);
    t.ok(answer.closed, 'the connection is closed');
    // What follows on the connection (a request smuggled in the body the other length would frame) is never answered.
    const smuggled = await rawExchange(server.port, request + 'GET /api/v1/ws/stats HTTP/1.1\r\nHost: localhost\r\n\r\n', undefined, 2000);
    t.notMatch(smuggled.text, /activeChannels/, `${what}: the request after it is not served`);
    t.ok(smuggled.closed, 'and the connection is closed');
  }
  const equal = await rawExchange(server.port, twoLengths('GET', '/health', 2, 2, '{}'), /"status"/);
  t.match(equal.text, /^HTTP\/1\.1 (200|503) /, 'two equal lengths are one length');
});

t.test('ping frames count against the message rate: a ping flood is closed with TG_ERR_RATE_LIMITED and 4429', async (t) => {
  const { wsUrl } = await startStack(t, { config: { limits: { messagesPerSecond: 20, messageBurst: 40 } } });
  const canary = await TestClient.connect(wsUrl);
  const flooder = await TestClient.connect(wsUrl);
  let pongs = 0;
  flooder.ws.on('pong', () => pongs++);
  for (let i = 0; i < 1000; i++) flooder.ws.ping();
  const error = await flooder.next((f) => f.type === 'error');
  t.equal(error.data.code, 'TG_ERR_RATE_LIMITED');
  t.match(error.data.message, /ping frames and messages/);
  t.equal((await flooder.waitClose()).code, CLOSE_CODES.RATE_LIMITED);
  t.ok(pongs < 1000, `not every ping was answered (${pongs})`);
  // Unsolicited pong frames count the same.
  const ponger = await TestClient.connect(wsUrl);
  for (let i = 0; i < 1000; i++) ponger.ws.pong();
  t.equal((await ponger.waitClose()).code, CLOSE_CODES.RATE_LIMITED, 'a pong flood is closed too');
  // A client that pings now and then is fine.
  for (let i = 0; i < 10; i++) canary.ws.ping();
  await canary.ping();
  t.equal(canary.closed, undefined);
  canary.close();
});

t.test('frames that break RFC 6455 end their connection at once, and nobody else\'s', async (t) => {
  const { server, wsUrl } = await startStack(t);
  const canary = await TestClient.connect(wsUrl);
  const cases: Array<[string, Buffer]> = [
    ['RSV1 set', clientFrame(1, '{"type":"ping"}', { rsv: 4 })],
    ['RSV2 set', clientFrame(1, '{"type":"ping"}', { rsv: 2 })],
    ['reserved opcode 0x3', clientFrame(3, 'x')],
    ['reserved control opcode 0xB', clientFrame(0xb, 'x')],
    ['ping of 126 bytes', clientFrame(9, Buffer.alloc(126))],
    ['fragmented ping', clientFrame(9, 'x', { fin: false })],
    ['stray continuation', clientFrame(0, 'x')],
    ['text that is not UTF-8', clientFrame(1, Buffer.from([0xc3, 0x28]))],
  ];
  for (const [what, frame] of cases) {
    const answer = await rawExchange(server.port, [upgradeRequest('/ws'), frame], undefined, 5000);
    t.match(answer.text, /^HTTP\/1\.1 101 /, `${what}: upgraded`);
    t.ok(answer.closed, `${what}: the connection is closed (within 5 s, not at the idle timeout)`);
    t.notMatch(answer.text, /"type":"pong"/, `${what}: the frame was not taken as a message`);
  }
  await canary.ping();
  t.equal(canary.closed, undefined, 'the canary was not disturbed');
  canary.close();
});
