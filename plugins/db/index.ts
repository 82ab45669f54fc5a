// Built-in db plugin: the database other plugins store in (PostgreSQL by URL, or the embedded PGlite by default).
import { z } from 'zod';
import { definePlugin } from '../../core/plugin-api.js';
import { openDatabase } from './database.js';

export type { Database, Migration } from './database.js';

export default definePlugin({
  name: 'db',
  configSchema: z.object({
    /** postgres://user:password@host:5432/database (env DATABASE_URL); empty: the embedded database. */
    url: z.string().default('').refine((u) => u === '' || /^postgres(ql)?:\/\//.test(u), { message: 'must be a postgres:// URL, or empty for the embedded database' }),
    /** Where the embedded database keeps its files (env TICKGATE_DATA_DIR); relative to the working directory. */
    dataDir: z.string().min(1).default('./data'),
    poolMax: z.number().int().min(1).max(100).default(10),
    acquireTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    /** The embedded database's shared buffers (PostgreSQL's shared_buffers): a size such as 16MB or 128MB. */
    sharedBuffers: z.string().regex(/^\d+(kB|MB|GB)$/, 'must be a size such as 16MB or 1GB').default('16MB'),
  }).strict(),
  async acceptor(api) {
    const db = await openDatabase(api.config, api.log);
    api.onClose(() => db.close());
    api.provide('db', db);
  },
});
