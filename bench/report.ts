// Result tables: markdown, so they read in a terminal and paste into BENCHMARKS.md unchanged.
import type { FanoutResult } from './fanout/fanout.js';
import type { HttpResult } from './http/http.js';

const fmt = (n: number) => n.toLocaleString('en-US');
const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : '-');

function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |\n`;
  return line(head) + line(head.map(() => '---')) + rows.map(line).join('');
}

/** One row per run; ratios against the ceiling and the NestJS peer in the same scenario, where they ran. */
export function fanoutTable(results: FanoutResult[]): string {
  const peer = (r: FanoutResult, t: string) => results.find((x) => x.scenario.name === r.scenario.name && x.scenario.target === t);
  return table(
    ['scenario', 'target', 'clients held', 'frames/s', 'expected', 'missing', 'p50 ms', 'p99 ms', 'server CPU', 'client CPU', 'RSS KB/conn', '× ceiling frames/s', '× ceiling p99', '× ceiling RSS/conn', '× NestJS frames/s'],
    results.map((r) => {
      const ceiling = peer(r, 'uws-ceiling');
      const nest = peer(r, 'nestjs');
      return [
        r.scenario.name ?? '-', r.scenario.target ?? 'tickgate', `${fmt(r.held)}/${fmt(r.scenario.clients)}`, fmt(r.framesPerSecond),
        r.expectedFramesPerSecond ? fmt(r.expectedFramesPerSecond) : '-', fmt(r.missing), r.latencyMs.p50, r.latencyMs.p99,
        `${r.server.cpuPercent} %`, `${r.client.cpuPercent} %`, r.server.rssKbPerConnection,
        ratio(r.framesPerSecond, ceiling?.framesPerSecond), ratio(r.latencyMs.p99, ceiling?.latencyMs.p99),
        ratio(r.server.rssKbPerConnection, ceiling?.server.rssKbPerConnection), ratio(r.framesPerSecond, nest?.framesPerSecond),
      ];
    }),
  );
}

export function httpTable(runs: HttpResult[]): string {
  const nest = runs.find((r) => r.target === 'nestjs');
  return table(
    ['target', 'path', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', '× NestJS req/s'],
    runs.flatMap((run) => run.results.map((p) => [
      run.target, `\`${p.path}\``, run.connections, fmt(p.requestsPerSecond), p.latencyMs.p50, p.latencyMs.p99, p.non2xx, p.errors,
      ratio(p.requestsPerSecond, nest?.results.find((x) => x.path === p.path)?.requestsPerSecond),
    ])),
  );
}
