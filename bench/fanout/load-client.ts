// A deliberately small WebSocket client for load generation: raw TCP, handshake, unmasked server frames, seq tracking.
// Frames are read in place, with byte loops, from one read buffer: no slices, strings, concatenations or native calls per frame.
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { constants as zlib, inflateRawSync } from 'node:zlib';

export interface ClientCounters {
  frames: number;
  bytes: number;
  /** Per channel: the seq numbers seen, checked in order of arrival (one channel's frames arrive in order on one socket). */
  seqs: Map<string, SeqRange>;
  latencies: number[];
  /** The same samples by frame type ("price", "depth", …). */
  latencyByType: Record<string, number[]>;
  /** Data frames and their payload bytes (as they came on the wire) by frame type. */
  sizeByType: Record<string, FrameSizes>;
  errors: number;
  pongs: number;
}

/**
 * First and last seq of a channel, frames counted, numbers skipped (lost frames: a jump past last + 1) and frames whose
 * seq is not above the last one (repeated or out of order). A loss and a repeat do not cancel out.
 */
export type SeqRange = { first: number; last: number; count: number; missing: number; repeated: number };
export type FrameSizes = { frames: number; bytes: number };
/** A channel name seen on this thread, with its hash and its index in each client's ranges. */
interface Channel {
  hash: number;
  name: string;
  id: number;
  /**
   * The `type` of the channel's first data frame on this thread, as an index into `frameTypes` (-1 until one came):
   * a channel's data frames all have one type, so each frame is counted by type with no string read (a depthDelta
   * channel's changes count under `depth`, its first frame's type: its bytes are right, its type name is not).
   */
  type: number;
}

/** A byte string to search for, with its Horspool shift table: a search looks at a fraction of the bytes it passes. */
interface Pattern {
  bytes: Buffer;
  shift: Uint8Array;
}

function pattern(text: string): Pattern {
  const bytes = Buffer.from(text, 'latin1');
  const shift = new Uint8Array(256).fill(bytes.length);
  for (let j = 0; j < bytes.length - 1; j++) shift[bytes[j]!] = bytes.length - 1 - j;
  return { bytes, shift };
}

const QUOTE = 34;
/** What permessage-deflate strips from the end of each compressed message (RFC 7692 7.2.1), put back to inflate it. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SEQ = pattern('"seq":');
const CHANNEL = pattern('"channel":"');
const DATA_TS = pattern('"timestamp":');
const PONG = pattern('"type":"pong"');
const TYPE = pattern('"type":"');

/**
 * Every socket of this thread reads into this one buffer (net's `onread`): a read is handled synchronously, before the next,
 * and whatever must outlive it (a frame split across reads, the handshake) is copied out.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Reads an unsigned integer at `at` in `buf` (ASCII digits), up to `end`. */
