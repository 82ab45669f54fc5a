// The embedded PostgreSQL: PGlite on a data directory, served to `pg` by pglite-socket on a private Unix socket.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Logger } from '../../core/logger.js';

/** pg reaches a Unix socket as `<host directory>/.s.PGSQL.<port>`. */
export const SOCKET_PORT = 5432;
const LOCK_FILE = 'tickgate-db.lock';

export interface EmbeddedDatabase {
  /** Directory of the socket: pg's `host`, with `port` SOCKET_PORT. */
  socketDir: string;
  port: number;
  close(): Promise<void>;
}

interface LockContent {
  pid: number;
  socketDir: string;
}

/** A data directory another live process holds: its pid and the socket it serves the database on. */
export class DataDirInUse extends Error {
  constructor(readonly dataDir: string, readonly holder: LockContent) {
    super(`the embedded database in ${dataDir} is in use by process ${holder.pid}: one tickgate serves one data directory (stop the other, or give this one another db dataDir)`);
    this.name = 'DataDirInUse';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs initdb in a worker thread, so that its memory is released with the worker. */
function createInWorker(dir: string, conf: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./embedded-init.js', import.meta.url), { workerData: { dir, conf } });
    let created = false;
    worker.once('message', () => (created = true));
    worker.once('error', reject);
    worker.once('exit', (code) => (created ? resolve() : reject(new Error(`creating the embedded database in ${dir} failed (worker exit ${code})`))));
  });
}

/** The holder of a data directory, if a live process holds it. */
export async function dataDirHolder(dataDir: string): Promise<LockContent | undefined> {
  let content: LockContent;
  try {
    content = JSON.parse(await readFile(join(dataDir, LOCK_FILE), 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
  return Number.isInteger(content.pid) && content.pid !== process.pid && alive(content.pid) ? content : undefined;
}

/**
 * Opens (creating on first use) the PGlite database in `dataDir` and serves it on a Unix socket in a new directory
 * only this user can enter: the embedded database has no password, so no other local user may reach it. PGlite is
 * one process's: a lock file in the data directory refuses a second process.
 */
export async function startEmbedded(dataDir: string, log: Logger, sharedBuffers = '16MB'): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const holder = await dataDirHolder(dataDir);
  if (holder) throw new DataDirInUse(dataDir, holder);
  const socketDir = await mkdtemp(join(tmpdir(), 'tickgate-db-'));
  const lockPath = join(dataDir, LOCK_FILE);
  await writeFile(lockPath, JSON.stringify({ pid: process.pid, socketDir } satisfies LockContent), { mode: 0o600 });
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  const started = Date.now();
  try {
    // PostgreSQL's default 128 MB of shared buffers cost the gateway about 110 MB of resident memory (measured); an
    // accounts database fits in far less, and the OS still caches its files.
    const conf = [`shared_buffers=${sharedBuffers}`];
    const pgdata = join(dataDir, 'pgdata');
    if (!existsSync(join(pgdata, 'PG_VERSION'))) {
      log.info({ dataDir }, 'creating the embedded database (first start: a few seconds)');
      await createInWorker(pgdata, conf);
    }
    db = await PGlite.create(pgdata, { postgresqlconf: conf });
    server = new PGLiteSocketServer({ db, path: join(socketDir, `.s.PGSQL.${SOCKET_PORT}`), maxConnections: 16 });
    await server.start();
  } catch (err) {
    await server?.stop().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await rm(socketDir, { recursive: true, force: true });
    await rm(lockPath, { force: true });
    throw err;
  }
  log.info({ dataDir, ms: Date.now() - started }, 'embedded PostgreSQL (PGlite) open');
  let closing: Promise<void> | undefined;
  return {
    socketDir,
    port: SOCKET_PORT,
    close: () => (closing ??= (async () => {
      await server!.stop().catch((err: unknown) => log.warn({ err }, 'embedded database socket did not stop cleanly'));
      await db!.close();
      await rm(socketDir, { recursive: true, force: true });
      await rm(lockPath, { force: true });
    })()),
  };
}
