// Child processes for benchmarks: start one and wait for its ready line, stop it, read its CPU, RSS and writes from /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
    uncapCpu(child);
    child.kill('SIGTERM');
  });
}

/** Where the kernel's CPU controller is mounted: cgroup v2's `cpu.max` or v1's `cpu.cfs_quota_us`, or none. */
function cpuController(): { root: string; v2: boolean } | undefined {
  const v2 = '/sys/fs/cgroup';
  try {
    if (readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu')) return { root: v2, v2: true };
  } catch { /* not cgroup v2 at the root */ }
  return existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ? { root: '/sys/fs/cgroup/cpu', v2: false } : undefined;
}

/** Quota period: short, so a capped server runs in short slices and its latency is not one long stall per 100 ms. */
const QUOTA_PERIOD_US = 10_000;

/**
 * Caps a running process (every thread, and those it starts later) at `cores` of CPU time with a cgroup of its own,
 * so that it, not its load, is what saturates. The cgroup goes when the process exits. Needs write access to the
 * cgroup filesystem (root, or a delegated cgroup); throws saying so otherwise.
 */
export function capCpu(child: ChildProcess, cores: number): void {
  const ctl = cpuController();
  if (!ctl) throw new Error('--server-cores needs the kernel\'s cgroup CPU controller (cgroup v2 cpu.max or v1 cpu.cfs_quota_us), and this machine shows neither');
  const dir = join(ctl.root, `tickgate-bench-${child.pid}`);
  const quota = Math.max(1000, Math.round(cores * QUOTA_PERIOD_US));
  const remove = () => {
    try {
      rmdirSync(dir);
    } catch { /* already gone, or never made */ }
  };
  try {
    mkdirSync(dir, { recursive: true });
    if (ctl.v2) writeFileSync(join(dir, 'cpu.max'), `${quota} ${QUOTA_PERIOD_US}`);
    else {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(QUOTA_PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    }
    writeFileSync(join(dir, 'cgroup.procs'), String(child.pid));
  } catch (err) {
    remove();
    throw new Error(`could not cap the server's CPU in ${dir} (${(err as Error).message}): --server-cores needs write access to the cgroup filesystem (run as root or in a delegated cgroup)`);
  }
  if (child.exitCode !== null) remove();
  else {
    caps.set(child, { root: ctl.root, remove });
    child.once('exit', () => {
      caps.delete(child);
      setTimeout(remove, 100);
    });
  }
}

/** The capped processes still running, with how to lift each cap. */
const caps = new Map<ChildProcess, { root: string; remove: () => void }>();

/**
 * Lifts a process's cap (back into the root cgroup): a capped process would stop slowly, and a profiler writing its
 * profile at exit could outlast stopChild's patience.
 */
function uncapCpu(child: ChildProcess): void {
  const cap = caps.get(child);
  if (!cap) return;
  try {
    writeFileSync(join(cap.root, 'cgroup.procs'), String(child.pid));
  } catch { /* it is exiting */ }
}
