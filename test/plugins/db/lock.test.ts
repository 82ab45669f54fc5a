// The embedded database's lock: a second process is refused, a stale lock is taken over, and of processes starting
// together exactly one opens the database, whether the directory had no lock or a stale one.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../plugins/db/database.js';
import { embeddedTemplate, seededDataDir } from '../../helpers/database.js';
import { count, log } from './fixtures.js';

t.test('embedded: a data directory another live process holds is refused; a stale lock is taken over', async (t) => {
  const dir = seededDataDir(await embeddedTemplate(), 'tickgate-lock-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => holder.kill());
  await writeFile(join(dir, 'tickgate-db.lock'), JSON.stringify({ pid: holder.pid, socketDir: '/nonexistent' }));
  await t.rejects(openDatabase({ url: '', dataDir: dir, poolMax: 1, acquireTimeoutMs: 5000 }, log), new RegExp(`in use by process ${holder.pid}`));
  holder.kill();
  await new Promise((r) => holder.once('exit', r));
  const db = await openDatabase({ url: '', dataDir: dir, poolMax: 1, acquireTimeoutMs: 5000 }, log);
  t.teardown(() => db.close());
  t.equal(await count(db, 'SELECT 1 AS n'), 1, 'the lock of a process that is gone does not block');
});

t.test('embedded: of two processes starting on one data directory at once, one opens it and the other is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tickgate-lock-race-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // An existing database: the lock is the point here, and creating one would take seconds in each process.
  const dataDir = seededDataDir(await embeddedTemplate(), 'tickgate-lock-race-data-');
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const module = new URL('../../../plugins/db/database.js', import.meta.url).href;
  const logger = new URL('../../../core/logger.js', import.meta.url).href;
  const script = `
    const { openDatabase } = await import(${JSON.stringify(module)});
    const log = (await import(${JSON.stringify(logger)})).createLogger('silent');
    try {
      const db = await openDatabase({ url: '', dataDir: ${JSON.stringify(dataDir)}, poolMax: 1, acquireTimeoutMs: 5000 }, log);
      process.stdout.write('opened');
      // Hold it until the other has tried.
      await new Promise((r) => setTimeout(r, 1500));
      await db.close();
    } catch (err) {
      process.stdout.write('refused: ' + err.message);
    }`;
  const scriptFile = join(dir, 'open.mjs');
  await writeFile(scriptFile, script);
  const run = () => new Promise<string>((resolve) => {
    const child = spawn(process.execPath, [scriptFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', () => resolve(out));
  });
  const outcomes = await Promise.all([run(), run()]);
  t.equal(outcomes.filter((o) => o === 'opened').length, 1, `one opened it: ${JSON.stringify(outcomes)}`);
  t.match(outcomes.find((o) => o !== 'opened'), /^refused: the embedded database in .* is in use by process \d+/);
  // A lock left by a process that is gone, found stale by three processes at once: still exactly one opens it (a
  // process that removed the stale lock must not remove the winner's).
  const gone = spawn('true');
  await new Promise((r) => gone.once('exit', r));
  for (let round = 0; round < 2; round++) {
    await writeFile(join(dataDir, 'tickgate-db.lock'), JSON.stringify({ pid: gone.pid, socketDir: '/nonexistent' }));
    const stale = await Promise.all([run(), run(), run()]);
    t.equal(stale.filter((o) => o === 'opened').length, 1, `over a stale lock, one opened it: ${JSON.stringify(stale)}`);
    t.equal(stale.filter((o) => /^refused: the embedded database in .* is in use by process \d+/.test(o)).length, 2, 'the others were refused, naming it');
  }
});

