// A property-based fuzzer (fast-check) against a real gateway: random client messages, raw WebSocket frames and HTTP
// requests. Invariants: the server stays up, every input is answered or its connection closed with a documented
// code, every error carries a code of the error table, and a canary client subscribed meanwhile is never disturbed.
import fc from 'fast-check';
import { connect } from 'node:net';
import { validateConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { TickgateServer } from '../../core/server.js';
import { SimExchange } from '../../sim/exchange.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';
import { clientFrame, rawExchange, upgradeRequest } from '../helpers/raw-socket.js';

export interface FuzzOptions {
  cases: number;
  seed?: number;
  /** Called every 1000 cases. */
  progress?: (done: number) => void;
}

export interface FuzzReport {
  cases: number;
  seed: number;
  byKind: Record<string, number>;
  /** The first failing input and why, as fast-check shrank it; undefined when every case held. */
  failure: string | undefined;
  canaryFrames: number;
}

/** Frame types a client may receive. */
const FRAME_TYPES = new Set(['connected', 'subscribed', 'unsubscribed', 'pong', 'error', 'status', 'authenticated', 'unauthenticated', 'limits', 'price', 'ticker', 'kline', 'trade', 'aggTrade', 'depth', 'signal']);

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'NOPEUSDT', 'btcusdt', '', 'BTC-USDT', 'A'.repeat(40)];
const KINDS = ['price', 'ticker', 'klines', 'trades', 'depth', 'signals', 'portfolio', 'orders', 'aggTrades', 'nope', ''];

const channelName = fc.oneof(
  fc.tuple(fc.constantFrom(...KINDS), fc.constantFrom(...SYMBOLS), fc.option(fc.constantFrom('1m', '1h', '7x', '', '20', 'abc'), { nil: undefined }))
    .map(([k, s, a]) => (a === undefined ? `${k}:${s}` : `${k}:${s}:${a}`)),
  fc.string({ maxLength: 60 }),
  fc.constantFrom(null, 1, {}, [], true),
);

const message = fc.oneof(
  { weight: 5, arbitrary: fc.record({ type: fc.constantFrom('subscribe', 'unsubscribe'), channels: fc.array(channelName, { maxLength: 6 }) }).map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('subscribe', 'unsubscribe'), channels: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.constant('price:BTCUSDT'), { minLength: 201, maxLength: 210 })) }).map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('auth'), token: fc.option(fc.string({ maxLength: 50 }), { nil: undefined }), apiKey: fc.option(fc.string({ maxLength: 50 }), { nil: undefined }) }).map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.record({ type: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('ping', 'PING', 'subscribe ')) }).map((m) => JSON.stringify(m)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.integer({ min: 16_385, max: 40_000 }).map((n) => JSON.stringify({ type: 'ping', pad: 'x'.repeat(n) })) },
);

const rawFrame = fc.record({
  opcode: fc.integer({ min: 0, max: 15 }),
  fin: fc.boolean(),
  rsv: fc.integer({ min: 0, max: 7 }),
  mask: fc.boolean(),
  payload: fc.uint8Array({ maxLength: 200 }),
});

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'BREW'];
const PATHS = ['/health', '/api/v1/ws/stats', '/metrics', '/ws', '/api/v1/market/ticker/BTCUSDT', '/api/v1/market/depth/ETHUSDT?limit=500', '/api/v1/market/klines/BTCUSDT?interval=9q', '/api/v1/market/symbols', '/nope', '/api/v1/market/trades/%00', '/api/v1/market/ticker/'];
const httpRequest = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.oneof(fc.constantFrom(...PATHS), fc.stringMatching(/^\/[A-Za-z0-9._~%/?=&:-]{0,80}$/)),
  headers: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), fc.stringMatching(/^[\x20-\x7e]{0,60}$/)), { maxLength: 8 }),
  body: fc.option(fc.oneof(fc.json(), fc.string({ maxLength: 300 })), { nil: undefined }),
  /** Breaks the request line (a space in the path, LF-only, HTTP/1.0): the parser answers nothing for these. */
  malformed: fc.constantFrom(undefined, undefined, undefined, undefined, undefined, undefined, undefined, 'space', 'lf', 'http10', 'dupcl', 'te2'),
});

