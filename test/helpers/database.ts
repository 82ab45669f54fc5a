// A database for one test: an embedded PGlite in a temporary directory, or, when TEST_DATABASE_URL is set, a fresh
// database of its own on that PostgreSQL server (created here, dropped at the test's end), so runs never collide.
import { cp, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
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
  cpSync(template, join(dir, 'pgdata'), { recursive: true });
  return dir;
}

export async function testDatabase(t: Test): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'tickgate-test-db-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // The data directory holds a created database in both modes: a test that opens the embedded one with it (as the
  // database tests do beside a server) does not wait for initdb either.
  await cp(await embeddedTemplate(), join(dir, 'pgdata'), { recursive: true });
  if (!TEST_DATABASE_URL) return { config: { url: '', dataDir: dir }, mode: 'embedded' };
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
