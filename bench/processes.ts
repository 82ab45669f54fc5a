// Child processes for benchmarks: start one and wait for its ready line, stop it, read its CPU, RSS and writes from /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
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
    live.add(child);
    child.once('exit', () => live.delete(child));
    stopOnSignal();
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

/** Children still running, so that a benchmark stopped by a signal does not leave its servers behind. */
const live = new Set<ChildProcess>();
let signalsHandled = false;
/**
 * On SIGINT or SIGTERM: kill every child, then exit, which runs the exit handlers (the data directories go). A capped
 * child's cgroup is removed by the next capped run (capCpu removes those whose process is gone).
 */
function stopOnSignal(): void {
  if (signalsHandled) return;
  signalsHandled = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      for (const c of live) c.kill('SIGKILL');
      process.exit(code);
    });
  }
}

/** Stops a child (SIGTERM, then SIGKILL after `patienceMs`); resolves with how it ended. */
export function stopChild(child: ChildProcess, patienceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const kill = setTimeout(() => child.kill('SIGKILL'), patienceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(kill);
      resolve({ code, signal });
    });
    uncapCpu(child);
    child.kill('SIGTERM');
  });
}

/** The kernel's CPU controller: cgroup v2 (`cpu.max`) or v1 (`cpu.cfs_quota_us`); a reason when neither is usable. */
function cpuController(): { root: string; v2: boolean } | string {
  const v2 = '/sys/fs/cgroup';
  try {
    if (readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu')) {
      // A cgroup made under the root has cpu.max only if the root hands the controller down.
      if (!readFileSync(join(v2, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('cpu')) {
        return `cgroup v2's CPU controller is not enabled for child cgroups here (as root: echo +cpu > ${v2}/cgroup.subtree_control)`;
      }
      return { root: v2, v2: true };
    }
  } catch { /* not cgroup v2 at the root */ }
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) return { root: '/sys/fs/cgroup/cpu', v2: false };
  return 'this machine shows no cgroup CPU controller (cgroup v2 cpu.max or v1 cpu.cfs_quota_us)';
}

/** The cgroup a process is in now, relative to the controller's root (from /proc/PID/cgroup). */
function cgroupOf(pid: number, v2: boolean): string | undefined {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (v2 ? controllers === '' : controllers!.split(',').includes('cpu')) return path;
  }
  return undefined;
}

/** Quota period: short, so a capped server runs in short slices and its latency is not one long stall per 100 ms. */
const QUOTA_PERIOD_US = 10_000;
/** The kernel takes quotas of 1 ms and more: a tenth of a core at this period. */
export const MIN_CORES = 0.1;

/** Removes the cgroups of capped processes that are gone (a benchmark killed before it could clean up). */
let staleRemoved = false;
function removeStale(root: string): void {
  if (staleRemoved) return;
  staleRemoved = true;
  for (const name of readdirSync(root)) {
    const pid = /^tickgate-bench-(\d+)$/.exec(name)?.[1];
    if (!pid || existsSync(`/proc/${pid}`)) continue;
    try {
      rmdirSync(join(root, name));
    } catch { /* not empty after all, or not ours to remove */ }
  }
}

/**
 * Caps a running process (every thread, and those it starts later) at `cores` of CPU time with a cgroup of its own,
 * so that it, not its load, is what saturates. The cgroup goes when the process exits; stopChild lifts the cap
 * first. Needs root (it writes the cgroup filesystem); throws saying what is missing otherwise.
 */
export function capCpu(child: ChildProcess, cores: number): void {
  if (!(cores >= MIN_CORES && cores <= 1)) throw new Error(`a CPU cap must be ${MIN_CORES} to 1 core, not ${cores}`);
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    throw new Error(`the server (pid ${child.pid}) exited before its CPU could be capped`);
  }
  const ctl = cpuController();
  if (typeof ctl === 'string') throw new Error(`--server-cores cannot cap the server's CPU: ${ctl}`);
  removeStale(ctl.root);
  const pid = child.pid;
  const dir = join(ctl.root, `tickgate-bench-${pid}`);
  const quota = Math.round(cores * QUOTA_PERIOD_US);
  const remove = () => {
    try {
      rmdirSync(dir);
    } catch { /* already gone, or never made */ }
  };
  let from: string | undefined;
  try {
    from = cgroupOf(pid, ctl.v2);
    mkdirSync(dir, { recursive: true });
    if (ctl.v2) writeFileSync(join(dir, 'cpu.max'), `${quota} ${QUOTA_PERIOD_US}`);
    else {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(QUOTA_PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    }
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    remove();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH' || (code === 'ENOENT' && !existsSync(`/proc/${pid}`))) throw new Error(`the server (pid ${pid}) exited before its CPU could be capped`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new Error(`--server-cores cannot cap the server's CPU: writing ${dir} was refused (${code}); capping needs root`);
    throw new Error(`--server-cores cannot cap the server's CPU in ${dir}: ${(err as Error).message}`);
  }
  caps.set(child, { back: join(ctl.root, from ?? '/', 'cgroup.procs'), pid });
  child.once('exit', () => {
    caps.delete(child);
    setTimeout(remove, 100);
  });
}

/** The capped processes still running: where each came from. */
const caps = new Map<ChildProcess, { back: string; pid: number }>();

/**
 * Lifts a process's cap, moving it back to the cgroup it came from: a capped process would stop slowly, and a
 * profiler writing its profile at exit could outlast stopChild's patience.
 */
function uncapCpu(child: ChildProcess): void {
  const cap = caps.get(child);
  if (!cap) return;
  try {
    writeFileSync(cap.back, String(cap.pid));
  } catch { /* it is exiting */ }
}
