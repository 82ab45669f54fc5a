// Collects a shard's serialised frames and ships them as one transferred buffer, one batch at a time: the next batch
// goes out only once the acceptor has taken in the previous one.
import type { FrameBatch, FrameKind } from '../core/bus.js';

/**
 * Slots of the credit array the acceptor and a shard share (an Int32Array over a SharedArrayBuffer): how many batches
 * the acceptor has taken in, and whether the shard is waiting to be told of the next one.
 */
export const CREDIT = { TAKEN: 0, WAITING: 1 } as const;

export class FrameBatcher {
  private channels: string[] = [];
  private kinds: number[] = [];
  private seqs: number[] = [];
  private texts: string[] = [];
  private scheduled = false;
  /** Batches posted since start; the acceptor counts those it took in (credit[TAKEN]). */
  private batches = 0;
  /** Since when the frames gathered now have been waiting for the acceptor; 0 while it keeps up. */
  private heldSince = 0;
  /** Latest values waiting while held, by channel: each is numbered and serialised only when the batch goes out. */
  private readonly latest = new Map<string, () => void>();
  /** Frames sent since start, for stats and tests. */
  sent = 0;

  constructor(
    private readonly shard: number,
    private readonly send: (batch: FrameBatch, transfer: ArrayBuffer[]) => void,
    /** Shared with the acceptor; without it (a test's batcher) every batch goes out at once. */
    private readonly credit?: Int32Array,
  ) {}

  /**
   * Whether the acceptor has not yet taken in the last batch, so what is pushed now waits for it. A channel whose
   * every frame is its whole state then offers its value with `offerLatest` instead of pushing a frame.
   */
  get held(): boolean {
    return this.heldSince !== 0;
  }

  /** How long the frames gathered now have waited for the acceptor, in ms (0 while it keeps up). */
  heldMs(now = Date.now()): number {
    return this.heldSince === 0 ? 0 : now - this.heldSince;
  }

  push(channel: string, kind: FrameKind, text: string, seq = 0): void {
    // A channel's frames keep their order: its waiting latest value goes first.
    if (this.latest.size !== 0) this.release(channel);
    this.channels.push(channel);
    this.kinds.push(kind);
    this.seqs.push(seq);
    this.texts.push(text);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * While held: `make` pushes the channel's latest value when the batch goes out. A newer offer replaces it (returns
   * true: a value was replaced, never sent); a frame pushed on the channel meanwhile makes it first.
   */
  offerLatest(channel: string, make: () => void): boolean {
    const replaced = this.latest.has(channel);
    this.latest.set(channel, make);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return replaced;
  }

  private release(channel: string): void {
    const make = this.latest.get(channel);
    if (!make) return;
    this.latest.delete(channel);
    make();
  }

  /** The acceptor took in a batch while this shard waited: send what gathered meanwhile. */
  readonly resume = (): void => {
    if (this.heldSince === 0) return;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  };

  /** Whether the acceptor has taken in every batch sent; if not, asks to be told (resume) when it has. */
  private mayPost(): boolean {
    const credit = this.credit;
    if (!credit || Atomics.load(credit, CREDIT.TAKEN) >= this.batches) return true;
    Atomics.store(credit, CREDIT.WAITING, 1);
    // It may have taken the batch in between the two reads: then nobody would tell us.
    if (Atomics.load(credit, CREDIT.TAKEN) < this.batches) return false;
    Atomics.store(credit, CREDIT.WAITING, 0);
    return true;
  }

  readonly flush = (force = false): void => {
    this.scheduled = false;
    if (this.texts.length === 0 && this.latest.size === 0) return;
    if (force !== true && !this.mayPost()) {
      if (this.heldSince === 0) this.heldSince = Date.now();
      return;
    }
    this.heldSince = 0;
    if (this.latest.size !== 0) {
      const makes = [...this.latest.values()];
      this.latest.clear();
      // What they push goes into this batch, not a next one.
      this.scheduled = true;
      for (const make of makes) make();
      this.scheduled = false;
    }
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
    this.batches++;
    this.send(batch, [batch.buf, ends.buffer as ArrayBuffer, kinds.buffer as ArrayBuffer, seqs.buffer as ArrayBuffer]);
  };
}
