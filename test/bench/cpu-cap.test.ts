// The saturation bench's CPU cap: a capped process gets no more CPU than its cap, however much it asks for.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { capCpu, procUsage } from '../../bench/processes.js';

const canCap = (() => {
  const probe = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    capCpu(probe, 0.5);
    return true;
  } catch {
    return false;
  } finally {
    probe.kill('SIGKILL');
  }
})();

t.test('a process capped at a fifth of a core spins at no more than that', { skip: canCap ? false : 'no writable cgroup CPU controller here' }, async (t) => {
  // Two threads that never rest: uncapped, the process would take up to two cores.
  const spin = 'const { Worker } = require("node:worker_threads"); new Worker("for(;;){}", { eval: true }); for(;;){}';
  const child = spawn(process.execPath, ['-e', spin], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await once(child, 'spawn');
  capCpu(child, 0.2);
  const before = procUsage(child.pid!);
  const start = performance.now();
  await new Promise((r) => setTimeout(r, 1500));
  const used = (procUsage(child.pid!).cpuMs - before.cpuMs) / (performance.now() - start);
  // The quota is enforced per 10 ms period; a clock tick of accounting (10 ms) either side is the only slack.
  t.ok(used <= 0.2 + 0.03, `used ${used.toFixed(3)} cores, capped at 0.2`);
  // And it did run: the cap is not a stop.
  t.ok(used > 0.05, `used ${used.toFixed(3)} cores`);
});

t.test('a cap on a process that is gone throws, saying why, and leaves no cgroup behind', { skip: canCap ? false : 'no writable cgroup CPU controller here' }, async (t) => {
  const child = spawn(process.execPath, ['-e', '0']);
  await once(child, 'exit');
  t.throws(() => capCpu(child, 0.2), /exited before its CPU could be capped/, 'a process that is gone is not capped, and the error says why');
  const left = ['/sys/fs/cgroup', '/sys/fs/cgroup/cpu'].flatMap((d) => {
    try {
      return readdirSync(d).filter((n) => n === `tickgate-bench-${child.pid}`);
    } catch {
      return [];
    }
  });
  t.same(left, [], 'its cgroup was removed');
});

t.test('a cap below a tenth of a core or above one is refused before anything is touched', async (t) => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  t.throws(() => capCpu(child, 0.05), /0\.1 to 1 core, not 0\.05/);
  t.throws(() => capCpu(child, 1.5), /0\.1 to 1 core, not 1\.5/);
});
