// The users plugin's schema, as migrations: users and their API keys.
import { DataTypes } from 'sequelize';
import type { Migration } from '../db/database.js';

export const USERS_MIGRATIONS: readonly Migration[] = [
  {
    name: '0001-create-users',
    async up({ queryInterface: q, transaction }) {
      await q.createTable('users', {
        id: { type: DataTypes.UUID, primaryKey: true },
        // Stored lowercased: the unique index is the rule that one email is one account.
        email: { type: DataTypes.TEXT, allowNull: false, unique: true },
        password_hash: { type: DataTypes.TEXT, allowNull: false },
        display_name: { type: DataTypes.TEXT, allowNull: false },
        role: { type: DataTypes.TEXT, allowNull: false, defaultValue: 'user' },
        disabled_at: { type: DataTypes.DATE, allowNull: true },
        created_at: { type: DataTypes.DATE, allowNull: false },
        updated_at: { type: DataTypes.DATE, allowNull: false },
      }, { transaction });
      await q.sequelize.query(`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'))`, { transaction });
      await q.addIndex('users', ['created_at'], { name: 'users_created_at', transaction });
    },
  },
  {
    name: '0002-create-api-keys',
    async up({ queryInterface: q, transaction }) {
      await q.createTable('api_keys', {
        id: { type: DataTypes.UUID, primaryKey: true },
        user_id: { type: DataTypes.UUID, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
        name: { type: DataTypes.TEXT, allowNull: false },
        // SHA-256 of the key: a key is 256 random bits, so a fast hash is enough and lookups are by hash.
        key_hash: { type: DataTypes.TEXT, allowNull: false, unique: true },
        key_prefix: { type: DataTypes.TEXT, allowNull: false },
        created_at: { type: DataTypes.DATE, allowNull: false },
        last_used_at: { type: DataTypes.DATE, allowNull: true },
      }, { transaction });
      await q.addIndex('api_keys', ['user_id'], { name: 'api_keys_user_id', transaction });
    },
  },
  {
    name: '0003-api-key-secrets',
    async up({ queryInterface: q, transaction }) {
      // The secret a program signs requests with (HMAC-SHA256, as Binance's API does): the server needs it to check a
      // signature, so it is stored as it is, unlike the key. Keys made before this have none and cannot sign.
      await q.addColumn('api_keys', 'secret', { type: DataTypes.TEXT, allowNull: true }, { transaction });
    },
  },
];
