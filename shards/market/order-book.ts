// A local order book kept in sync with Binance's diff-depth stream by the documented snapshot + sequence procedure.

/** One diff-depth event (`depthUpdate`), prices and quantities as the exchange sent them. */
export interface DepthDiff {
  /** First update id in the event. */
  U: number;
  /** Final update id in the event. */
  u: number;
  bids: Array<[string, string]>;
  asks: Array<[string, string]>;
}

/** A REST depth snapshot. */
export interface DepthSnapshot {
  lastUpdateId: number;
  bids: Array<[string, string]>;
  asks: Array<[string, string]>;
}

/**
 * One side of the book: prices sorted best first with their quantities beside them. Two arrays and a binary search
 * rather than a map: the top levels, built on every diff, are then a walk down both arrays with no lookups.
 */
class BookSide {
  /** Sorted best first: descending for bids, ascending for asks. */
  private readonly prices: number[] = [];
  /** The quantity at prices[i]. */
  private readonly qtys: number[] = [];

  constructor(private readonly descending: boolean) {}

  /** Index where `price` is or would be inserted, best first. */
  private indexOf(price: number): number {
    const prices = this.prices;
    let lo = 0;
    let hi = prices.length;
    if (this.descending) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (prices[mid]! > price) lo = mid + 1;
        else hi = mid;
      }
    } else {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (prices[mid]! < price) lo = mid + 1;
        else hi = mid;
      }
    }
    return lo;
  }

  /** Sets a level to an absolute quantity; 0 removes it (removing an absent level is normal). */
  set(price: number, qty: number): void {
    const i = this.indexOf(price);
    const found = i < this.prices.length && this.prices[i] === price;
    if (qty === 0) {
      if (!found) return;
      this.prices.splice(i, 1);
      this.qtys.splice(i, 1);
    } else if (found) this.qtys[i] = qty;
    else {
      this.prices.splice(i, 0, price);
      this.qtys.splice(i, 0, qty);
    }
  }

  clear(): void {
    this.prices.length = 0;
    this.qtys.length = 0;
  }

  top(n: number): Array<[number, number]> {
    const m = Math.min(n, this.prices.length);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < m; i++) out.push([this.prices[i]!, this.qtys[i]!]);
    return out;
  }

  get best(): number | undefined {
    return this.prices[0];
  }

  get size(): number {
    return this.prices.length;
  }
}

export class BookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BookError';
  }
}

/** A level as numbers; throws for what no book may hold (a price at or below 0, a negative quantity, not a number). */
function checked(raw: [string, string], p: number, q: number): void {
  if (!Number.isFinite(p) || !Number.isFinite(q) || q < 0 || p <= 0) throw new BookError(`invalid level ${JSON.stringify(raw)}`);
}

function level(raw: [string, string]): [number, number] {
  const p = Number(raw[0]);
  const q = Number(raw[1]);
  checked(raw, p, q);
  return [p, q];
}

/** Parses a level into out[at] (price) and out[at + 1] (quantity), refusing what `level` refuses. */
function parseLevel(raw: [string, string], out: Float64Array, at: number): void {
  const p = Number(raw[0]);
  const q = Number(raw[1]);
  checked(raw, p, q);
  out[at] = p;
  out[at + 1] = q;
}

export type ApplyResult = 'applied' | 'stale-event' | 'gap';

/** The book itself: levels and the id of the last update applied. */
export class OrderBook {
  readonly bids = new BookSide(true);
  readonly asks = new BookSide(false);
  lastUpdateId = 0;
  /** A diff's levels as numbers, price then quantity, reused from one diff to the next. */
  private parsed = new Float64Array(512);

  load(snapshot: DepthSnapshot): void {
    this.bids.clear();
    this.asks.clear();
    for (const l of snapshot.bids) this.bids.set(...level(l));
    for (const l of snapshot.asks) this.asks.set(...level(l));
    this.lastUpdateId = snapshot.lastUpdateId;
  }

  /**
   * Applies one diff after the first: an event that ends at or before the book is ignored, one that starts after
   * the next expected id means updates were missed and nothing is applied.
   */
  apply(diff: DepthDiff): ApplyResult {
    if (diff.u <= this.lastUpdateId) return 'stale-event';
    if (diff.U > this.lastUpdateId + 1) return 'gap';
    // Parse every level first, into numbers kept between diffs: a malformed event changes nothing.
    const { bids, asks } = diff;
    if (!Array.isArray(bids) || !Array.isArray(asks)) throw new BookError('bids and asks must be lists of levels');
    const nb = bids.length;
    const n = nb + asks.length;
    if (this.parsed.length < 2 * n) this.parsed = new Float64Array(Math.max(2 * n, 2 * this.parsed.length));
    const v = this.parsed;
    for (let i = 0; i < nb; i++) parseLevel(bids[i]!, v, 2 * i);
    for (let i = nb; i < n; i++) parseLevel(asks[i - nb]!, v, 2 * i);
    for (let i = 0; i < nb; i++) this.bids.set(v[2 * i]!, v[2 * i + 1]!);
    for (let i = nb; i < n; i++) this.asks.set(v[2 * i]!, v[2 * i + 1]!);
    this.lastUpdateId = diff.u;
    return 'applied';
  }

