// A database for one test: an embedded PGlite in a temporary directory, or, when TEST_DATABASE_URL is set, a fresh
// database of its own on that PostgreSQL server (created here, dropped at the test's end), so runs never collide.
import { mkdtemp, rm } from 'node:fs/promises';
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

export async function testDatabase(t: Test): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'tickgate-test-db-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
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
