// Collects a shard's serialised frames and ships them as one transferred buffer, one batch at a time: the next batch
// goes out only once the acceptor has taken in the previous one.
import type { FrameBatch, FrameKind } from '../core/bus.js';

/**
 * Slots of the credit array the acceptor and a shard share (an Int32Array over a SharedArrayBuffer): how many batches
 * the acceptor has taken in, and whether the shard is waiting to be told of the next one.
 */
export const CREDIT = { TAKEN: 0, WAITING: 1 } as const;

/**
 * Frames a batch carries at most: what gathered beyond waits for the next credit, so the acceptor's turns stay short
 * even when frames that cannot be conflated (trades, events) come faster than it sends them.
 */
export const MAX_BATCH_FRAMES = 4096;

export class FrameBatcher {
  private channels: string[] = [];
  private kinds: number[] = [];
  private seqs: number[] = [];
  private texts: string[] = [];
  private scheduled = false;
  /** Batches posted since start, as an int32 that wraps as the acceptor's count (credit[TAKEN]) does. */
  private batches = 0;
  /** Whether the last flush found the acceptor busy with the batch before (and asked to be told). */
  private waitingForCredit = false;
  /**
   * When (performance.now()) the oldest frame or value not yet sent was gathered; 0 when nothing waits. Kept across a
   * batch split by MAX_BATCH_FRAMES: what stays behind is at least that old.
   */
  private oldestAt = 0;
  /** The longest wait since `takeMaxHeldMs` was last called. */
  private maxHeldMs = 0;
  /** Latest values waiting while conflating, by channel: each is numbered and serialised only when its batch goes out. */
  private readonly latest = new Map<string, () => void>();
  /** Frames sent since start, for stats and tests. */
  sent = 0;

  constructor(
    private readonly shard: number,
    private readonly send: (batch: FrameBatch, transfer: ArrayBuffer[]) => void,
    /** Shared with the acceptor; without it (a test's batcher) every batch goes out at once. */
    private readonly credit?: Int32Array,
    /** limits.conflateAfterMs. */
    private readonly conflateAfterMs = 0,
  ) {}

  /** Whether the acceptor has not yet taken in the last batch, so what is pushed now waits for it. */
  get held(): boolean {
    return this.waitingForCredit;
  }

  /**
   * Whether the acceptor is behind: frames wait for it and the oldest has waited `conflateAfterMs` or more, or more
   * than a batch waits. A channel whose every frame is its whole state then offers its value with `offerLatest`
   * instead of pushing a frame.
   */
  get conflating(): boolean {
    if (this.texts.length >= MAX_BATCH_FRAMES) return true;
    return this.waitingForCredit && performance.now() - this.oldestAt >= this.conflateAfterMs;
  }

  /** The longest time frames waited for the acceptor since takeMaxHeldMs was last called (the current wait included), in ms. */
  peekMaxHeldMs(): number {
    return Math.max(this.maxHeldMs, this.oldestAt === 0 ? 0 : performance.now() - this.oldestAt);
  }

  /** As peekMaxHeldMs, and starts a new window. */
  takeMaxHeldMs(): number {
    const max = this.peekMaxHeldMs();
    this.maxHeldMs = 0;
    return max;
  }

  push(channel: string, kind: FrameKind, text: string, seq = 0): void {
    // A channel's frames keep their order: its waiting latest value goes first.
    if (this.latest.size !== 0) this.release(channel);
    if (this.oldestAt === 0) this.oldestAt = performance.now();
    this.channels.push(channel);
    this.kinds.push(kind);
    this.seqs.push(seq);
    this.texts.push(text);
    this.schedule();
  }

  /**
   * While conflating: `make` pushes the channel's latest value when the batch goes out. A newer offer replaces it
   * (returns true: a value was replaced, never sent); a frame pushed on the channel meanwhile makes it first. `make`
   * must not throw (it runs when the batch goes out, for whoever pushed).
   */
  offerLatest(channel: string, make: () => void): boolean {
    const replaced = this.latest.has(channel);
    this.latest.set(channel, make);
    if (this.oldestAt === 0) this.oldestAt = performance.now();
    this.schedule();
    return replaced;
  }

  /** Forgets a channel's waiting value (the channel closed: nobody is left to send it to). */
  drop(channel: string): void {
    this.latest.delete(channel);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private release(channel: string): void {
    const make = this.latest.get(channel);
    if (!make) return;
    this.latest.delete(channel);
    make();
  }

  /** Sends everything gathered now, whatever the credit, in as many batches as it takes (the shard stops). */
  flushAll(): void {
    while (this.texts.length !== 0 || this.latest.size !== 0) this.flush(true);
  }

  /** The acceptor took in a batch while this shard waited: send what gathered meanwhile. */
  readonly resume = (): void => {
    if (this.waitingForCredit) this.schedule();
  };

  /** Whether the acceptor has taken in every batch sent; if not, asks to be told (resume) when it has. */
  private mayPost(): boolean {
    const credit = this.credit;
    // Differences of int32 counters, so that both wrapping at 2^31 changes nothing.
    if (!credit || ((this.batches - Atomics.load(credit, CREDIT.TAKEN)) | 0) <= 0) return true;
    Atomics.store(credit, CREDIT.WAITING, 1);
    // It may have taken the batch in between the two reads: then nobody would tell us.
    if (((this.batches - Atomics.load(credit, CREDIT.TAKEN)) | 0) > 0) return false;
    Atomics.store(credit, CREDIT.WAITING, 0);
    return true;
  }

  readonly flush = (force = false): void => {
    this.scheduled = false;
    if (this.texts.length === 0 && this.latest.size === 0) return;
    if (force !== true && !this.mayPost()) {
      this.waitingForCredit = true;
      return;
    }
    this.waitingForCredit = false;
    this.maxHeldMs = Math.max(this.maxHeldMs, performance.now() - this.oldestAt);
    if (this.latest.size !== 0) {
      const makes = [...this.latest.values()];
      this.latest.clear();
      // What they push goes into this batch, not a next one.
      this.scheduled = true;
      try {
        for (const make of makes) make();
      } finally {
        this.scheduled = false;
      }
    }
    const all = this.texts.length;
    if (all === 0) {
      this.oldestAt = 0;
      return;
    }
    const n = Math.min(all, MAX_BATCH_FRAMES);
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
    const kinds = Uint8Array.from(n === all ? this.kinds : this.kinds.slice(0, n));
    const seqs = Float64Array.from(n === all ? this.seqs : this.seqs.slice(0, n));
    const channels = n === all ? this.channels : this.channels.slice(0, n);
    const batch: FrameBatch = { t: 'frames', shard: this.shard, channels, kinds, seqs, ends, buf: bytes.buffer as ArrayBuffer };
    if (n === all) {
      this.channels = [];
      this.kinds = [];
      this.seqs = [];
      this.texts = [];
      this.oldestAt = 0;
    } else {
      // The rest goes with the next credit: held from now on.
      this.channels = this.channels.slice(n);
      this.kinds = this.kinds.slice(n);
      this.seqs = this.seqs.slice(n);
      this.texts = this.texts.slice(n);
      this.schedule();
    }
    this.sent += n;
    this.batches = (this.batches + 1) | 0;
    this.send(batch, [batch.buf, ends.buffer as ArrayBuffer, kinds.buffer as ArrayBuffer, seqs.buffer as ArrayBuffer]);
  };
}
