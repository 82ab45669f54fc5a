// Where a target's CPU goes over a window, native code included: `perf record` samples every thread of the process,
// `perf report` sums the samples by binary (the kernel, uWebSockets.js's native module, V8's compiled code, the node
// binary with V8's builtins and interpreter, libc) and by function. A V8 CPU profile (--profile) sees JavaScript only, and shows the rest as "(program)".
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
  if (dso === '[vdso]') return 'libc, libstdc++ and the vDSO';
  if (dso.startsWith('[JIT]') || dso.startsWith('perf-') || dso === '//anon' || dso === '[unknown]' || dso === '') return 'V8 compiled code (JIT)';
  // The kernel and its modules ([kernel.kallsyms], [nf_conntrack], …).
  if (dso.startsWith('[')) return 'kernel (TCP, loopback, scheduling)';
  if (/uws|uWebSockets/i.test(dso)) return 'uWebSockets.js (native)';
  // node's own binary holds V8's builtins and interpreter (JSON.parse, Map lookups) as well as its runtime and GC.
  if (dso === 'node' || dso === 'nodejs') return 'node binary (V8 builtins, interpreter, runtime, GC; libuv)';
  if (/^lib(c|m|pthread|stdc\+\+)[.-]/.test(dso)) return 'libc, libstdc++ and the vDSO';
  if (/onnxruntime/.test(dso)) return 'onnxruntime (native)';
  return dso;
}

function run(args: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('perf', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/**
 * perf report's lines as shares. `--sort dso -n`: "  12.34%   1234  dso"; `--sort dso,sym`: "  12.34%  dso  [k] symbol".
 * Comment lines are skipped. `samples` is the count column where the report has one.
 */
export function parseReport(text: string, withSymbol: boolean): Array<CpuShare & { samples?: number }> {
  const shares: Array<CpuShare & { samples?: number }> = [];
  for (const line of text.split('\n')) {
    if (withSymbol) {
      // A DSO name may hold spaces: "[JIT] tid 4242".
      const m = /^\s*([\d.]+)%\s+(.+?)\s+\[[.kguH]\]\s+(.+?)\s*$/.exec(line);
      if (m) shares.push({ what: `${m[2]} ${m[3]}`, percent: Number(m[1]) });
      continue;
    }
    const m = /^\s*([\d.]+)%\s+(?:(\d+)\s+)?(.*?)\s*$/.exec(line);
    if (m) shares.push({ what: m[3]!, percent: Number(m[1]), ...(m[2] !== undefined ? { samples: Number(m[2]) } : {}) });
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
  const byDso = await run(['report', '-i', file, '--stdio', '-q', '-n', '--sort', 'dso'], 60_000);
  const bySym = await run(['report', '-i', file, '--stdio', '-q', '--sort', 'dso,sym', '--percent-limit', '0.5'], 60_000);
  if (byDso === undefined || bySym === undefined) return undefined;
  const groups = new Map<string, number>();
  const dsos = parseReport(byDso, false);
  for (const s of dsos) groups.set(groupOf(s.what), (groups.get(groupOf(s.what)) ?? 0) + s.percent);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    samples: dsos.reduce((n, s) => n + (s.samples ?? 0), 0),
    byBinary: [...groups].map(([what, percent]) => ({ what, percent: round(percent) })).sort((a, b) => b.percent - a.percent),
    top: parseReport(bySym, true).slice(0, 15).map((s) => ({ what: s.what, percent: round(s.percent) })),
    file,
  };
}
