// The db plugin's database, in both modes: migrations, and transactions that cannot see or break each other.
import t from 'tap';
import { QueryTypes } from 'sequelize';
import { openDatabase, type Migration } from '../../../plugins/db/database.js';
import { addCounter, count, createThings, log, open } from './fixtures.js';

const modes = ['embedded', ...(process.env.TEST_DATABASE_URL ? ['configured' as const] : [])] as const;

for (const mode of modes) {
  t.test(`${mode}: migrations run from empty, once, in order, and a re-run applies nothing`, async (t) => {
    const db = await open(t, mode);
    t.same(await db.migrate('demo', [createThings, addCounter]), ['demo:0001-create-things', 'demo:0002-create-counter']);
    t.same(await db.migrate('demo', [createThings, addCounter]), [], 'a second start applies nothing');
    t.same(await db.migrate('other', [{ ...createThings, name: '0001-create-things', up: async ({ sequelize, transaction }) => { await sequelize.query('CREATE TABLE other_things (id INT)', { transaction }); } }]), ['other:0001-create-things'], 'another plugin\'s migration of the same name is its own');
    const recorded = await db.sequelize.query<{ name: string }>('SELECT name FROM tickgate_migrations ORDER BY name', { type: QueryTypes.SELECT });
    t.same(recorded.map((r) => r.name), ['demo:0001-create-things', 'demo:0002-create-counter', 'other:0001-create-things']);
  });

  t.test(`${mode}: a failing migration leaves neither its changes nor its record`, async (t) => {
    const db = await open(t, mode);
    const broken: Migration = {
      name: '0001-broken',
      async up({ sequelize, transaction }) {
        await sequelize.query('CREATE TABLE half_done (id INT)', { transaction });
        await sequelize.query('SELECT * FROM no_such_table', { transaction });
      },
    };
    await t.rejects(db.migrate('demo', [broken]), /no_such_table/);
    t.equal(await count(db, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'half_done'"), 0, 'the table it created is gone');
    t.same(await db.migrate('demo', [{ ...broken, up: createThings.up }]), ['demo:0001-broken'], 'and it runs again, fixed');
  });

  t.test(`${mode}: concurrent starts apply each migration once`, async (t) => {
    const db = await open(t, mode);
    let runs = 0;
    const counted: Migration = { ...createThings, async up(ctx) { runs++; await createThings.up(ctx); } };
    const results = await Promise.all([db.migrate('demo', [counted]), db.migrate('demo', [counted])]);
    t.equal(runs, 1);
    t.same(results.flat(), ['demo:0001-create-things']);
  });

  t.test(`${mode}: concurrent transactions cannot see or break each other's work`, async (t) => {
    const db = await open(t, mode);
    await db.migrate('demo', [createThings, addCounter]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let seenByB = -1;
    const a = db.transaction(async () => {
      await db.sequelize.query("INSERT INTO things VALUES (1, 'from A')");
      await held;
      throw new Error('A rolls back');
    });
    // B starts while A is inside its transaction with an uncommitted row.
    const b = db.transaction(async () => {
      seenByB = await count(db, 'SELECT count(*) AS n FROM things');
      await db.sequelize.query("INSERT INTO things VALUES (2, 'from B')");
    });
    setTimeout(release, 50);
    await t.rejects(a, /A rolls back/);
    await b;
    t.equal(seenByB, 0, 'B never saw A\'s uncommitted row');
    const rows = await db.sequelize.query<{ id: number; label: string }>('SELECT id, label FROM things ORDER BY id', { type: QueryTypes.SELECT });
    t.same(rows, [{ id: 2, label: 'from B' }], 'A\'s rollback took only its own row; B\'s commit stands');

    // Read-modify-write from many transactions at once: no update is lost.
    await Promise.all(Array.from({ length: 25 }, () => db.transaction(async () => {
      const [row] = await db.sequelize.query<{ n: number }>('SELECT n FROM counter WHERE id = 1 FOR UPDATE', { type: QueryTypes.SELECT });
      await new Promise((r) => setImmediate(r));
      await db.sequelize.query('UPDATE counter SET n = $1 WHERE id = 1', { bind: [row!.n + 1] });
    })));
    t.equal(await count(db, 'SELECT n FROM counter WHERE id = 1'), 25);
  });

  t.test(`${mode}: a query inside a transaction joins it without being passed it (no second connection, no deadlock)`, async (t) => {
    const db = await open(t, mode);
    await db.migrate('demo', [createThings]);
    const inside = await db.transaction(async () => {
      await db.sequelize.query("INSERT INTO things VALUES (7, 'x')");
      // Neither query names the transaction; both must run on its connection (the embedded database has one).
      return count(db, 'SELECT count(*) AS n FROM things');
    });
    t.equal(inside, 1, 'the query saw the transaction\'s own uncommitted row');
    if (mode === 'embedded') {
      // One connection: a query outside the transaction waits for it to end, then sees its committed row.
      const [, outside] = await Promise.all([
        db.transaction(async () => {
          await db.sequelize.query("INSERT INTO things VALUES (8, 'y')");
          await new Promise((r) => setTimeout(r, 30));
        }),
        count(db, 'SELECT count(*) AS n FROM things'),
      ]);
      t.equal(outside, 2, 'a query outside waits its turn, and completes');
    } else {
      // A pool: a query outside runs on another connection while the transaction is open, and reads committed data.
      let inserted!: () => void;
      const gate = new Promise<void>((r) => (inserted = r));
      // Started here, outside the transaction's context, as another request would be; it runs once the row is in.
      const outside = (async () => {
        await gate;
        return count(db, 'SELECT count(*) AS n FROM things');
      })();
      await db.transaction(async () => {
        await db.sequelize.query("INSERT INTO things VALUES (8, 'y')");
        inserted();
        await outside; // the transaction stays open until the outside query has answered
      });
      t.equal(await outside, 1, 'a query outside does not see the open transaction\'s row, and completes while it is open');
    }
  });
}


t.test('a PostgreSQL server that cannot be reached is a clear start error, with the password hidden', async (t) => {
  const err = await openDatabase({ url: 'postgres://someone:s3cret@127.0.0.1:1/nope', dataDir: '/unused', poolMax: 1, acquireTimeoutMs: 2000 }, log).then(() => undefined, (e: Error) => e);
  t.match(err?.message, /^cannot connect to postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/nope/);
  t.notOk(err?.message.includes('s3cret'), 'the password is not in the message');
});
