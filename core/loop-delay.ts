// Event-loop delay of the thread it runs in (the acceptor's, or a shard's), as percentiles since the last read.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { LoopDelay } from './bus.js';

export class LoopDelayMonitor {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private last: LoopDelay = { p50: 0, p99: 0, max: 0 };

  start(): this {
    this.histogram.enable();
    return this;
  }

  stop(): void {
    this.histogram.disable();
  }

  /** Seconds of delay since the previous read (the previous figures when nothing was sampled since), then a new window. */
  read(): LoopDelay {
    const h = this.histogram;
    if (h.count > 0) {
      this.last = { p50: h.percentile(50) / 1e9, p99: h.percentile(99) / 1e9, max: h.max / 1e9 };
      h.reset();
    }
    return this.last;
  }
}
