// Result tables: markdown, so they read in a terminal and paste into BENCHMARKS.md unchanged.
import type { FanoutResult } from './fanout/fanout.js';
import type { HttpResult } from './http/http.js';
import type { SweepRun } from './sweep/panels.js';

const fmt = (n: number) => n.toLocaleString('en-US');
const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) && Number.isFinite(b) ? (a / b).toFixed(2) : '-');
/** A figure, or "-" for one the run did not measure (NaN: no latency sample of that frame type). */
const shown = (n: number) => (Number.isNaN(n) ? '-' : String(n));
/** Memory ratios only between positive figures: a negative per-connection RSS is heap noise, not a measurement. */
const memRatio = (a: number, b: number | undefined) => (a > 0 && b !== undefined && b > 0 ? (a / b).toFixed(2) : '-');

function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |\n`;
  return line(head) + line(head.map(() => '---')) + rows.map(line).join('');
}

/** Mean payload bytes per data frame, by frame type: "price 262, trade 171". */
export function bytesPerFrame(r: Pick<FanoutResult, 'sizeByType'>): string {
  const sizes = Object.entries(r.sizeByType ?? {});
  return sizes.length ? sizes.map(([type, n]) => `${type} ${n.bytesPerFrame}`).join(', ') : '-';
}

/** One row per run; ratios against the ceiling and the NestJS peer in the same scenario, where they ran. */
export function fanoutTable(results: FanoutResult[]): string {
  const peer = (r: FanoutResult, t: string) => results.find((x) => x.scenario.name === r.scenario.name && x.scenario.target === t);
  return table(
    ['scenario', 'target', 'clients held', 'frames/s', 'expected', 'missing + repeated', 'p50 ms', 'p99 ms', 'p99 ms by type', 'bytes/frame by type', 'server CPU', 'client CPU', 'KB/s per client', 'RSS KB/conn', 'in use KB/conn', '× ceiling frames/s', '× ceiling p99', '× ceiling RSS/conn', '× ceiling in use/conn', '× NestJS frames/s'],
    results.map((r) => {
      const ceiling = peer(r, 'uws-ceiling');
      const nest = peer(r, 'nestjs');
      return [
        r.scenario.name ?? '-', r.scenario.target ?? 'tickgate', `${fmt(r.held)}/${fmt(r.scenario.clients)}`, fmt(r.framesPerSecond),
        r.expectedFramesPerSecond ? fmt(r.expectedFramesPerSecond) : '-', fmt(r.missing + r.duplicated), r.latencyMs.p50, r.latencyMs.p99,
        Object.keys(r.latencyByType).length > 1 ? Object.entries(r.latencyByType).map(([k, l]) => `${k} ${l.p99}`).join(', ') : '-',
        bytesPerFrame(r),
        `${r.server.cpuPercent} %`, `${r.client.cpuPercent} %`, r.held ? Math.round((r.bytesPerSecond / r.held / 1024) * 10) / 10 : '-', r.server.rssKbPerConnection, r.server.rssKbPerConnectionInUse,
        ratio(r.framesPerSecond, ceiling?.framesPerSecond), ratio(r.latencyMs.p99, ceiling?.latencyMs.p99),
        memRatio(r.server.rssKbPerConnection, ceiling?.server.rssKbPerConnection), memRatio(r.server.rssKbPerConnectionInUse, ceiling?.server.rssKbPerConnectionInUse), ratio(r.framesPerSecond, nest?.framesPerSecond),
      ];
    }),
  );
}

export function httpTable(runs: HttpResult[]): string {
  const nest = runs.find((r) => r.target === 'nestjs');
  return table(
    ['target', 'path', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'server CPU µs/request', '× NestJS req/s'],
    runs.flatMap((run) => run.results.map((p) => [
      run.target, `\`${p.path}\``, run.connections, fmt(p.requestsPerSecond), p.latencyMs.p50, p.latencyMs.p99, p.non2xx, p.errors, p.serverCpuUsPerRequest,
      ratio(p.requestsPerSecond, nest?.results.find((x) => x.path === p.path)?.requestsPerSecond),
    ])),
  );
}

/** The frame types any of the runs sampled, where there is more than one. */
function latencyTypes(...runs: Array<FanoutResult | undefined>): string[] {
  const types = [...new Set(runs.flatMap((r) => (r ? Object.keys(r.latencyByType) : [])))].sort();
  return types.length > 1 ? types : [];
}

/**
 * The one table of the suite: per scenario and metric, each target's figure and tickgate's ratio to the ceiling and to
 * NestJS (for frames/s and req/s above 1 is better for tickgate; for p99 and memory below 1 is).
 */
