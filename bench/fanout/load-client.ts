// A deliberately small WebSocket client for load generation: raw TCP, handshake, unmasked server frames, seq tracking.
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface ClientCounters {
  frames: number;
  bytes: number;
  /** Per channel: lowest and highest seq seen, and data frames counted, to tell losses from counting errors. */
  seqs: Map<string, { min: number; max: number; count: number }>;
  latencies: number[];
  errors: number;
  pongs: number;
}

const SEQ = Buffer.from('"seq":');
const CHANNEL = Buffer.from('"channel":"');
const DATA_TS = Buffer.from('"timestamp":');
const PONG = Buffer.from('"type":"pong"');

/** Reads an unsigned integer at `at` in `buf` (ASCII digits). */
function intAt(buf: Buffer, at: number): number {
  let n = 0;
  for (let i = at; i < buf.length; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n;
}

export class LoadClient {
  private socket: Socket | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private upgraded = false;
  private frameNo = 0;
  /** Resolves on the server's first frame ("connected"). */
  private ready: ((ms: number) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;
  private startedAt = 0;
  closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    /** Replaced by the worker when measurement starts. */
    public counters: ClientCounters,
    /** Every Nth data frame is parsed for latency (event time to receipt); the rest are only counted. */
    private readonly sampleEvery: number,
    private readonly localAddress?: string,
  ) {}

  /** Connects and waits for the "connected" frame; resolves with the connect time in ms. */
  open(): Promise<number> {
    this.startedAt = performance.now();
    return new Promise((resolve, reject) => {
      this.ready = resolve;
      this.failed = reject;
      const key = randomBytes(16).toString('base64');
      const socket = connect({ host: this.host, port: this.port, localAddress: this.localAddress });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('connect', () => {
        socket.write(`GET /ws HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (err) => {
        this.counters.errors++;
        this.failed?.(err);
      });
      socket.on('close', () => {
        this.closed = true;
        this.failed?.(new Error('closed before connected'));
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    if (!this.upgraded) {
      const end = this.pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!this.pending.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
        this.counters.errors++;
        this.failed?.(new Error(`upgrade refused: ${this.pending.subarray(0, 40).toString()}`));
        this.socket?.destroy();
        return;
      }
      this.upgraded = true;
      this.pending = this.pending.subarray(end + 4);
    }
    let off = 0;
    const buf = this.pending;
    while (buf.length - off >= 2) {
      const b0 = buf[off]!;
      let len = buf[off + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - off < 10) break;
        len = Number(buf.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (buf.length - off < head + len) break;
      const payload = buf.subarray(off + head, off + head + len);
      this.onFrame(b0 & 0x0f, payload);
      off += head + len;
    }
    this.pending = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
  }

  private onFrame(opcode: number, payload: Buffer): void {
    if (opcode === 0x9) return this.sendFrame(0xa, payload);
    if (opcode === 0x8) {
      this.socket?.end();
      return;
    }
    if (opcode !== 0x1) return;
    if (this.ready) {
      const done = this.ready;
      this.ready = undefined;
      this.failed = undefined;
      done(performance.now() - this.startedAt);
      return;
    }
    const s = payload.indexOf(SEQ);
    if (s < 0) {
      if (payload.indexOf(PONG) >= 0) this.counters.pongs++;
      return;
    }
    this.counters.frames++;
    this.counters.bytes += payload.length;
    const seq = intAt(payload, s + SEQ.length);
    const c = payload.indexOf(CHANNEL) + CHANNEL.length;
    const channel = payload.subarray(c, payload.indexOf(34, c)).toString('latin1');
    const range = this.counters.seqs.get(channel);
    if (!range) this.counters.seqs.set(channel, { min: seq, max: seq, count: 1 });
    else {
      if (seq < range.min) range.min = seq;
      if (seq > range.max) range.max = seq;
      range.count++;
    }
    if (++this.frameNo % this.sampleEvery === 0) {
      // The data's own timestamp (epoch ms: the exchange's event time for price frames) is the first one in the frame.
      const t = payload.indexOf(DATA_TS);
      if (t >= 0 && payload[t + DATA_TS.length] !== 34) this.counters.latencies.push(Date.now() - intAt(payload, t + DATA_TS.length));
    }
  }

  /** Sends a masked frame (clients must mask). */
  private sendFrame(opcode: number, payload: Buffer): void {
    if (!this.socket || this.closed) return;
    const mask = randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
    const body = Buffer.alloc(len);
    for (let i = 0; i < len; i++) body[i] = payload[i]! ^ mask[i % 4]!;
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  send(text: string): void {
    this.sendFrame(0x1, Buffer.from(text));
  }

  close(): void {
    this.socket?.destroy();
  }
}
