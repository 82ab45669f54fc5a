// Raw TCP exchanges with the server: bytes a conforming client library would never send.
import { connect } from 'node:net';

export interface RawAnswer {
  /** Everything the server sent, as latin1 text (frames stay byte-exact). */
  text: string;
  bytes: Buffer;
  /** Whether the server closed the connection before the wait ended. */
  closed: boolean;
}

/**
 * Sends `payload` on a new connection and collects the answer until `until` matches, the server closes, or `waitMs`.
 * With an array, each part after the first is sent once the server has answered the one before (a handshake, then
 * frames).
 */
export function rawExchange(port: number, payload: string | Buffer | Array<string | Buffer>, until?: RegExp, waitMs = 3000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      resolve({ text: bytes.toString('latin1'), bytes, closed });
    };
    const timer = setTimeout(done, waitMs);
    const parts = Array.isArray(payload) ? [...payload] : [payload];
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (until && until.test(Buffer.concat(chunks).toString('latin1'))) return done();
      const next = parts.shift();
      if (next !== undefined) socket.write(next);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      done();
    });
    socket.write(parts.shift()!);
  });
}

/** A WebSocket opening handshake (version 13 unless told), as raw request text. */
export function upgradeRequest(path = '/ws', headers: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    Host: 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  return `GET ${path} HTTP/1.1\r\n${Object.entries(all).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** A masked client frame. */
export function clientFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), opts: { fin?: boolean; rsv?: number; mask?: boolean } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const masked = opts.mask !== false;
  const head = [((opts.fin === false ? 0 : 1) << 7) | ((opts.rsv ?? 0) << 4) | opcode];
  const len = body.length;
  let ext: Buffer;
  if (len < 126) {
    head.push((masked ? 0x80 : 0) | len);
    ext = Buffer.alloc(0);
  } else {
    head.push((masked ? 0x80 : 0) | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(len);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), ext, body]);
  const key = Buffer.from([1, 2, 3, 4]);
  const out = Buffer.from(body.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), ext, key, out]);
}
