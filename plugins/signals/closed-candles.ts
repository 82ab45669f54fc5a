// The last closed candles of a (symbol, interval), kept between requests: closed candles never change, so history and
// latest-signal requests within one candle period cost the exchange nothing, and later ones only the newest page.
import type { KlineEvent } from '../../shards/shard-api.js';
import { intervalMs } from './features.js';

/** Fetches the newest candles (the last one still open), or those opening at or before `endTime`. */
export type KlineFetch = (symbol: string, interval: string, limit: number, endTime?: number) => Promise<KlineEvent[]>;

interface Entry {
  /** Closed candles, oldest first, consecutive. */
  rows: KlineEvent[];
}

/** Exchange pages hold at most this many candles. */
const PAGE = 1000;

export class ClosedCandles {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly fetch: KlineFetch,
    /** Most candles kept per (symbol, interval). */
    private readonly keep: number,
    /** Most (symbol, interval) pairs kept; the least recently used goes first. */
    private readonly maxEntries = 64,
    private readonly now: () => number = Date.now,
  ) {}

  /** The last `n` closed candles (n ≤ keep), oldest first; fewer when the exchange has fewer. */
  async last(symbol: string, interval: string, n: number): Promise<KlineEvent[]> {
    const key = `${symbol}|${interval}`;
    const step = intervalMs(interval);
    let entry = this.entries.get(key);
    this.entries.delete(key);
    const newest = entry?.rows.at(-1);
    // The candle after the newest kept one is still open by this machine's clock: nothing new has closed.
    const current = step !== undefined && newest !== undefined && this.now() < newest.openTime + 2 * step;
    if (!entry || !current) entry = await this.refresh(symbol, interval, entry, n, step);
    if (entry.rows.length < n) entry = await this.extend(symbol, interval, entry, n);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return entry.rows.slice(-n);
  }

  /** Forgets everything (e.g. after the exchange was away and candles may have been corrected). */
  clear(): void {
    this.entries.clear();
  }

  /** The newest page, merged onto what is kept when it joins it (or replacing it). */
  private async refresh(symbol: string, interval: string, entry: Entry | undefined, n: number, step: number | undefined): Promise<Entry> {
    const newest = entry?.rows.at(-1);
    const missing = newest && step !== undefined ? Math.ceil((this.now() - newest.openTime) / step) + 1 : n;
    const page = await this.fetch(symbol, interval, Math.min(PAGE, Math.max(2, missing + 1)));
    // The last row is the open candle.
    const closed = page.slice(0, -1);
    if (!entry || !newest || closed.length === 0) return { rows: closed };
    const fresh = closed.filter((k) => k.openTime > newest.openTime);
    const joins = fresh.length === 0 || step === undefined || fresh[0]!.openTime - newest.openTime === step;
    if (!joins) return { rows: closed };
    return { rows: [...entry.rows, ...fresh].slice(-this.keep) };
  }

  /** Older pages until `n` candles are kept (or the exchange has no older ones). */
  private async extend(symbol: string, interval: string, entry: Entry, n: number): Promise<Entry> {
    let rows = entry.rows;
    while (rows.length < n && rows.length > 0) {
      const page = await this.fetch(symbol, interval, Math.min(PAGE, n - rows.length), rows[0]!.openTime - 1);
      const older = page.filter((k) => k.openTime < rows[0]!.openTime);
      if (older.length === 0) break;
      rows = [...older, ...rows];
    }
    return { rows: rows.slice(-this.keep) };
  }
}
