// The saturation table: per mix and target, the highest sustained step and its figures, with ratios to the peers.
import type { Target } from '../targets.js';
import type { SaturationResult } from './saturation.js';

const fmt = (n: number) => n.toLocaleString('en-US');
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? (a / b).toFixed(2) : '-');

/**
 * One row per mix and target that ran; a target that does not serve a mix gets a row of "-". Ratios are frames/s
 * (at the pinned core) against the ceiling's and NestJS's sustained figure in the same mix.
 */
export function saturationTable(results: SaturationResult[], skipped: Array<{ mix: string; target: Target }> = []): string {
  const head = ['mix', 'target', 'sustained step', 'frames/s', 'frames/s per server core', 'p99 ms', 'server CPU', 'client CPU', 'server RSS MB', 'frames per write syscall', 'stopped at', '× ceiling', '× ceiling per core', '× NestJS'];
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |\n`;
  const fps = (mix: string, t: Target) => results.find((r) => r.mix === mix && r.target === t)?.search.best?.result.fanout.framesPerSecond;
  const perCore = (mix: string, t: Target) => results.find((r) => r.mix === mix && r.target === t)?.search.best?.result.framesPerCore;
  const rows: string[] = [];
  const mixes = [...new Set([...results.map((r) => r.mix), ...skipped.map((s) => s.mix)])];
  for (const mix of mixes) {
    for (const r of results.filter((x) => x.mix === mix)) {
      const best = r.search.best;
      const f = best?.result.fanout;
      const failed = r.search.failed;
      const unit = r.knob === 'rate' ? '/s per symbol' : ' clients';
      const stopped = failed ? `${fmt(failed.step)}${unit}: ${failed.failure}${failed.result ? ` (${fmt(failed.result.fanout.framesPerSecond)} frames/s, clients ${failed.result.fanout.client.cpuPercent} %)` : ''}` : 'ladder end';
      rows.push(line([
        mix, r.target, best ? `${fmt(best.step)}${unit}` : 'none (first step failed)', f ? fmt(f.framesPerSecond) : '-', best ? fmt(best.result.framesPerCore) : '-',
        f ? f.latencyMs.p99 : '-', f ? `${f.server.cpuPercent} %` : '-', f ? `${f.client.cpuPercent} %` : '-', f ? f.server.rssMbLoaded : '-',
        best ? best.result.framesPerWrite : '-', stopped,
        r.target === 'uws-ceiling' ? '-' : ratio(f?.framesPerSecond, fps(mix, 'uws-ceiling')), r.target === 'uws-ceiling' ? '-' : ratio(best?.result.framesPerCore, perCore(mix, 'uws-ceiling')), r.target === 'nestjs' ? '-' : ratio(f?.framesPerSecond, fps(mix, 'nestjs')),
      ]));
    }
    for (const s of skipped.filter((x) => x.mix === mix)) rows.push(line([mix, s.target, '- (does not serve this mix)', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-']));
  }
  return line(head) + line(head.map(() => '---')) + rows.join('');
}
