// A database for one test: an embedded PGlite in a temporary directory, or, when TEST_DATABASE_URL is set, a fresh
// database of its own on that PostgreSQL server (created here, dropped at the test's end), so runs never collide.
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import pg from 'pg';

export interface TestDatabase {
  /** The db plugin's config for this database. */
  config: { url: string; dataDir: string };
  mode: 'embedded' | 'postgres';
}

/** The PostgreSQL server tests use when one is configured (CI sets it). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? '';

let template: Promise<string> | undefined;

/**
 * A newly created embedded database, made once per PGlite version on this machine and copied for each test: creating
 * one (initdb) takes about 3 s, a copy about 0.3 s. It is made by the product's own code, then moved into place in
 * one rename, so that test processes running at once never see half of one. The tests of creation itself start
 * from an empty directory instead.
 */
export function embeddedTemplate(): Promise<string> {
  return (template ??= (async () => {
    const version = (JSON.parse(await readFile(new URL('../../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string }).version;
    const path = join(tmpdir(), `tickgate-test-pgdata-${version}-uid${process.getuid?.() ?? 0}`);
    if (await stat(join(path, 'PG_VERSION')).then(() => true, () => false)) return path;
    const { openDatabase } = await import('../../plugins/db/database.js');
    const { createLogger } = await import('../../core/logger.js');
    const scratch = await mkdtemp(join(tmpdir(), 'tickgate-test-pgdata-new-'));
    try {
      const db = await openDatabase({ url: '', dataDir: scratch, poolMax: 1, acquireTimeoutMs: 10_000 }, createLogger('silent'));
      await db.close();
      await rename(join(scratch, 'pgdata'), path).catch((err: NodeJS.ErrnoException) => {
        // Another test process moved its own into place first: use that one.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    return path;
  })().catch((err: unknown) => {
    template = undefined; // the next test tries again
    throw err;
  }));
}

/** A new temporary data directory holding a copy of `template` (from embeddedTemplate()): a gateway's later start. */
export function seededDataDir(template: string, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // cpSync: about a third of the CPU time of the promise-based cp for the database's thousand files.
  cpSync(template, join(dir, 'pgdata'), { recursive: true });
  return dir;
}

/** A temporary data directory holding a created embedded database (a copy of the template), removed at the test's end. */
export async function embeddedDataDir(t: Test): Promise<string> {
  const dir = seededDataDir(await embeddedTemplate(), 'tickgate-test-db-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function testDatabase(t: Test): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL) return { config: { url: '', dataDir: await embeddedDataDir(t) }, mode: 'embedded' };
  // On a PostgreSQL server the db plugin never opens the data directory: an empty one, not a copy of the template
  // (the copy cost more than creating and migrating the database).
  const dir = await mkdtemp(join(tmpdir(), 'tickgate-test-db-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const name = `tickgate_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  });
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return { config: { url: url.toString(), dataDir: dir }, mode: 'postgres' };
}
