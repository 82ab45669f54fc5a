// The sweep's results as plot panels: CPU, RSS and p99 against connections and against channels per client.
import type { FanoutResult } from '../fanout/fanout.js';
import type { Panel, Series } from './plot.js';
import type { SweepPoint } from './points.js';

/** A finished point of the sweep. */
export type SweepRun = Omit<SweepPoint, 'options'> & { result: FanoutResult };

const METRICS: Array<{ label: string; get: (r: FanoutResult) => number; activeOnly?: boolean }> = [
  { label: 'server CPU %', get: (r) => r.server.cpuPercent },
  // Above the idle baseline of the same process: tickgate's idle RSS moves by tens of MB from one start to the next,
  // more than 19,000 connections add.
  { label: 'server RSS MB above idle', get: (r) => r.server.rssMbLoaded - r.server.rssMbIdle },
  // Idle clients receive no data frames: no latency to show; nor has a point whose window caught no sample.
  { label: 'latency p99 ms', get: (r) => (r.latencyMs.samples ? r.latencyMs.p99 : NaN), activeOnly: true },
];

/** One series per target and line of the sweep, its points in x order. */
function series(runs: SweepRun[], get: (r: FanoutResult) => number): Series[] {
  const names = [...new Set(runs.map((r) => `${r.target} ${r.line}`))];
  return names.map((name) => ({
    name,
    points: runs.filter((r) => `${r.target} ${r.line}` === name).map((r): [number, number] => [r.x, get(r.result)]).sort(([a], [b]) => a - b),
  }));
}

/** Rows of metrics, a column per sweep that ran: connections on the left, channels per client on the right. */
export function sweepPanels(runs: SweepRun[]): { panels: Panel[]; columns: number } {
  const sweeps = (['connections', 'channels'] as const).filter((s) => runs.some((r) => r.sweep === s));
  const panels: Panel[] = [];
  for (const m of METRICS) {
    for (const sweep of sweeps) {
      const of = runs.filter((r) => r.sweep === sweep && (!m.activeOnly || r.line !== 'idle'));
      panels.push({
        title: `${m.label} by ${sweep === 'connections' ? 'connections' : 'channels per client'}`,
        xLabel: sweep === 'connections' ? 'connections' : 'channels per client',
        yLabel: m.label,
        series: series(of, m.get),
      });
    }
  }
  return { panels, columns: Math.max(1, sweeps.length) };
}
