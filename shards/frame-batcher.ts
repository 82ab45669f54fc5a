// Collects a shard's serialised frames during one event-loop turn and ships them as one transferred buffer.
import type { FrameBatch, FrameKind } from '../core/bus.js';

export class FrameBatcher {
  private channels: string[] = [];
  private kinds: number[] = [];
  private seqs: number[] = [];
  private texts: string[] = [];
  private scheduled = false;
  /** Frames sent since start, for stats and tests. */
  sent = 0;

  constructor(
    private readonly shard: number,
    private readonly send: (batch: FrameBatch, transfer: ArrayBuffer[]) => void,
  ) {}

  push(channel: string, kind: FrameKind, text: string, seq = 0): void {
    this.channels.push(channel);
    this.kinds.push(kind);
    this.seqs.push(seq);
    this.texts.push(text);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    const n = this.texts.length;
    if (n === 0) return;
    const ends = new Uint32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      total += Buffer.byteLength(this.texts[i]!, 'utf8');
      ends[i] = total;
    }
    // Not from Buffer's shared pool: the whole ArrayBuffer is transferred to the acceptor thread.
    const bytes = Buffer.allocUnsafeSlow(total);
    let offset = 0;
    for (let i = 0; i < n; i++) offset += bytes.write(this.texts[i]!, offset, 'utf8');
    const kinds = Uint8Array.from(this.kinds);
    const seqs = Float64Array.from(this.seqs);
    const batch: FrameBatch = { t: 'frames', shard: this.shard, channels: this.channels, kinds, seqs, ends, buf: bytes.buffer as ArrayBuffer };
    this.channels = [];
    this.kinds = [];
    this.seqs = [];
    this.texts = [];
    this.sent += n;
    this.send(batch, [batch.buf, ends.buffer as ArrayBuffer, kinds.buffer as ArrayBuffer, seqs.buffer as ArrayBuffer]);
  };
}