  top(n: number): { bids: Array<[number, number]>; asks: Array<[number, number]> } {
    return { bids: this.bids.top(n), asks: this.asks.top(n) };
  }

  /** A crossed book (best bid at or above best ask) is never valid data. */
  get crossed(): boolean {
    const b = this.bids.best;
    const a = this.asks.best;
    return b !== undefined && a !== undefined && b >= a;
  }
}

export type SyncEvent =
  | { kind: 'need-snapshot' }
  | { kind: 'live' }
  | { kind: 'updated' }
  | { kind: 'resync'; reason: string };

/**
 * Binance's procedure for a local book: buffer diffs, take a snapshot, drop buffered events at or below its
 * lastUpdateId, check that the first remaining one brackets it, then require each event to follow the previous one.
 * Any gap, crossing or malformed event throws the book away: the owner marks subscribers stale and resyncs.
 */
export class BookSync {
  readonly book = new OrderBook();
  private buffer: DepthDiff[] = [];
  private synced = false;
  private firstBufferedU: number | undefined;
  /** Buffered events beyond this mean the snapshot is not coming: the buffer is cut to the newest ones. */
  private readonly maxBuffer: number;

  constructor(opts: { maxBuffer?: number } = {}) {
    this.maxBuffer = opts.maxBuffer ?? 5000;
  }

  get live(): boolean {
    return this.synced;
  }

  /** Feeds one diff event; returns what the owner must do. */
  onDiff(diff: DepthDiff): SyncEvent | undefined {
    if (!this.synced) {
      if (this.firstBufferedU === undefined) this.firstBufferedU = diff.U;
      this.buffer.push(diff);
      if (this.buffer.length > this.maxBuffer) this.buffer.splice(0, this.buffer.length - this.maxBuffer);
      return this.buffer.length === 1 ? { kind: 'need-snapshot' } : undefined;
    }
    let result: ApplyResult;
    try {
      result = this.book.apply(diff);
    } catch (err) {
      return this.reset(`malformed event: ${(err as Error).message}`, undefined);
    }
    if (result === 'stale-event') return undefined;
    if (result === 'gap') return this.reset(`sequence gap: expected ${this.book.lastUpdateId + 1}, got U=${diff.U}`, diff);
    if (this.book.crossed) return this.reset('book crossed after an update', undefined);
    return { kind: 'updated' };
  }

  /**
   * Offers a REST snapshot. Returns `live` when the book is synchronised, `need-snapshot` when this snapshot is too
   * old for the buffered events (fetch another), or `resync` when the events do not bracket it.
   */
  onSnapshot(snapshot: DepthSnapshot): SyncEvent {
    if (this.synced) return { kind: 'live' };
    if (this.firstBufferedU !== undefined && snapshot.lastUpdateId < this.firstBufferedU - 1) {
      // Older than the first event we hold: events in between are unknown. Binance: fetch the snapshot again.
      return { kind: 'need-snapshot' };
    }
    try {
      this.book.load(snapshot);
    } catch (err) {
      return this.reset(`malformed snapshot: ${(err as Error).message}`, undefined);
    }
    const pending = this.buffer.filter((d) => d.u > snapshot.lastUpdateId);
    this.buffer = [];
    const first = pending[0];
    if (first && !(first.U <= snapshot.lastUpdateId + 1 && snapshot.lastUpdateId + 1 <= first.u)) {
      return this.reset(`first event ${first.U}..${first.u} does not bracket snapshot ${snapshot.lastUpdateId}`, undefined);
    }
    for (const d of pending) {
      let r: ApplyResult;
      try {
        r = this.book.apply(d);
      } catch (err) {
        return this.reset(`malformed event: ${(err as Error).message}`, undefined);
      }
      if (r === 'gap') return this.reset(`sequence gap in buffered events at U=${d.U}`, undefined);
    }
    if (this.book.crossed) return this.reset('snapshot plus events give a crossed book', undefined);
    this.synced = true;
    this.firstBufferedU = undefined;
    return { kind: 'live' };
  }

  /** Throws the book away; the event that revealed the problem (if any) starts the new buffer. */
  private reset(reason: string, keep: DepthDiff | undefined): SyncEvent {
    this.synced = false;
    this.buffer = keep ? [keep] : [];
    this.firstBufferedU = keep?.U;
    this.book.load({ lastUpdateId: 0, bids: [], asks: [] });
    return { kind: 'resync', reason };
  }

  /** After an upstream reconnect continuity is lost: start over from step 1. */
  restart(): void {
    this.synced = false;
    this.buffer = [];
    this.firstBufferedU = undefined;
  }
}
