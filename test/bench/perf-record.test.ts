// Reading perf's report: the lines it prints, summed by binary group; and, where perf may sample here, a real record.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupOf, parseReport, recordNative } from '../../bench/perf-record.js';

t.test('report lines become shares, with their sample counts; comment lines are skipped', async (t) => {
  const byDso = '# Samples: 127  of event \'cpu-clock\'\n#\n    70.08%            89  [kernel.kallsyms]\n    14.96%            19  [JIT] tid 16925  \n    14.96%            19  libc.so.6\n';
  t.same(parseReport(byDso, false), [
    { what: '[kernel.kallsyms]', percent: 70.08, samples: 89 },
    { what: '[JIT] tid 16925', percent: 14.96, samples: 19 },
    { what: 'libc.so.6', percent: 14.96, samples: 19 },
  ]);
  const bySym = '    29.92%  [kernel.kallsyms]  [k] do_syscall_64\n     7.87%  libc.so.6          [.] __GI___libc_write\n     3.01%  [JIT] tid 16925    [.] 0x00007f0a1c04d2e1\n     2.50%  node               [H] Builtins_JSONParse\n     2.10%  uws_linux_x64_115.node  [.] uWS::TopicTree<uWS::TopicTreeMessage, uWS::TopicTreeBigMessage>::drain()\n';
  t.same(parseReport(bySym, true), [
    { what: '[kernel.kallsyms] do_syscall_64', percent: 29.92 },
    { what: 'libc.so.6 __GI___libc_write', percent: 7.87 },
    { what: '[JIT] tid 16925 0x00007f0a1c04d2e1', percent: 3.01 },
    { what: 'node Builtins_JSONParse', percent: 2.5 },
    { what: 'uws_linux_x64_115.node uWS::TopicTree<uWS::TopicTreeMessage, uWS::TopicTreeBigMessage>::drain()', percent: 2.1 },
  ]);
});

t.test('binaries fall in the groups a reader tells apart', async (t) => {
  t.equal(groupOf('[kernel.kallsyms]'), 'kernel (TCP, loopback, scheduling)');
  t.equal(groupOf('[nf_conntrack]'), 'kernel (TCP, loopback, scheduling)', 'a kernel module is the kernel');
  t.equal(groupOf('[vdso]'), 'libc, libstdc++ and the vDSO', 'the vDSO runs in user space');
  t.equal(groupOf('uws_linux_x64_115.node'), 'uWebSockets.js (native)');
  t.equal(groupOf('[JIT] tid 4242'), 'V8 compiled code (JIT)');
  t.equal(groupOf('perf-4242.map'), 'V8 compiled code (JIT)');
  t.equal(groupOf('//anon'), 'V8 compiled code (JIT)');
  t.equal(groupOf('node'), 'node binary (V8 builtins, interpreter, runtime, GC; libuv)');
  t.equal(groupOf('nodejs'), 'node binary (V8 builtins, interpreter, runtime, GC; libuv)');
  t.equal(groupOf('libc.so.6'), 'libc, libstdc++ and the vDSO');
  t.equal(groupOf('libonnxruntime.so.1'), 'onnxruntime (native)');
  t.equal(groupOf('something-else.so'), 'something-else.so', 'anything else keeps its name');
});

// Sampling another process needs perf and the right to use it (root here; perf_event_paranoid elsewhere).
const perfRuns = spawnSync('perf', ['record', '-q', '-p', String(process.pid), '-o', '/dev/null', '--', 'sleep', '0.1']).status === 0;

t.test('a busy process sampled for a second: its shares add up to about all of it', { skip: perfRuns ? false : 'perf cannot record here' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickgate-perf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await once(child, 'spawn');
  // The spinner's CPU time (utime + stime, in clock ticks of 10 ms) over the recorded second, read beside the record:
  // perf takes 999 samples a second of the CPU time the thread gets, which on a loaded machine is less than the second.
  const cpuTicks = () => readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ').slice(11, 13).reduce((n, v) => n + Number(v), 0);
  const before = cpuTicks();
  const oneSecondIn = new Promise<number>((resolve) => setTimeout(() => resolve(cpuTicks()), 1000));
  const p = await recordNative(child.pid!, 1, join(dir, 'busy.perf.data'));
  const cpuSeconds = ((await oneSecondIn) - before) / 100;
  t.ok(p, 'perf sampled it');
  if (!p) return;
  // The record starts a little after `before` and the two windows differ by that, so the bound is loose; a count off
  // by a factor (percentages summed, one binary counted twice, another sampling rate) is not within it.
  const expected = 999 * cpuSeconds;
  t.ok(p.samples > 20 && p.samples > 0.4 * expected && p.samples < 2 * expected + 20, `${p.samples} samples for ${cpuSeconds.toFixed(2)} s of CPU (${Math.round(expected)} expected)`);
  const total = p.byBinary.reduce((n, b) => n + b.percent, 0);
  t.ok(total > 95 && total <= 100.5, `shares add up to ${total.toFixed(1)} %`);
  t.ok(p.byBinary.some((b) => b.what === 'V8 compiled code (JIT)' || b.what.startsWith('node binary')), 'a spinning script runs in V8');
  t.ok(p.top.length > 0, 'and has functions');
});
