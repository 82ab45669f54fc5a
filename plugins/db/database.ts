// The `db` service: one Sequelize on PostgreSQL (a server by URL, or the embedded one), migrations, transactions.
import { resolve } from 'node:path';
import { Sequelize, type Options, type QueryInterface, type Transaction } from 'sequelize';
import { Umzug, SequelizeStorage } from 'umzug';
import type { Logger } from '../../core/logger.js';
import { installTransactionContext } from './cls.js';
import { DataDirInUse, SOCKET_PORT, startEmbedded, type EmbeddedDatabase } from './embedded.js';

/** One schema change of a plugin: `up` applies it; it runs once per database, recorded by name. */
export interface Migration {
  /** Unique within the plugin and sortable: "0001-create-users". */
  name: string;
  up(ctx: { queryInterface: QueryInterface; sequelize: Sequelize; transaction: Transaction }): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://… of a PostgreSQL server; empty: the embedded database in dataDir. */
  url: string;
  dataDir: string;
  /** Connections to a PostgreSQL server (the embedded database is one session: it always uses one). */
  poolMax: number;
  /** How long a query waits for a free connection before it fails. */
  acquireTimeoutMs: number;
  /** The embedded database's shared_buffers (PostgreSQL's default, 128MB, costs about 110 MB more resident memory). */
  sharedBuffers?: string;
  /**
   * For tools run beside a gateway (npm run user:create): when a running gateway holds the embedded database, use
   * it through that gateway's socket instead of refusing.
   */
  attach?: boolean;
}

/** What plugins get from `api.use('db')`. */
export interface Database {
  readonly sequelize: Sequelize;
  /** `embedded` (PGlite) or `postgres` (a server by URL). */
  readonly mode: 'embedded' | 'postgres';
  /**
   * Applies the plugin's migrations that this database has not run yet, in order, each in its own transaction;
   * recorded as `<plugin>:<name>` in the table tickgate_migrations. Run it from the plugin's acceptor setup, before
   * its routes serve; running it again applies nothing.
   */
  migrate(plugin: string, migrations: readonly Migration[]): Promise<string[]>;
  /**
   * Runs `fn` in a transaction: every query inside it joins the transaction, passed or not. Do not open another
   * transaction inside `fn` (Sequelize would take a second connection, and the embedded database has one).
   */
  transaction<T>(fn: (t: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The advisory lock key migrations take (any constant: "tickgate" in ASCII). */
const MIGRATION_LOCK = 0x7469636b67617465n.toString();
const MIGRATION_NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/;

export async function openDatabase(opts: DatabaseOptions, log: Logger): Promise<Database> {
  installTransactionContext();
  let embedded: EmbeddedDatabase | undefined;
  let sequelize: Sequelize;
  const common: Options = {
    dialect: 'postgres',
    // Queries carry password hashes and key hashes: never logged.
    logging: false,
    define: { underscored: true },
  };
  if (opts.url) {
    sequelize = new Sequelize(opts.url, { ...common, pool: { max: opts.poolMax, min: 0, acquire: opts.acquireTimeoutMs, idle: 10_000 } });
  } else {
    const dataDir = resolve(opts.dataDir);
    let socket: { socketDir: string; port: number };
    try {
      socket = embedded = await startEmbedded(dataDir, log, opts.sharedBuffers);
    } catch (err) {
      if (!(opts.attach && err instanceof DataDirInUse)) throw err;
      socket = { socketDir: err.holder.socketDir, port: SOCKET_PORT };
      log.info({ dataDir, pid: err.holder.pid }, 'using the embedded database of the running gateway');
    }
    // One connection: PGlite is one session, and pglite-socket would hold a second connection's queries while the
    // first is in a transaction anyway. With one, nothing can wait on itself: a query outside a transaction waits
    // its turn (at most acquireTimeoutMs), never forever.
    sequelize = new Sequelize('postgres', 'postgres', '', {
      ...common,
      host: socket.socketDir,
      port: socket.port,
      pool: { max: 1, min: 0, acquire: opts.acquireTimeoutMs, idle: 60_000 },
    });
  }
  try {
    await sequelize.authenticate();
  } catch (err) {
    await sequelize.close().catch(() => undefined);
    await embedded?.close();
    const where = opts.url ? redactUrl(opts.url) : `the embedded database in ${resolve(opts.dataDir)}`;
    throw new Error(`cannot connect to ${where}: ${(err as Error).message}`);
  }
  if (opts.url) log.info({ url: redactUrl(opts.url) }, 'connected to PostgreSQL');
  const storage = new SequelizeStorage({ sequelize, tableName: 'tickgate_migrations' });
  let closing: Promise<void> | undefined;
  const db: Database = {
    sequelize,
    mode: opts.url ? 'postgres' : 'embedded',
    async migrate(plugin, migrations) {
      for (const m of migrations) {
        if (!MIGRATION_NAME.test(m.name)) throw new Error(`plugin "${plugin}": migration name "${m.name}" must be lowercase letters, digits, ".", "_" and "-"`);
      }
      // One transaction for the plugin's whole run, opened by an advisory lock: gateways starting together on one
      // database take turns, and the second finds nothing pending. PostgreSQL's DDL is transactional, so a failed
      // migration leaves neither its changes nor its record.
      const applied = await db.transaction(async (transaction) => {
        await sequelize.query('SELECT pg_advisory_xact_lock($1)', { bind: [MIGRATION_LOCK] });
        const umzug = new Umzug({
          migrations: migrations.map((m) => ({
            name: `${plugin}:${m.name}`,
            up: () => m.up({ queryInterface: sequelize.getQueryInterface(), sequelize, transaction }),
          })),
          storage: {
            // Each plugin sees only its own records: another plugin's migrations are not "pending" here.
            executed: async () => (await storage.executed()).filter((name) => name.startsWith(`${plugin}:`)),
            logMigration: (p) => storage.logMigration(p),
            unlogMigration: (p) => storage.unlogMigration(p),
          },
          logger: undefined,
        });
        return umzug.up();
      });
      if (applied.length) log.info({ of: plugin, migrations: applied.map((a) => a.name) }, 'migrations applied');
      return applied.map((a) => a.name);
    },
    transaction: <T>(fn: (t: Transaction) => Promise<T>) => sequelize.transaction((t) => fn(t)),
    close: () => (closing ??= (async () => {
      try {
        await sequelize.close();
      } finally {
        await embedded?.close();
      }
    })()),
  };
  return db;
}

/** A URL fit for logs: the password hidden. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