const input = fc.oneof(
  { weight: 6, arbitrary: message.map((m) => ({ kind: 'message' as const, m })) },
  { weight: 2, arbitrary: rawFrame.map((f) => ({ kind: 'frame' as const, f })) },
  { weight: 2, arbitrary: httpRequest.map((h) => ({ kind: 'http' as const, h })) },
);

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const sim = await new SimExchange({ port: 0, tickerIntervalMs: 200 }).start();
  const config = validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    shards: 1,
    log: { level: 'silent' },
    // Limits a fuzzer does not trip on every few messages (the rate limit has its own tests).
    limits: { messagesPerSecond: 10_000, messageBurst: 100_000, maxConnectionsPerIp: 0 },
    upstream: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, heartbeatStream: '', unsubscribeGraceMs: 0 },
    plugins: ['market'],
  }, 'fuzz');
  const server = await TickgateServer.start(config, createLogger('silent'));
  const wsUrl = `ws://127.0.0.1:${server.port}/ws`;
  const byKind: Record<string, number> = { message: 0, frame: 0, http: 0 };
  let canary: TestClient | undefined;
  let client: TestClient | undefined;
  try {
    while (!server.symbols.loaded) await new Promise((r) => setTimeout(r, 20));
    canary = await TestClient.connect(wsUrl);
    canary.subscribe('price:BTCUSDT');
    await canary.next((f) => f.type === 'price');
    const documented = (code: unknown) => typeof code === 'string' && server.errors.get(code) !== undefined;
    let done = 0;

    const checkCanary = async () => {
      if (canary!.closed) throw new Error(`the canary was closed (${canary!.closed.code})`);
      const prices = canary!.frames.filter((f) => f.type === 'price').length;
      await canary!.ping();
      // Its channel keeps flowing (the sim ticks every 200 ms).
      await canary!.next((f) => f.type === 'price' && canary!.frames.filter((x) => x.type === 'price').length > prices, 5000);
    };

    const onMessage = async (m: string | Buffer) => {
      // A fresh connection now and then: one that holds every frame it ever got gets slow to search.
      if (!client || client.closed || client.frames.length > 2000) {
        client?.close();
        client = await TestClient.connect(wsUrl);
      }
      const c = client;
      const from = c.frames.length;
      c.send(m);
      // A sentinel after it: its pong proves the message was handled (answers keep their order) and the server lives.
      const sentinel = `{"type":"ping","id":${done}}`;
      c.send(sentinel);
      let pong: Frame | undefined;
      try {
        pong = await c.next((f) => f.type === 'pong' && c.frames.indexOf(f) >= from, 5000);
      } catch (err) {
        if (!c.closed) throw new Error(`no answer within 5 s and the connection is still open: ${(err as Error).message}`);
      }
      const answers = c.frames.slice(from, pong ? c.frames.indexOf(pong) : undefined);
      for (const f of answers) {
        if (!FRAME_TYPES.has(f.type)) throw new Error(`a frame of unknown type ${JSON.stringify(f.type)}`);
        if (f.type === 'error' && !documented(f.data?.code)) throw new Error(`an error without a documented code: ${JSON.stringify(f)}`);
      }
      if (c.closed) {
        // A message can only be too big (1009) or too many (4429): anything else is the server failing it.
        if (c.closed.code !== 1009 && c.closed.code !== 4429) throw new Error(`a message closed its connection with ${c.closed.code}`);
        if (c.closed.code === 1009 && !answers.some((f) => f.type === 'error' && f.data?.code === 'TG_ERR_MESSAGE_TOO_BIG')) throw new Error('closed with 1009 without TG_ERR_MESSAGE_TOO_BIG first');
        return;
      }
      // The message itself was answered: something besides the sentinel's pong (a ping message has its own pong).
      if (answers.length === 0 && !isPing(m)) throw new Error('the message got no answer (no frame before the sentinel\'s pong)');
    };

    const onFrame = async (f: { opcode: number; fin: boolean; rsv: number; mask: boolean; payload: Uint8Array }) => {
      const payload = Buffer.from(f.payload);
      // A ping message right behind the frame: its pong (or the connection's end) says the frame was dealt with.
      const frame = Buffer.concat([clientFrame(f.opcode, payload, { fin: f.fin, rsv: f.rsv, mask: f.mask }), clientFrame(1, '{"type":"ping"}')]);
      const answer = await rawExchange(server.port, [upgradeRequest('/ws'), frame], /"type":"pong"/, 1000);
      if (!/^HTTP\/1\.1 101 /.test(answer.text)) throw new Error(`the upgrade was not accepted: ${answer.text.slice(0, 80)}`);
      // Frames the layer cannot take close the connection; a valid one is answered (or waits, for a data frame that is
      // part of a message, or an unmasked frame, whose first bytes are taken as the mask). Either way: no crash, and
      // whatever came back is frames the client may receive.
      const body = answer.bytes.subarray(answer.bytes.indexOf('\r\n\r\n') + 4);
      for (const text of textFrames(body)) {
        let parsed: Frame;
        try {
          parsed = JSON.parse(text) as Frame;
        } catch {
          throw new Error(`a text frame that is not JSON: ${text.slice(0, 80)}`);
        }
        if (!FRAME_TYPES.has(parsed.type)) throw new Error(`a frame of unknown type ${parsed.type}`);
        if (parsed.type === 'error' && !documented(parsed.data?.code)) throw new Error(`an error without a documented code: ${text}`);
      }
    };

    const onHttp = async (h: { method: string; path: string; headers: Array<[string, string]>; body: unknown; malformed: string | undefined }) => {
      const body = h.body === undefined ? '' : typeof h.body === 'string' ? h.body : JSON.stringify(h.body);
      const path = h.malformed === 'space' ? `${h.path} x` : h.path;
      const version = h.malformed === 'http10' ? 'HTTP/1.0' : 'HTTP/1.1';
      const eol = h.malformed === 'lf' ? '\n' : '\r\n';
      const headers = h.headers.filter(([k]) => !/^(content-length|transfer-encoding|host|connection|upgrade|sec-websocket-.*)$/i.test(k));
      const framing = h.malformed === 'dupcl' ? [`Content-Length: ${Buffer.byteLength(body) + 1}`] : h.malformed === 'te2' ? ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity'] : [];
      const lines = [`${h.method} ${path} ${version}`, 'Host: localhost', ...headers.map(([k, v]) => `${k}: ${v}`), `Content-Length: ${Buffer.byteLength(body)}`, ...framing, 'Connection: close'];
      const answer = await rawExchange(server.port, lines.join(eol) + eol + eol + body, undefined, h.malformed ? 100 : 5000);
      if (h.malformed) {
        // Documented: the parser answers nothing (README, HTTP) or refuses; it must not answer as if it were valid.
        if (answer.text && !/^HTTP\/1\.1 [45]\d\d /.test(answer.text)) throw new Error(`a malformed request was served: ${answer.text.slice(0, 80)}`);
        // Ambiguous framing (request smuggling) is refused with 400, or cut by the layer, never served.
        if ((h.malformed === 'dupcl' || h.malformed === 'te2') && answer.text && !/^HTTP\/1\.1 400 /.test(answer.text)) throw new Error(`ambiguous framing answered ${answer.text.slice(0, 40)}`);
        return;
      }
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(answer.text);
      if (!status) {
        // The layer closes requests it cannot frame (a header value it refuses): closed, never held.
        if (!answer.closed) throw new Error(`no status line, and the connection is still open: ${JSON.stringify(lines)}`);
        return;
      }
      const code = Number(status[1]);
      if (code >= 500 && code !== 503) throw new Error(`${code} for ${h.method} ${h.path}: ${answer.text.slice(0, 300)}`);
      const split = answer.text.indexOf('\r\n\r\n');
      const text = answer.text.slice(split + 4);
      if (code >= 400 && text && h.method !== 'HEAD' && /content-type: application\/json/i.test(answer.text.slice(0, split))) {
        const parsed = JSON.parse(text) as { error?: { code?: unknown }; status?: string };
        if (parsed.error && !documented(parsed.error.code)) throw new Error(`an HTTP error without a documented code: ${text.slice(0, 200)}`);
      }
    };

    const seed = opts.seed ?? Date.now() % 2 ** 31;
    const result = await fc.check(fc.asyncProperty(input, async (x) => {
      byKind[x.kind]!++;
      if (x.kind === 'message') await onMessage(x.m);
      else if (x.kind === 'frame') await onFrame(x.f);
      else await onHttp(x.h);
      done++;
      if (done % 1000 === 0) opts.progress?.(done);
      if (done % 200 === 0) await checkCanary();
    }), { numRuns: opts.cases, seed, endOnFailure: true });
    if (!result.failed) await checkCanary();
    return {
      cases: result.numRuns,
      seed,
      byKind,
      failure: result.failed ? `${String(result.errorInstance)}\ninput: ${fc.stringify(result.counterexample)}\nreplay: --seed ${seed}` : undefined,
      canaryFrames: canary.frames.length,
    };
  } finally {
    canary?.close();
    client?.close();
    await server.close();
    await sim.close();
  }
}

function isPing(m: string | Buffer): boolean {
  try {
    return (JSON.parse(m.toString()) as { type?: unknown }).type === 'ping';
  } catch {
    return false;
  }
}

/** The payloads of the complete text frames in server bytes (server frames are unmasked). */
function textFrames(buf: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i + 2 <= buf.length) {
    const opcode = buf[i]! & 0x0f;
    let len = buf[i + 1]! & 0x7f;
    let at = i + 2;
    if (len === 126) {
      if (at + 2 > buf.length) break;
      len = buf.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      if (at + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    if (at + len > buf.length) break;
    if (opcode === 1) out.push(buf.subarray(at, at + len).toString('utf8'));
    i = at + len;
  }
  return out;
}
