// Keeps each kline stream gap-free and duplicate-free: one final per closed candle, holes (an outage across a close) filled from REST.
import type { Logger } from '../../core/logger.js';
import type { KlineEvent } from './market-events.js';

export interface CandleContinuityDeps {
  /** Closed candles with open time in [startTime, endTime], oldest first. */
  fetch(symbol: string, interval: string, startTime: number, endTime: number): Promise<KlineEvent[]>;
  emit(event: KlineEvent): void;
  log: Logger;
}

interface Track {
  /** Open time of the newest candle seen. */
  lastOpen: number;
  /** Close time of that candle. */
  lastClose: number;
  /** Open time of the newest candle delivered as final (-1: none). */
  lastFinal: number;
  /** Events held while a hole is being filled, so that order is kept. */
  queue: KlineEvent[] | undefined;
}

export class CandleContinuity {
  private readonly tracks = new Map<string, Track>();
  /** Candles delivered from REST to fill holes, and duplicates dropped: for logs and tests. */
  backfilled = 0;
  duplicatesDropped = 0;

  constructor(private readonly deps: CandleContinuityDeps) {}

  accept(k: KlineEvent): void {
    const key = `${k.symbol}|${k.interval}`;
    const track = this.tracks.get(key);
    if (!track) {
      this.tracks.set(key, { lastOpen: k.openTime, lastClose: k.closeTime, lastFinal: k.isFinal ? k.openTime : -1, queue: undefined });
      this.deps.emit(k);
      return;
    }
    if (track.queue) {
      track.queue.push(k);
      return;
    }
    this.process(key, track, k);
  }

  private process(key: string, track: Track, k: KlineEvent): void {
    if (k.openTime < track.lastOpen || (k.isFinal && k.openTime <= track.lastFinal)) {
      this.duplicatesDropped++;
      return;
    }
    if (k.openTime > track.lastOpen) {
      // The next candle we should see: the one after the last final, or the unfinished one.
      const finished = track.lastFinal >= track.lastOpen;
      const firstMissing = finished ? track.lastClose + 1 : track.lastOpen;
      if (firstMissing < k.openTime) {
        this.fill(key, track, k, firstMissing);
        return;
      }
    }
    this.deliver(track, k);
  }

  private deliver(track: Track, k: KlineEvent): void {
    if (k.openTime >= track.lastOpen) {
      track.lastOpen = k.openTime;
      track.lastClose = k.closeTime;
    }
    if (k.isFinal) track.lastFinal = Math.max(track.lastFinal, k.openTime);
    this.deps.emit(k);
  }

  /** Candles closed while the stream was away: fetched from REST and delivered as finals, then the held events. */
  private fill(key: string, track: Track, k: KlineEvent, from: number): void {
    track.queue = [k];
    this.deps.fetch(k.symbol, k.interval, from, k.openTime - 1).then(
      (candles) => {
        for (const c of candles) {
          if (c.openTime <= track.lastFinal || c.openTime >= k.openTime) continue;
          this.backfilled++;
          this.deliver(track, { ...c, isFinal: true });
        }
      },
      (err: unknown) => {
        this.deps.log.warn({ key, from, to: k.openTime - 1, err: err instanceof Error ? err.message : String(err) }, 'closed candles missed during an outage could not be fetched');
      },
    ).finally(() => {
      const [first, ...rest] = track.queue ?? [];
      track.queue = undefined;
      // The event that revealed the hole is delivered as is, even if the hole could not be filled: one try per hole.
      if (first && !(first.isFinal && first.openTime <= track.lastFinal)) this.deliver(track, first);
      for (const q of rest) this.process(key, track, q);
    });
  }

  forget(symbol: string, interval: string): void {
    this.tracks.delete(`${symbol}|${interval}`);
  }
}
