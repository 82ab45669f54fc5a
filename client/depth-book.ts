// A depthDelta channel's order book on the client: a whole `depth` frame sets it, `depthDelta` changes apply in seq order.
import type { DepthData, DepthDeltaData } from './channels.js';

/** [price, quantity] */
export type DepthLevel = [number, number];

/** What DepthBook.apply takes: a frame of a depthDelta channel as the server sends it (or its `data` with its seq and type). */
export interface DepthFrame {
  type: string;
  seq: number;
  data: DepthData | DepthDeltaData;
}

/**
 * The book a depthDelta:SYM[:N] channel describes. Its first frame (and the snapshot a subscription starts with) is a
 * whole `depth` frame; each later `depthDelta` frame names the levels that changed (quantity 0: the level is gone)
 * and is numbered one above the frame before it. With the SDK (which delivers each seq once, in order, and refills
 * gaps), hand every frame to `apply`; a raw client that sees `apply` return false lost a frame and resubscribes.
 */
export class DepthBook {
  private readonly bidMap = new Map<number, number>();
  private readonly askMap = new Map<number, number>();
  /** The seq of the last frame applied (undefined before the first whole frame). */
  seq: number | undefined;

  /**
   * Applies a frame. True when the book now holds that frame's state (or a change it already held, seq not above its
   * own); false for a change that does not follow the state held (a missed frame, or no whole frame yet): the book
   * is unchanged and only a whole frame (resubscribe) sets it again.
   */
  apply(frame: DepthFrame): boolean {
    if (frame.type === 'depth') {
      this.bidMap.clear();
      this.askMap.clear();
      for (const [p, q] of frame.data.bids) this.bidMap.set(p, q);
      for (const [p, q] of frame.data.asks) this.askMap.set(p, q);
      this.seq = frame.seq;
      return true;
    }
    if (frame.type !== 'depthDelta') return true;
    if (this.seq !== undefined && frame.seq <= this.seq) return true;
    if (this.seq === undefined || frame.seq !== this.seq + 1) return false;
    change(this.bidMap, frame.data.bids);
    change(this.askMap, frame.data.asks);
    this.seq = frame.seq;
    return true;
  }

  /** Bids, best (highest) first. */
  get bids(): DepthLevel[] {
    return [...this.bidMap].sort((a, b) => b[0] - a[0]);
  }

  /** Asks, best (lowest) first. */
  get asks(): DepthLevel[] {
    return [...this.askMap].sort((a, b) => a[0] - b[0]);
  }
}

function change(side: Map<number, number>, levels: ReadonlyArray<readonly [number, number]>): void {
  for (const [p, q] of levels) {
    if (q === 0) side.delete(p);
    else side.set(p, q);
  }
}
