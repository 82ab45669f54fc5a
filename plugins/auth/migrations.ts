// The auth plugin's schema, as migrations: signing keys it generated, sessions and their refresh tokens.
import { DataTypes } from 'sequelize';
import type { Migration } from '../db/database.js';

export const AUTH_MIGRATIONS: readonly Migration[] = [
  {
    name: '0001-create-signing-keys',
    async up({ queryInterface: q, transaction }) {
      // Keys the server generated because none was configured: kept with the data, so every restart (and every
      // gateway on the same database) signs and verifies with the same key.
      await q.createTable('auth_signing_keys', {
        kid: { type: DataTypes.TEXT, primaryKey: true },
        alg: { type: DataTypes.TEXT, allowNull: false },
        material: { type: DataTypes.TEXT, allowNull: false },
        created_at: { type: DataTypes.DATE, allowNull: false },
      }, { transaction });
    },
  },
  {
    name: '0002-create-sessions',
    async up({ queryInterface: q, transaction }) {
      await q.createTable('auth_sessions', {
        id: { type: DataTypes.UUID, primaryKey: true },
        user_id: { type: DataTypes.UUID, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
        created_at: { type: DataTypes.DATE, allowNull: false },
        expires_at: { type: DataTypes.DATE, allowNull: false },
        revoked_at: { type: DataTypes.DATE, allowNull: true },
        revoked_reason: { type: DataTypes.TEXT, allowNull: true },
        created_ip: { type: DataTypes.TEXT, allowNull: true },
        user_agent: { type: DataTypes.TEXT, allowNull: true },
      }, { transaction });
      await q.addIndex('auth_sessions', ['user_id'], { name: 'auth_sessions_user_id', transaction });
      // One row per refresh token ever issued: a used one stays, so that its reuse is recognised as theft.
      await q.createTable('auth_refresh_tokens', {
        token_hash: { type: DataTypes.TEXT, primaryKey: true },
        session_id: { type: DataTypes.UUID, allowNull: false, references: { model: 'auth_sessions', key: 'id' }, onDelete: 'CASCADE' },
        created_at: { type: DataTypes.DATE, allowNull: false },
        used_at: { type: DataTypes.DATE, allowNull: true },
      }, { transaction });
      await q.addIndex('auth_refresh_tokens', ['session_id'], { name: 'auth_refresh_tokens_session_id', transaction });
    },
  },
];
