// What the database tests share: a database opened for one test, two demo migrations, and a count query.
import type { Test } from 'tap';
import { QueryTypes, DataTypes } from 'sequelize';
import { openDatabase, type Database, type Migration } from '../../../plugins/db/database.js';
import { createLogger } from '../../../core/logger.js';
import { embeddedDataDir, testDatabase } from '../../helpers/database.js';

export const log = createLogger('silent');

export async function open(t: Test, mode: 'configured' | 'embedded'): Promise<Database> {
  const config = mode === 'embedded' ? { url: '', dataDir: await embeddedDataDir(t) } : (await testDatabase(t)).config;
  const db = await openDatabase({ ...config, poolMax: 5, acquireTimeoutMs: 5000 }, log);
  t.teardown(() => db.close());
  return db;
}

export const createThings: Migration = {
  name: '0001-create-things',
  async up({ queryInterface, transaction }) {
    await queryInterface.createTable('things', { id: { type: DataTypes.INTEGER, primaryKey: true }, label: { type: DataTypes.TEXT, allowNull: false } }, { transaction });
  },
};
export const addCounter: Migration = {
  name: '0002-create-counter',
  async up({ sequelize, transaction }) {
    await sequelize.query('CREATE TABLE counter (id INT PRIMARY KEY, n INT NOT NULL)', { transaction });
    await sequelize.query('INSERT INTO counter VALUES (1, 0)', { transaction });
  },
};

export async function count(db: Database, sql: string): Promise<number> {
  const rows = await db.sequelize.query<{ n: string }>(sql, { type: QueryTypes.SELECT });
  return Number(rows[0]!.n);
}
