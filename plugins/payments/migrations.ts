// The payments plugin's schema, as migrations: each user's Stripe customer, their subscriptions, and webhook events.
import { DataTypes } from 'sequelize';
import type { Migration } from '../db/database.js';

export const PAYMENTS_MIGRATIONS: readonly Migration[] = [
  {
    name: '0001-create-payments',
    async up({ queryInterface: q, transaction }) {
      // One Stripe customer per user: the primary key is the rule, and the unique customer id keeps two users apart.
      await q.createTable('payment_customers', {
        user_id: { type: DataTypes.UUID, primaryKey: true, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
        customer_id: { type: DataTypes.TEXT, allowNull: false, unique: true },
        created_at: { type: DataTypes.DATE, allowNull: false },
      }, { transaction });
      // Subscriptions as last read from Stripe (never as an event said them): fetched_at orders the reads.
      await q.createTable('payment_subscriptions', {
        id: { type: DataTypes.TEXT, primaryKey: true },
        user_id: { type: DataTypes.UUID, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
        customer_id: { type: DataTypes.TEXT, allowNull: false },
        status: { type: DataTypes.TEXT, allowNull: false },
        price_id: { type: DataTypes.TEXT, allowNull: true },
        current_period_end: { type: DataTypes.DATE, allowNull: true },
        cancel_at_period_end: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
        fetched_at: { type: DataTypes.DATE, allowNull: false },
        updated_at: { type: DataTypes.DATE, allowNull: false },
      }, { transaction });
      await q.addIndex('payment_subscriptions', ['user_id'], { name: 'payment_subscriptions_user_id', transaction });
      // Every webhook event once: the primary key makes a replay or a concurrent duplicate a no-op.
      await q.createTable('payment_events', {
        id: { type: DataTypes.TEXT, primaryKey: true },
        type: { type: DataTypes.TEXT, allowNull: false },
        /** The subscription the event is about (or the checkout session's), read again from Stripe when processed. */
        subscription_id: { type: DataTypes.TEXT, allowNull: true },
        stripe_created_at: { type: DataTypes.DATE, allowNull: false },
        received_at: { type: DataTypes.DATE, allowNull: false },
        processed_at: { type: DataTypes.DATE, allowNull: true },
        attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
        next_attempt_at: { type: DataTypes.DATE, allowNull: false },
        last_error: { type: DataTypes.TEXT, allowNull: true },
      }, { transaction });
      await q.addIndex('payment_events', ['processed_at', 'next_attempt_at'], { name: 'payment_events_pending', transaction });
    },
  },
  {
    name: '0002-create-deleted-accounts',
    async up({ queryInterface: q, transaction }) {
      // Accounts deleted here (no foreign key: the user row is gone): a subscription bought for one of them that
      // Stripe still holds is canceled when any of its events arrives.
      await q.createTable('payment_deleted_accounts', {
        user_id: { type: DataTypes.UUID, primaryKey: true },
        deleted_at: { type: DataTypes.DATE, allowNull: false },
      }, { transaction });
    },
  },
];