function intAt(buf: Buffer, at: number, end: number): number {
  let n = 0;
  for (let i = at; i < end; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** First position of `p` in buf[from, end), or -1 (Horspool: the window's last byte tells how far it can move on). */
function find(buf: Buffer, p: Pattern, from: number, end: number): number {
  const { bytes, shift } = p;
  const m = bytes.length;
  const last = bytes[m - 1]!;
  for (let i = from + m - 1; i < end; i += shift[buf[i]!]!) {
    if (buf[i] !== last) continue;
    const at = i - m + 1;
    let j = m - 2;
    while (j >= 0 && buf[at + j] === bytes[j]) j--;
    if (j < 0) return at;
  }
  return -1;
}

/**
 * Channel names seen on this thread, by a hash of their bytes (open addressing, linear probing), names compared on a match so
 * that channels whose hashes collide stay apart. All clients of the thread share it, so it stays in cache and frames need no string.
 */
let channels: (Channel | undefined)[] = new Array<Channel | undefined>(256).fill(undefined);
let channelCount = 0;
/** Frame types seen on this thread ("price", "trade", …); a channel's `type` indexes it. */
const frameTypes: string[] = [];

/** The index in frameTypes of the frame type named in buf[start, end) (`"type":"…"`), added if new; '?' when there is none. */
function typeAt(buf: Buffer, start: number, end: number): number {
  const ty = find(buf, TYPE, start, end);
  let name = '?';
  if (ty >= 0) {
    const from = ty + TYPE.bytes.length;
    let to = from;
    while (to < end && buf[to] !== QUOTE) to++;
    name = buf.toString('latin1', from, to);
  }
  const at = frameTypes.indexOf(name);
  return at >= 0 ? at : frameTypes.push(name) - 1;
}

/** The channel named by buf[from, to), whose FNV-1a hash is `hash`. */
function channelAt(buf: Buffer, from: number, to: number, hash: number): Channel {
  const mask = channels.length - 1;
  let i = hash & mask;
  for (let ch = channels[i]; ch; ch = channels[(i = (i + 1) & mask)]) {
    if (ch.hash !== hash || ch.name.length !== to - from) continue;
    let j = 0;
    while (j < ch.name.length && ch.name.charCodeAt(j) === buf[from + j]) j++;
    if (j === ch.name.length) return ch;
  }
  const ch = { hash, name: buf.toString('latin1', from, to), id: channelCount++, type: -1 };
  channels[i] = ch;
  if (channelCount * 2 > channels.length) {
    const old = channels;
    channels = new Array<Channel | undefined>(old.length * 2).fill(undefined);
    for (const c of old) {
      if (!c) continue;
      let k = c.hash & (channels.length - 1);
      while (channels[k]) k = (k + 1) & (channels.length - 1);
      channels[k] = c;
    }
  }
  return ch;
}

/** Size (header and payload) of the frame at `off`, or -1 if its header is not all in buf[off, end). */
function frameSize(buf: Buffer, off: number, end: number): number {
  if (end - off < 2) return -1;
  const len = buf[off + 1]! & 0x7f;
  if (len < 126) return 2 + len;
  if (len === 126) return end - off < 4 ? -1 : 4 + buf.readUInt16BE(off + 2);
  return end - off < 10 ? -1 : 10 + buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
}

/**
 * Frames until the next latency sample: uniform over 1 … 2N − 1, a mean of N. A fixed "every Nth frame" aliases with
 * the feed's periodic order (every client gets the same frame types in the same order each round) and then samples
 * some types never.
 */
function nextGap(n: number): number {
  return n <= 1 ? 1 : 1 + Math.floor(Math.random() * (2 * n - 1));
}

export class LoadClient {
  private socket: Socket | undefined;
  /** The handshake response, until complete. */
  private handshake: Buffer = Buffer.alloc(0);
  private upgraded = false;
  /** The start of a frame split across reads: carry[0, carried). */
  private carry: Buffer = Buffer.alloc(0);
  private carried = 0;
  /** Frames until the next latency sample: a random gap, so that periodic frame patterns cannot alias the sampling. */
  private untilSample: number;
  private current: ClientCounters;
  /** The seq ranges in the counters, by channel id (channelAt). */
  private ranges: (SeqRange | undefined)[] = [];
  /** The frame sizes in the counters, by frame type index (frameTypes). */
  private sizes: (FrameSizes | undefined)[] = [];
  /** Resolves on the server's first frame ("connected"). */
  private ready: ((ms: number) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;
  private startedAt = 0;
  closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    counters: ClientCounters,
    /** Every Nth data frame is parsed for latency (event time to receipt); the rest are only counted. */
    private readonly sampleEvery: number,
    private readonly localAddress?: string,
    /** Offer permessage-deflate (without context takeover, so each frame inflates on its own). */
    private readonly deflate = false,
  ) {
    this.current = counters;
    this.untilSample = nextGap(sampleEvery);
  }

  get counters(): ClientCounters {
    return this.current;
  }

  /** Replaced by the worker when measurement starts. */
  set counters(counters: ClientCounters) {
    this.current = counters;
    this.ranges = [];
    this.sizes = [];
  }

  /** Connects and waits for the "connected" frame; resolves with the connect time in ms. */
  open(timeoutMs = 30_000): Promise<number> {
    this.startedAt = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.failed?.(new Error(`not connected within ${timeoutMs} ms`));
        this.socket?.destroy();
      }, timeoutMs);
      this.ready = (ms) => {
        clearTimeout(timer);
        resolve(ms);
      };
      this.failed = (err) => {
        clearTimeout(timer);
        this.ready = undefined;
        this.failed = undefined;
        reject(err);
      };
      const key = randomBytes(16).toString('base64');
      const socket = connect({
        host: this.host,
        port: this.port,
        localAddress: this.localAddress,
        onread: {
          buffer: READ_BUFFER,
          callback: (n) => {
            this.onRead(READ_BUFFER, n);
            return true;
          },
        },
      });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('connect', () => {
        const extensions = this.deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n' : '';
        socket.write(`GET /ws HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extensions}\r\n`);
      });
      socket.on('error', (err) => {
        this.current.errors++;
        this.failed?.(err);
      });
      socket.on('close', () => {
        this.closed = true;
        this.failed?.(new Error('closed before connected'));
      });
    });
  }

  /** Socket data in buf[0, end), valid during this call only. */
  private onRead(buf: Buffer, end: number): void {
    if (!this.upgraded) {
      const pending = Buffer.concat([this.handshake, buf.subarray(0, end)]);
      const at = pending.indexOf('\r\n\r\n');
      if (at < 0) {
        this.handshake = pending;
        return;
      }
      if (!pending.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
        this.current.errors++;
        this.failed?.(new Error(`upgrade refused: ${pending.subarray(0, 40).toString()}`));
        this.socket?.destroy();
        return;
      }
      this.upgraded = true;
      this.handshake = Buffer.alloc(0);
      buf = pending.subarray(at + 4);
      end = buf.length;
    }
    let off = 0;
    if (this.carried) {
      off = this.finishCarried(buf, end);
      if (off < 0) return;
    }
    for (;;) {
      const size = frameSize(buf, off, end);
      if (size < 0 || end - off < size) break;
      this.onFrame(buf, off, off + size);
      off += size;
    }
    if (off < end) this.append(buf, off, end);
  }

  /** Completes the carried frame from the head of buf[0, end) and handles it; returns where the next frame starts, or -1 if buf was all used. */
  private finishCarried(buf: Buffer, end: number): number {
    let off = 0;
    let size = frameSize(this.carry, 0, this.carried);
    if (size < 0) {
      // Even the header was split: top up with a header's worth (10 bytes at most), which may go past a short frame's end.
      off = Math.min(end, 10);
      this.append(buf, 0, off);
      size = frameSize(this.carry, 0, this.carried);
      if (size < 0) return -1;
      if (size <= this.carried) {
        off -= this.carried - size;
        this.carried = 0;
        this.onFrame(this.carry, 0, size);
        return off;
      }
    }
    const take = Math.min(size - this.carried, end - off);
    this.append(buf, off, off + take);
    off += take;
    if (this.carried < size) return -1;
    this.carried = 0;
    this.onFrame(this.carry, 0, size);
    return off;
  }

  /** Appends buf[from, to) to the carry, growing it if needed. */
  private append(buf: Buffer, from: number, to: number): void {
    const need = this.carried + to - from;
    if (need > this.carry.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, 2 * this.carry.length, 4096));
      this.carry.copy(bigger, 0, 0, this.carried);
      this.carry = bigger;
    }
    buf.copy(this.carry, this.carried, from, to);
    this.carried = need;
  }

  /** The frame in buf[off, end). */
  private onFrame(buf: Buffer, off: number, end: number): void {
    const opcode = buf[off]! & 0x0f;
    const len7 = buf[off + 1]! & 0x7f;
    const start = off + (len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
    if (opcode === 0x9) return this.sendFrame(0xa, buf.subarray(start, end));
    if (opcode === 0x8) {
      this.socket?.end();
      return;
    }
    if (opcode !== 0x1) return;
    // A compressed frame (RSV1): counted at its size on the wire, read inflated.
    if ((buf[off]! & 0x40) !== 0) {
      const plain = inflateRawSync(Buffer.concat([buf.subarray(start, end), DEFLATE_TAIL]), { finishFlush: zlib.Z_SYNC_FLUSH });
      return this.onText(plain, 0, plain.length, end - start);
    }
    this.onText(buf, start, end, end - start);
  }

  /** A text frame's payload in buf[start, end); `wireBytes` is its size as it came (compressed or not). */
  private onText(buf: Buffer, start: number, end: number, wireBytes: number): void {
    if (this.ready) {
      const done = this.ready;
      this.ready = undefined;
      this.failed = undefined;
      done(performance.now() - this.startedAt);
      return;
    }
    const counters = this.current;
    // The server writes "channel" before "seq" ({"type","channel","seq","data",…}): the channel is found first and the
    // seq searched from its end, so the bytes before it are passed once, not twice. Another order still works: the
    // seq is then looked for before the channel.
    const c = find(buf, CHANNEL, start, end);
    // The channel name, up to its closing quote, hashed (FNV-1a); a frame without one counts under channel "".
    const from = c < 0 ? end : c + CHANNEL.bytes.length;
    let q = from;
    let h = 0x811c9dc5;
    for (; q < end && buf[q] !== QUOTE; q++) h = Math.imul(h ^ buf[q]!, 0x01000193);
    let s = find(buf, SEQ, c < 0 ? start : q, end);
    if (s < 0 && c >= 0) s = find(buf, SEQ, start, c);
    if (s < 0) {
      if (find(buf, PONG, start, end) >= 0) counters.pongs++;
      return;
    }
    counters.frames++;
    counters.bytes += wireBytes;
    const seq = intAt(buf, s + SEQ.bytes.length, end);
    const channel = channelAt(buf, from, q, h & 0x3fffffff); // a small integer hash: cheaper to handle
    if (channel.type < 0) channel.type = typeAt(buf, start, end);
    const size = this.sizes[channel.type];
    if (size) {
      size.frames++;
      size.bytes += wireBytes;
    } else {
      const fresh = { frames: 1, bytes: wireBytes };
      this.sizes[channel.type] = fresh;
      counters.sizeByType[frameTypes[channel.type]!] = fresh;
    }
    const range = this.ranges[channel.id];
    if (!range) {
      const fresh = { first: seq, last: seq, count: 1, missing: 0, repeated: 0 };
      this.ranges[channel.id] = fresh;
      counters.seqs.set(channel.name, fresh);
    } else {
      if (seq > range.last) {
        range.missing += seq - range.last - 1;
        range.last = seq;
      } else range.repeated++;
      range.count++;
    }
    if (--this.untilSample === 0) {
      this.untilSample = nextGap(this.sampleEvery);
      // The data's own timestamp (the exchange's event time) is the first one in the frame.
      const t = find(buf, DATA_TS, start, end);
      const n = t + DATA_TS.bytes.length;
      if (t >= 0) {
        // Epoch ms (price frames) or an ISO string (the other kinds): both are the exchange's event time.
        const at = buf[n] === QUOTE ? Date.parse(buf.toString('latin1', n + 1, Math.min(end, n + 25))) : intAt(buf, n, end);
        if (Number.isFinite(at)) {
          const latency = Date.now() - at;
          counters.latencies.push(latency);
          (counters.latencyByType[frameTypes[channel.type]!] ??= []).push(latency);
        }
      }
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
