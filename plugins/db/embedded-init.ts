// Worker that creates a new embedded database (PGlite's initdb) and exits: initdb's WebAssembly memory, over
// 400 MB, goes with the worker instead of staying in the gateway's heap until a full collection.
import { workerData, parentPort } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

const { dir, conf } = workerData as { dir: string; conf: string[] };
const db = await PGlite.create(dir, { postgresqlconf: conf });
await db.close();
parentPort!.postMessage('created');
