// The last N durations of something (inference per candle), with their percentiles.

export class LatencyWindow {
  private readonly values: Float64Array;
  private next = 0;
  private filled = 0;
  total = 0;

  constructor(size = 1024) {
    this.values = new Float64Array(size);
  }

  add(us: number): void {
    this.values[this.next] = us;
    this.next = (this.next + 1) % this.values.length;
    if (this.filled < this.values.length) this.filled++;
    this.total++;
  }

  /** p50/p99/max in µs over the window (undefined values when nothing was measured). */
  summary(): { count: number; p50Us: number | null; p99Us: number | null; maxUs: number | null } {
    if (this.filled === 0) return { count: 0, p50Us: null, p99Us: null, maxUs: null };
    const sorted = this.values.slice(0, this.filled).sort();
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
    return { count: this.total, p50Us: at(0.5), p99Us: at(0.99), maxUs: at(1) };
  }
}
