// Recent data frames per channel, bounded by count, age and total bytes: what a reconnecting client missed (`since`).

export interface HistoryLimits {
  /** Frames kept per channel. */
  maxFrames: number;
  /** A frame older than this is dropped. */
  maxAgeMs: number;
  /**
   * Memory of all channels' kept frames together (their bytes, plus ENTRY_BYTES each for the objects and the index
   * that hold them); past it the oldest frames (of any channel) go first.
   */
  maxBytes: number;
}

/** What keeping one frame costs besides its bytes: its Uint8Array object and its slots in the ring and the index. */
export const ENTRY_BYTES = 96;

/** One channel's frames: consecutive `seq`s from `firstSeq`, oldest at `head` (the array is compacted now and then). */
interface Ring {
  frames: Uint8Array[];
  head: number;
  firstSeq: number;
  bytes: number;
}

/** Why a `since` cannot be served from the history. */
export type Unrecoverable = 'ahead' | 'expired' | 'closed';

export class ChannelHistory {
  private readonly rings = new Map<string, Ring>();
  /**
   * Every kept frame in the order it came (so oldest first, whatever its channel): age and the byte cap evict from
   * here. An entry whose frame its ring already dropped (count cap, a reset) is skipped. Parallel arrays, compacted.
   */
  private fifoRing: Ring[] = [];
  private fifoSeq: number[] = [];
  private fifoAt: number[] = [];
  private fifoChannel: string[] = [];
  private fifoHead = 0;
  private total = 0;
  private frameCount = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly limits: HistoryLimits, private readonly now: () => number = Date.now) {
    // Channels that went quiet (or closed) still let go of their frames once they are old.
    this.timer = setInterval(() => this.evict(this.now()), Math.min(1000, limits.maxAgeMs)).unref();
  }

  /**
   * Keeps a channel's data frame. Frames of a ring are consecutive: a frame that does not follow the last one (the
   * channel was closed and numbering jumped, e.g. in a cluster) starts the ring over, so a range served is never holed.
   */
  record(channel: string, seq: number, bytes: Uint8Array): void {
    let ring = this.rings.get(channel);
    if (!ring) this.rings.set(channel, (ring = { frames: [], head: 0, firstSeq: seq, bytes: 0 }));
    else {
      const held = ring.frames.length - ring.head;
      if (held === 0 || ring.firstSeq + held !== seq) this.clear(ring, seq);
    }
    ring.frames.push(bytes);
    ring.bytes += bytes.byteLength;
    this.total += bytes.byteLength + ENTRY_BYTES;
    this.frameCount++;
    const now = this.now();
    this.fifoRing.push(ring);
    this.fifoSeq.push(seq);
    this.fifoAt.push(now);
    this.fifoChannel.push(channel);
    if (ring.frames.length - ring.head > this.limits.maxFrames) this.dropOldest(ring);
    if (this.total > this.limits.maxBytes || now - this.fifoAt[this.fifoHead]! > this.limits.maxAgeMs) this.evict(now);
  }

  /**
   * The frames after `after`, oldest first, when the history holds every one of them up to `last` (the channel's
   * latest seq); why not otherwise. `after === last`: nothing was missed, an empty list.
   */
  since(channel: string, after: number, last: number): Uint8Array[] | Unrecoverable {
    if (after > last) return 'ahead';
    if (after === last) return [];
    const ring = this.rings.get(channel);
    if (!ring) return 'expired';
    const held = ring.frames.length - ring.head;
    if (held === 0 || ring.firstSeq > after + 1 || ring.firstSeq + held - 1 !== last) return 'expired';
    return ring.frames.slice(ring.head + (after + 1 - ring.firstSeq));
  }

  /** What is kept now (stats and metrics). */
  stats(): { channels: number; frames: number; bytes: number } {
    return { channels: this.rings.size, frames: this.frameCount, bytes: this.total };
  }

  close(): void {
    clearInterval(this.timer);
    this.frameCount = 0;
    this.rings.clear();
    this.fifoRing = [];
    this.fifoSeq = [];
    this.fifoAt = [];
    this.fifoChannel = [];
    this.fifoHead = 0;
    this.total = 0;
    this.frameCount = 0;
  }

  private clear(ring: Ring, firstSeq: number): void {
    this.total -= ring.bytes;
    this.frameCount -= ring.frames.length - ring.head;
    ring.frames = [];
    ring.head = 0;
    ring.bytes = 0;
    ring.firstSeq = firstSeq;
  }

  private dropOldest(ring: Ring): void {
    const frame = ring.frames[ring.head]!;
    ring.frames[ring.head] = EMPTY;
    ring.head++;
    ring.firstSeq++;
    ring.bytes -= frame.byteLength;
    this.total -= frame.byteLength;
    this.frameCount--;
    // Compacted once the dropped part is half the array: amortised O(1), and the array never grows past twice the cap.
    if (ring.head >= 32 && ring.head * 2 >= ring.frames.length) {
      ring.frames = ring.frames.slice(ring.head);
      ring.head = 0;
    }
  }

  /** Drops the oldest frames while any is too old or the total is over the cap; forgets rings left empty. */
  private evict(now: number): void {
    const { maxAgeMs, maxBytes } = this.limits;
    let i = this.fifoHead;
    const n = this.fifoRing.length;
    while (i < n && (this.total > maxBytes || now - this.fifoAt[i]! > maxAgeMs)) {
      // The index entry goes whether or not its frame is still kept (the count cap may have dropped it already).
      this.total -= ENTRY_BYTES;
      const ring = this.fifoRing[i]!;
      const channel = this.fifoChannel[i]!;
      // Still the ring's oldest frame: drop it (else the count cap or a reset dropped it already).
      if (this.rings.get(channel) === ring && ring.frames.length > ring.head && this.fifoSeq[i] === ring.firstSeq) {
        this.dropOldest(ring);
        if (ring.frames.length === ring.head) this.rings.delete(channel);
      }
      i++;
    }
    this.fifoHead = i;
    if (i >= 1024 && i * 2 >= n) {
      this.fifoRing = this.fifoRing.slice(i);
      this.fifoSeq = this.fifoSeq.slice(i);
      this.fifoAt = this.fifoAt.slice(i);
      this.fifoChannel = this.fifoChannel.slice(i);
      this.fifoHead = 0;
    } else if (i === n && n > 0) {
      this.fifoRing = [];
      this.fifoSeq = [];
      this.fifoAt = [];
      this.fifoChannel = [];
      this.fifoHead = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
