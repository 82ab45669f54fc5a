// Worker that serves the embedded database: PGlite and pglite-socket on this thread, so that PGlite's queries, which
// run synchronously in WebAssembly, never hold the acceptor's event loop. The acceptor reaches it over the Unix
// socket like any PostgreSQL client.
import { workerData, parentPort } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export type FromEmbeddedServer = { type: 'ready' } | { type: 'failed'; message: string } | { type: 'closed'; warning?: string; error?: string };
export type ToEmbeddedServer = { type: 'close' };

const { dir, conf, path, maxConnections } = workerData as { dir: string; conf: string[]; path: string; maxConnections: number };
const port = parentPort!;
const send = (m: FromEmbeddedServer) => port.postMessage(m);

let db: PGlite | undefined;
let server: PGLiteSocketServer | undefined;
try {
  db = await PGlite.create(dir, { postgresqlconf: conf });
  server = new PGLiteSocketServer({ db, path, maxConnections });
  await server.start();
  send({ type: 'ready' });
} catch (err) {
  await server?.stop().catch(() => undefined);
  await db?.close().catch(() => undefined);
  send({ type: 'failed', message: (err as Error).message });
  port.close();
}

port.on('message', (m: ToEmbeddedServer) => {
  if (m.type !== 'close') return;
  void (async () => {
    let warning: string | undefined;
    await server?.stop().catch((err: unknown) => (warning = `the embedded database socket did not stop cleanly: ${(err as Error).message}`));
    // Closing PGlite writes its last state to the data directory: the worker must not end before it has.
    let error: string | undefined;
    await db?.close().catch((err: unknown) => (error = (err as Error).message));
    send({ type: 'closed', warning, error });
    port.close();
  })();
});
