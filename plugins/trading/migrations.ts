// The trading plugin's schema: paper accounts, balances, orders, fills and positions (CHECKs keep amounts ≥ 0).
import type { Migration } from '../db/database.js';

const AMOUNT = 'NUMERIC(38, 18)';

export const TRADING_MIGRATIONS: readonly Migration[] = [
  {
    name: '0001-create-trading',
    async up({ sequelize: s, transaction }) {
      const q = (sql: string) => s.query(sql, { transaction });
      await q(`CREATE TABLE trading_accounts (
        user_id UUID PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        reset_at TIMESTAMPTZ NULL)`);
      await q(`CREATE TABLE trading_balances (
        user_id UUID NOT NULL REFERENCES trading_accounts(user_id) ON DELETE CASCADE,
        asset TEXT NOT NULL,
        free ${AMOUNT} NOT NULL CHECK (free >= 0),
        locked ${AMOUNT} NOT NULL CHECK (locked >= 0),
        PRIMARY KEY (user_id, asset))`);
      await q(`CREATE TABLE trading_orders (
        id BIGSERIAL PRIMARY KEY,
        user_id UUID NOT NULL REFERENCES trading_accounts(user_id) ON DELETE CASCADE,
        client_order_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        base_asset TEXT NOT NULL,
        quote_asset TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
        type TEXT NOT NULL CHECK (type IN ('MARKET', 'LIMIT')),
        time_in_force TEXT NULL CHECK (time_in_force IN ('GTC', 'IOC')),
        price ${AMOUNT} NULL,
        quantity ${AMOUNT} NOT NULL CHECK (quantity > 0),
        filled_quantity ${AMOUNT} NOT NULL DEFAULT 0,
        taker_quantity ${AMOUNT} NOT NULL DEFAULT 0,
        quote_quantity ${AMOUNT} NOT NULL DEFAULT 0,
        fee ${AMOUNT} NOT NULL DEFAULT 0,
        locked ${AMOUNT} NOT NULL DEFAULT 0 CHECK (locked >= 0),
        maker_rate NUMERIC(10, 8) NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')),
        reject_code TEXT NULL,
        reject_message TEXT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        CHECK (filled_quantity >= 0 AND filled_quantity <= quantity))`);
      // A client order id names one order of the account; a refused (REJECTED) one frees it for the retry.
      await q(`CREATE UNIQUE INDEX trading_orders_client_order_id ON trading_orders (user_id, client_order_id) WHERE status <> 'REJECTED'`);
      await q(`CREATE INDEX trading_orders_open ON trading_orders (symbol) WHERE status IN ('NEW', 'PARTIALLY_FILLED')`);
      await q('CREATE INDEX trading_orders_user ON trading_orders (user_id, id DESC)');
      await q(`CREATE TABLE trading_fills (
        id BIGSERIAL PRIMARY KEY,
        order_id BIGINT NOT NULL REFERENCES trading_orders(id) ON DELETE CASCADE,
        user_id UUID NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        price ${AMOUNT} NOT NULL,
        quantity ${AMOUNT} NOT NULL CHECK (quantity > 0),
        quote_quantity ${AMOUNT} NOT NULL,
        fee ${AMOUNT} NOT NULL,
        fee_asset TEXT NOT NULL,
        liquidity TEXT NOT NULL CHECK (liquidity IN ('maker', 'taker')),
        source TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        UNIQUE (order_id, source))`);
      await q('CREATE INDEX trading_fills_user ON trading_fills (user_id, id DESC)');
      await q(`CREATE TABLE trading_positions (
        user_id UUID NOT NULL REFERENCES trading_accounts(user_id) ON DELETE CASCADE,
        symbol TEXT NOT NULL,
        quantity ${AMOUNT} NOT NULL CHECK (quantity >= 0),
        average_price ${AMOUNT} NOT NULL,
        realized_pnl ${AMOUNT} NOT NULL,
        PRIMARY KEY (user_id, symbol))`);
    },
  },
];
