// Child processes for benchmarks: start one and wait for its ready line, stop it, read its CPU, RSS and writes from /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from '../core/config.js';

const CLK_TCK = 100;

/** CPU time (ms) and RSS (KiB) of a process, from /proc. */
export function procUsage(pid: number): { cpuMs: number; rssKb: number } {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    throw new Error(`process ${pid} is gone: the target exited during the run (its output is above, if any)`);
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs, rssKb: Number(rss?.[1] ?? 0) };
}

/**
 * Write syscalls of a process so far (`syscw` of /proc/PID/io: write, writev, pwrite). Linux does not count send(),
 * sendto() or sendmsg() there, and uWebSockets.js writes with send(): for uWS servers this misses most writes
 * (bench/syscalls.ts counts every kind with perf).
 */
export function procWrites(pid: number): number {
  const m = /syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/**
 * Pins every thread of a running process to `cpus` (taskset's list syntax, e.g. "1"). Threads it starts later inherit
 * the mask of the thread that starts them, and so do its children.
 */
export function pinProcess(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

export interface Child {
  child: ChildProcess;
  match: RegExpExecArray;
  /** The latest memory figures the child printed after a forced collection (see gc-on-signal.ts). */
  memory: { latest?: NodeJS.MemoryUsage };
}

/**
 * Starts a child node process and resolves when a line of its output matches `ready`. With `cpus` it runs under
 * `taskset -c cpus` from its first instruction, so every thread it starts (shard workers) is on those cores; taskset
 * execs node, so the pid is node's.
 */
export function startChild(args: string[], env: Record<string, string>, ready: RegExp, cpus?: string): Promise<Child> {
  return new Promise((resolve, reject) => {
    const [command, argv] = cpus ? ['taskset', ['-c', cpus, process.execPath, ...args]] : [process.execPath, args];
    const child = spawn(command, argv, { cwd: PACKAGE_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    // tickgate's first start creates its embedded database: about 11 s on an idle machine here, 24 s seen on a busy one.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not start: ${out.slice(-500)}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        const memory: Child['memory'] = {};
        // Later output is dropped, except the memory lines of gc-on-signal.
        let rest = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          rest += chunk.toString();
          const lines = rest.split('\n');
          rest = lines.pop()!.slice(-4096);
          for (const line of lines) if (line.startsWith('gc-on-signal ')) memory.latest = JSON.parse(line.slice(13)) as NodeJS.MemoryUsage;
        });
        resolve({ child, match: m, memory });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code}): ${out.slice(-500)}`));
    });
  });
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
