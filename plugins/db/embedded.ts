// The embedded PostgreSQL: PGlite on a data directory, served to `pg` by pglite-socket on a private Unix socket.
import { link, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FromEmbeddedServer, ToEmbeddedServer } from './embedded-server.js';
import type { Logger } from '../../core/logger.js';

/** pg reaches a Unix socket as `<host directory>/.s.PGSQL.<port>`. */
export const SOCKET_PORT = 5432;
const LOCK_FILE = 'tickgate-db.lock';
const CLOSE_TIMEOUT_MS = 30_000;

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
 * Takes the data directory's lock file. The file is written whole under another name and linked into place, so it
 * exists only complete, and of processes starting together exactly one links it. A lock left by a process that is
 * gone is removed under a second, exclusive guard (a directory), after reading it again there: two processes that
 * both found the same stale lock cannot both remove a lock, so one never removes the other's new one.
 */
async function takeLock(dataDir: string, content: LockContent): Promise<string> {
  const lockPath = join(dataDir, LOCK_FILE);
  const guard = `${lockPath}.break`;
  const mine = `${lockPath}.${process.pid}.${Date.now()}`;
  await writeFile(mine, JSON.stringify(content), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        await link(mine, lockPath);
        return lockPath;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await dataDirHolder(dataDir);
      if (holder) throw new DataDirInUse(dataDir, holder);
      try {
        await mkdir(guard);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // Another process is removing the stale lock; a guard left by a process that died doing so is old.
        const age = await stat(guard).then((st) => Date.now() - st.mtimeMs, () => 0);
        if (age > 10_000) await rm(guard, { recursive: true, force: true });
        await new Promise((r) => setTimeout(r, 25));
        continue;
      }
      try {
        if (!(await dataDirHolder(dataDir))) await rm(lockPath, { force: true });
      } finally {
        await rm(guard, { recursive: true, force: true });
      }
    }
    throw new Error(`cannot take the lock file ${lockPath}; if no tickgate uses ${dataDir}, delete that file and ${guard}`);
  } finally {
    await rm(mine, { force: true });
  }
}

/** Starts the worker that serves the database; resolves when it accepts connections. */
function serveInWorker(dir: string, conf: string[], path: string): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./embedded-server.js', import.meta.url), { workerData: { dir, conf, path, maxConnections: 16 } });
    const settle = (err?: Error) => {
      worker.off('message', onMessage);
      worker.off('error', settle);
      worker.off('exit', onExit);
      if (err) reject(err);
      else resolve(worker);
    };
    const onExit = (code: number) => settle(new Error(`the embedded database worker ended (exit ${code}) before it served`));
    const onMessage = (m: FromEmbeddedServer) => settle(m.type === 'ready' ? undefined : new Error(m.type === 'failed' ? m.message : 'the embedded database worker ended before it served'));
    worker.once('message', onMessage);
    worker.once('error', settle);
    worker.once('exit', onExit);
  });
}

/**
 * Opens (creating on first use) the PGlite database in `dataDir` and serves it on a Unix socket in a new directory
 * only this user can enter: the embedded database has no password, so no other local user may reach it. PGlite runs
 * in a worker thread of its own: its queries run synchronously, and on the acceptor's thread a long one (an admin's
 * search over many users) would stall every connection. PGlite is one process's: a lock file in the data directory
 * refuses a second process.
 */
export async function startEmbedded(dataDir: string, log: Logger, sharedBuffers = '16MB'): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const socketDir = await mkdtemp(join(tmpdir(), 'tickgate-db-'));
  let lockPath: string;
  try {
    lockPath = await takeLock(dataDir, { pid: process.pid, socketDir });
  } catch (err) {
    await rm(socketDir, { recursive: true, force: true });
    throw err;
  }
  let worker: Worker;
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
    worker = await serveInWorker(pgdata, conf, join(socketDir, `.s.PGSQL.${SOCKET_PORT}`));
  } catch (err) {
    await rm(socketDir, { recursive: true, force: true });
    await rm(lockPath, { force: true });
    throw err;
  }
  log.info({ dataDir, ms: Date.now() - started }, 'embedded PostgreSQL (PGlite) open');
  let closing: Promise<void> | undefined;
  // Until close() asks it to, the worker never ends: if it does, every query fails from then on, and the log says why.
  const onExit = (code: number) => log.error({ dataDir, exitCode: code }, 'the embedded database stopped unexpectedly: queries fail until tickgate is restarted');
  const onError = (err: Error) => log.error({ err, dataDir }, 'the embedded database failed');
  let exited = false;
  worker.on('exit', onExit);
  worker.on('error', onError);
  worker.once('exit', () => (exited = true));
  return {
    socketDir,
    port: SOCKET_PORT,
    close: () => (closing ??= (async () => {
      worker.off('exit', onExit);
      let failure: Error | undefined;
      if (!exited) {
        await new Promise<void>((resolve) => {
          worker.on('message', (m: FromEmbeddedServer) => {
            if (m.type !== 'closed') return;
            if (m.warning) log.warn({ dataDir }, m.warning);
            if (m.error) failure = new Error(`the embedded database in ${dataDir} did not close cleanly: ${m.error}`);
          });
          worker.once('exit', () => resolve());
          // PGlite writes its state as it closes: give it time, but never wait forever.
          const timer = setTimeout(() => {
            failure = new Error(`the embedded database in ${dataDir} did not close within ${CLOSE_TIMEOUT_MS / 1000} s`);
            void worker.terminate();
          }, CLOSE_TIMEOUT_MS);
          worker.once('exit', () => clearTimeout(timer));
          worker.postMessage({ type: 'close' } satisfies ToEmbeddedServer);
        });
      }
      await rm(socketDir, { recursive: true, force: true });
      await rm(lockPath, { force: true });
      if (failure) throw failure;
    })()),
  };
}
