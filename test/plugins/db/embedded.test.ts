// The embedded database's own behaviour: its data persists, and its queries run on a thread of their own (its lock:
// lock.test.ts).
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../plugins/db/database.js';
import { count, createThings, log, open } from './fixtures.js';


t.test('embedded: the data persists across a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tickgate-persist-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const opts = { url: '', dataDir: dir, poolMax: 1, acquireTimeoutMs: 5000 };
  const first = await openDatabase(opts, log);
  await first.migrate('demo', [createThings]);
  await first.sequelize.query("INSERT INTO things VALUES (1, 'kept')");
  await first.close();
  const second = await openDatabase(opts, log);
  t.teardown(() => second.close());
  t.same(await second.migrate('demo', [createThings]), [], 'migrations are recorded with the data');
  t.equal(await count(second, "SELECT count(*) AS n FROM things WHERE label = 'kept'"), 1);
  t.equal(second.mode, 'embedded');
});

t.test('embedded: a long query does not hold the event loop of the thread that asked (the database has a thread of its own)', async (t) => {
  const db = await open(t, 'embedded');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  t.teardown(() => clearInterval(timer));
  // About half a second of work for the database (measured); on the asking thread it would allow no tick at all.
  t.equal(await count(db, 'SELECT count(*) AS n FROM generate_series(1, 3000000)'), 3_000_000);
  clearInterval(timer);
  t.ok(ticks >= 20, `timers ran while the query did (${ticks} ticks)`);
});
