// Counts a process's write syscalls of every kind over a window with `perf stat` on the syscall tracepoints.
import { execFile } from 'node:child_process';

/**
 * Write syscalls by kind over a window. /proc/PID/io's `syscw` counts write and writev only: uWebSockets.js sends with
 * send() (sendto in the kernel), which it never counts, so the tracepoints are the one count comparable across targets.
 */
export interface WriteSyscalls {
  write: number;
  writev: number;
  sendto: number;
  sendmsg: number;
  total: number;
}

const KINDS = ['write', 'writev', 'sendto', 'sendmsg'] as const;

/**
 * Runs `perf stat` on every thread of `pid` for `seconds`; resolves undefined where perf cannot (not installed, no
 * permission for tracepoints), so a run without it still has /proc's syscw.
 */
export function countWriteSyscalls(pid: number, seconds: number): Promise<WriteSyscalls | undefined> {
  const events = KINDS.map((k) => `syscalls:sys_enter_${k}`).join(',');
  return new Promise((resolve) => {
    execFile('perf', ['stat', '-x', ',', '-e', events, '-p', String(pid), '--', 'sleep', String(seconds)], { timeout: (seconds + 30) * 1000 }, (err, _stdout, stderr) => {
      if (err) return resolve(undefined);
      const counts: Partial<Record<(typeof KINDS)[number], number>> = {};
      // CSV lines: count,unit,event,…
      for (const line of stderr.split('\n')) {
        const [count, , event] = line.split(',');
        const kind = KINDS.find((k) => event === `syscalls:sys_enter_${k}`);
        if (kind && count !== undefined) counts[kind] = Number(count) || 0;
      }
      if (Object.keys(counts).length !== KINDS.length) return resolve(undefined);
      const c = counts as Record<(typeof KINDS)[number], number>;
      resolve({ ...c, total: c.write + c.writev + c.sendto + c.sendmsg });
    });
  });
}
