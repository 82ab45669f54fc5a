// Where a target's CPU goes over a window, native code included: `perf record` samples every thread of the process,
// `perf report` sums the samples by binary (the kernel, uWebSockets.js's native module, V8's generated code, node
// itself, libc) and by function. A V8 CPU profile (--profile) sees JavaScript only, and shows the rest as "(program)".
import { execFile } from 'node:child_process';

export interface CpuShare {
  /** What ran: a binary group (see groupOf), or a binary and a function. */
  what: string;
  percent: number;
}

export interface NativeProfile {
  /** Samples taken over the window (perf's default clock, 999 a second per busy thread). */
  samples: number;
  /** The share of each binary group, largest first. */
  byBinary: CpuShare[];
  /** The functions with the most self time, largest first. */
  top: CpuShare[];
  /** perf's data file, for `perf report -i FILE`. */
  file: string;
}

/** The binary group of a perf DSO name: what a reader needs to tell the server's own work from the kernel's. */
export function groupOf(dso: string): string {
  if (dso.startsWith('[kernel') || dso === '[vdso]') return 'kernel (sockets, scheduling)';
  if (/uws|uWebSockets/i.test(dso)) return 'uWebSockets.js (native)';
  if (dso.startsWith('[JIT]') || dso.startsWith('perf-') || dso === '[unknown]' || dso === '') return 'V8 generated code (JavaScript)';
  if (dso === 'node') return 'node (V8 runtime, GC, libuv)';
  if (/^lib(c|m|pthread|stdc\+\+)[.-]/.test(dso)) return 'libc and libstdc++';
  if (/onnxruntime/.test(dso)) return 'onnxruntime (native)';
  return dso;
}

function run(args: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('perf', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/** perf report's "  12.34%  dso  [k] symbol" lines as shares (quiet mode, no header). */
export function parseReport(text: string, withSymbol: boolean): CpuShare[] {
  const shares: CpuShare[] = [];
  for (const line of text.split('\n')) {
    // A DSO name may hold spaces: "[JIT] tid 4242".
    const m = withSymbol ? /^\s*([\d.]+)%\s+(.+?)\s+\[[.kgu]\]\s+(.+?)\s*$/.exec(line) : /^\s*([\d.]+)%\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    shares.push({ what: withSymbol ? `${m[2]} ${m[3]}` : m[2]!, percent: Number(m[1]) });
  }
  return shares;
}

/**
 * Samples `pid` for `seconds` into `file`; resolves undefined where perf cannot (not installed, or not allowed to
 * sample another process), so a run without perf still has its other figures.
 */
export async function recordNative(pid: number, seconds: number, file: string): Promise<NativeProfile | undefined> {
  const recorded = await run(['record', '-q', '-F', '999', '-p', String(pid), '-o', file, '--', 'sleep', String(seconds)], (seconds + 60) * 1000);
  if (recorded === undefined) return undefined;
  // Not quiet: its header's "# Samples: N" is the count (comment lines are skipped by parseReport).
  const byDso = await run(['report', '-i', file, '--stdio', '--sort', 'dso', '--percent-limit', '0.1'], 60_000);
  const bySym = await run(['report', '-i', file, '--stdio', '-q', '--sort', 'dso,sym', '--percent-limit', '0.5'], 60_000);
  if (byDso === undefined || bySym === undefined) return undefined;
  const groups = new Map<string, number>();
  for (const s of parseReport(byDso, false)) groups.set(groupOf(s.what), (groups.get(groupOf(s.what)) ?? 0) + s.percent);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    samples: Number(/^# Samples: (\d+)(K?)/m.exec(byDso)?.[1] ?? 0) * (/^# Samples: \d+K/m.test(byDso) ? 1000 : 1),
    byBinary: [...groups].map(([what, percent]) => ({ what, percent: round(percent) })).sort((a, b) => b.percent - a.percent),
    top: parseReport(bySym, true).slice(0, 15).map((s) => ({ what: s.what, percent: round(s.percent) })),
    file,
  };
}
