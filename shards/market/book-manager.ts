// The shard's local order books: one BookSync per symbol, snapshots fetched and paced, sync state reported.
import type { Logger } from '../../core/logger.js';
import { BookSync, type DepthDiff, type DepthSnapshot } from './order-book.js';

export interface BookManagerDeps {
  /** REST depth snapshot of the symbol. */
  snapshot(symbol: string): Promise<DepthSnapshot>;
  /** A synchronised book changed: publish its top levels (only asked while someone listens). */
  updated(symbol: string, sync: BookSync, eventTime: number): void;
  /** The symbol's book became usable (true) or was thrown away and is being rebuilt (false). */
  syncState(symbol: string, live: boolean): void;
  log: Logger;
}

interface Entry {
  sync: BookSync;
  /** Bumped on every restart: a snapshot requested before it is not used after it. */
  gen: number;
  fetching: boolean;
  queued: boolean;
  lastFetchAt: number;
  retry: NodeJS.Timeout | undefined;
  /** Whether subscribers were told the book is stale (only after it had been live, or after a reconnect). */
  stale: boolean;
  /** Event time of the last diff applied (or of the snapshot that made the book live). */
  eventTime: number;
}

/** Snapshots cost exchange weight: at most one per symbol per this many milliseconds. */
const MIN_SNAPSHOT_INTERVAL_MS = 1000;

export class BookManager {
  private readonly books = new Map<string, Entry>();
  /** Symbols waiting for a snapshot: fetched one at a time, so many books resyncing never burst the exchange's limit. */
  private readonly queue: string[] = [];
  private inFlight = false;
  private pausedUntil = 0;
  private queueTimer: NodeJS.Timeout | undefined;
  /** Books thrown away since the shard started (a gap, a crossed book, a reconnect): each is rebuilt from a snapshot. */
  resyncs = 0;

  constructor(private readonly deps: BookManagerDeps) {}

  private entry(symbol: string): Entry {
    let e = this.books.get(symbol);
    if (!e) {
      e = { sync: new BookSync(), gen: 0, fetching: false, queued: false, lastFetchAt: 0, retry: undefined, stale: false, eventTime: 0 };
      this.books.set(symbol, e);
    }
    return e;
  }

  onDiff(symbol: string, diff: DepthDiff, eventTime: number): void {
    const e = this.entry(symbol);
    const r = e.sync.onDiff(diff);
    if (!r) return;
    switch (r.kind) {
      case 'need-snapshot':
        this.fetch(symbol, e);
        return;
      case 'updated':
        e.eventTime = eventTime;
        this.deps.updated(symbol, e.sync, eventTime);
        return;
      case 'resync':
        this.resyncs++;
        this.deps.log.warn({ symbol, reason: r.reason }, 'order book thrown away: resynchronising from a new snapshot');
        this.setStale(symbol, e, true);
        this.fetch(symbol, e);
        return;
      case 'live':
        return;
    }
  }

  /** The diff stream lost continuity (reconnect): the book must be rebuilt before it is used again. */
  onStreamDown(symbol: string): void {
    const e = this.books.get(symbol);
    if (!e) return;
    e.sync.restart();
    e.gen++;
    this.resyncs++;
    this.setStale(symbol, e, true);
  }

  /** The symbol's book while it is in sync, with the event time of its last update; undefined otherwise. */
  current(symbol: string): { sync: BookSync; eventTime: number } | undefined {
    const e = this.books.get(symbol);
    return e?.sync.live ? { sync: e.sync, eventTime: e.eventTime } : undefined;
  }

  drop(symbol: string): void {
    const e = this.books.get(symbol);
    if (!e) return;
    if (e.retry) clearTimeout(e.retry);
    e.gen++;
    this.books.delete(symbol);
  }


  private setStale(symbol: string, e: Entry, stale: boolean): void {
    if (e.stale === stale) return;
    e.stale = stale;
    this.deps.syncState(symbol, !stale);
  }

  private fetch(symbol: string, e: Entry): void {
    if (e.fetching || e.queued || e.retry || e.sync.live) return;
    const wait = e.lastFetchAt + MIN_SNAPSHOT_INTERVAL_MS - Date.now();
    if (wait > 0) {
      e.retry = setTimeout(() => {
        e.retry = undefined;
        if (this.books.get(symbol) === e) this.fetch(symbol, e);
      }, wait);
      return;
    }
    e.queued = true;
    this.queue.push(symbol);
    this.pump();
  }

  /** Takes the next queued symbol's snapshot, unless one is in flight or the exchange asked to wait. */
  private pump(): void {
    if (this.inFlight || this.queueTimer) return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      this.queueTimer = setTimeout(() => {
        this.queueTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    const symbol = this.queue.shift();
    if (symbol === undefined) return;
    const e = this.books.get(symbol);
    if (!e) return this.pump();
    e.queued = false;
    if (e.sync.live) return this.pump();
    const gen = e.gen;
    e.fetching = true;
    e.lastFetchAt = Date.now();
    this.inFlight = true;
    const done = () => {
      e.fetching = false;
      this.inFlight = false;
      this.pump();
    };
    this.deps.snapshot(symbol).then(
      (snap) => {
        // Dropped, or restarted (reconnect) since the request: this snapshot belongs to a book that is gone.
        if (this.books.get(symbol) !== e || e.gen !== gen) return done();
        const r = e.sync.onSnapshot(snap);
        if (r.kind === 'live') {
          e.eventTime = Date.now();
          this.setStale(symbol, e, false);
          this.deps.updated(symbol, e.sync, e.eventTime);
        } else if (r.kind === 'resync') {
          this.deps.log.warn({ symbol, reason: r.reason }, 'snapshot does not fit the buffered events: fetching another');
        }
        done();
        if (!e.sync.live) this.fetch(symbol, e);
      },
      (err: unknown) => {
        const retryAfter = (err as { retryAfterMs?: number }).retryAfterMs;
        if (retryAfter) this.pausedUntil = Date.now() + retryAfter;
        this.deps.log.warn({ symbol, err: err instanceof Error ? err.message : String(err), retryAfterMs: retryAfter }, 'order book snapshot not taken: retrying');
        done();
        if (this.books.get(symbol) === e) this.fetch(symbol, e);
      },
    );
  }

  close(): void {
    for (const e of this.books.values()) if (e.retry) clearTimeout(e.retry);
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.queue.length = 0;
    this.books.clear();
  }
}