export function summaryTable(fanout: FanoutResult[], http: HttpResult[]): string {
  const rows: Array<Array<string | number>> = [];
  const names = [...new Set(fanout.map((r) => r.scenario.name ?? '-'))];
  for (const name of names) {
    const of = (t: string) => fanout.find((r) => r.scenario.name === name && (r.scenario.target ?? 'tickgate') === t);
    const tg = of('tickgate');
    const ce = of('uws-ceiling');
    const ne = of('nestjs');
    const idle = (tg ?? ce ?? ne)?.scenario.channelsPerClient === 0;
    const metrics: Array<[string, (r: FanoutResult) => number, (n: number) => string]> = idle
      ? [
          ['connections held', (r) => r.held, fmt],
          ['RSS KB per connection', (r) => r.server.rssKbPerConnection, String],
          ['RSS KB per connection in use (less V8 heap reserve)', (r) => r.server.rssKbPerConnectionInUse, String],
        ]
      : [
          ['clients held', (r) => r.held, fmt],
          ['frames/s', (r) => r.framesPerSecond, fmt],
          ...((tg ?? ce ?? ne)!.expectedFramesPerSecond ? [['frames/s ÷ expected', (r: FanoutResult) => r.framesPerSecond / r.expectedFramesPerSecond, (n: number) => n.toFixed(3)] as [string, (r: FanoutResult) => number, (n: number) => string]] : []),
          ['missing + repeated frames', (r) => r.missing + r.duplicated, fmt],
          ['channels silent in the window', (r) => r.silentChannels, fmt],
          ['latency p99 ms', (r) => r.latencyMs.p99, String],
          ...latencyTypes(tg, ce, ne).map((type) => [`latency p99 ms, ${type} frames`, (r: FanoutResult) => r.latencyByType[type]?.p99 ?? NaN, shown] as [string, (r: FanoutResult) => number, (n: number) => string]),
          ['RSS KB per connection', (r) => r.server.rssKbPerConnection, String],
          ['RSS KB per connection in use (less V8 heap reserve)', (r) => r.server.rssKbPerConnectionInUse, String],
        ];
    for (const [metric, get, show] of metrics) {
      const v = (r: FanoutResult | undefined) => (r ? show(get(r)) : '-');
      const r = metric.startsWith('RSS') ? memRatio : ratio;
      rows.push([name, metric, v(tg), v(ce), v(ne), tg && ce ? r(get(tg), get(ce)) : '-', tg && ne ? r(get(tg), get(ne)) : '-']);
    }
  }
  const tgHttp = http.find((r) => r.target === 'tickgate');
  const neHttp = http.find((r) => r.target === 'nestjs');
  for (const p of tgHttp?.results ?? []) {
    const n = neHttp?.results.find((x) => x.path === p.path);
    rows.push([`HTTP ${tgHttp!.connections} connections`, `\`${p.path}\` req/s`, fmt(p.requestsPerSecond), '-', n ? fmt(n.requestsPerSecond) : '-', '-', ratio(p.requestsPerSecond, n?.requestsPerSecond)]);
  }
  return table(['scenario', 'metric', 'tickgate', 'uws-ceiling', 'NestJS', 'tickgate ÷ ceiling', 'tickgate ÷ NestJS'], rows);
}

/** The cost-growth sweep (npm run bench:sweep): one row per point and target, in the order they ran. */
export function sweepTable(runs: SweepRun[]): string {
  return table(
    ['sweep', 'point', 'target', 'clients held', 'channels per client', 'rate /s', 'frames/s', 'server CPU', 'RSS MB idle → loaded', 'RSS KB/conn', 'in use KB/conn', 'p50 ms', 'p99 ms', 'missing + repeated', 'pongs/s'],
    runs.map(({ sweep, line, x, target, result: r }) => {
      const active = r.scenario.channelsPerClient > 0;
      return [
        sweep, sweep === 'connections' ? `${fmt(x)} ${line}` : `${x} channels, ${line}`, target, `${fmt(r.held)}/${fmt(r.scenario.clients)}`, r.scenario.channelsPerClient,
        active ? r.scenario.rate : '-', active ? fmt(r.framesPerSecond) : '-', `${r.server.cpuPercent} %`, `${r.server.rssMbIdle} → ${r.server.rssMbLoaded}`,
        r.server.rssKbPerConnection, r.server.rssKbPerConnectionInUse, active ? r.latencyMs.p50 : '-', active ? r.latencyMs.p99 : '-', fmt(r.missing + r.duplicated),
        r.scenario.seconds ? fmt(Math.round(r.pongs / r.scenario.seconds)) : '-',
      ];
    }),
  );
}
