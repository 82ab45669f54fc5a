// Built-in trading plugin: paper accounts filled against the live local books, orders:/portfolio: channels, REST and
// Binance-compatible order endpoints, and the `trading` service other plugins place orders with.
import { definePlugin } from '../../core/plugin-api.js';
import type { Database } from '../db/database.js';
import type { UsersService } from '../users/service.js';
import { configSchema, type TradingConfig } from './config.js';
import { TRADING_ERRORS } from './errors.js';
import { TRADING_MIGRATIONS } from './migrations.js';
import { TradingStore } from './trading-store.js';
import { OrderService, type OrderEvent, type OrderView } from './order-service.js';
import { Portfolios, type PortfolioView } from './portfolio.js';
import { tradingRoutes } from './routes.js';
import { binanceRoutes } from './binance-api.js';
import { parseNewOrder } from './order-rules.js';
import type { FillReport } from './shard.js';

export type { OrderEvent, OrderView, PortfolioView, TradingConfig };

/** What `api.use('trading')` gives another plugin (e.g. a strategy placing paper orders for its user). */
export interface TradingService {
  /**
   * Places a paper order for the user, as POST /api/v1/orders does (the same fields and checks; `quantity` and
   * `price` as decimal strings). Rejects with the same coded errors.
   */
  placeOrder(userId: string, order: { symbol: string; side: 'BUY' | 'SELL'; type: 'MARKET' | 'LIMIT'; quantity: string; price?: string; timeInForce?: 'GTC' | 'IOC'; clientOrderId?: string }): Promise<OrderView>;
  cancelOrder(userId: string, orderId: number): Promise<OrderView>;
  portfolio(userId: string): Promise<PortfolioView>;
  /** Hears every order change after it is committed. */
  onOrder(fn: (userId: string, event: OrderEvent) => void): void;
}

export default definePlugin<TradingConfig>({
  name: 'trading',
  configSchema,
  errors: TRADING_ERRORS,
  async acceptor(api) {
    const db = api.use<Database>('db');
    const users = api.use<UsersService>('users');
    await db.migrate('trading', TRADING_MIGRATIONS);
    const store = new TradingStore(db, api.config.startingBalances);
    const orders = new OrderService(api, store);
    const portfolios = new Portfolios(api, store, (channel, type, data) => users.publish(channel, type, data));
    orders.onOrder((userId, e) => {
      users.publish(`orders:${userId}`, 'order', e);
      portfolios.touch(userId);
    });
    api.onChannel('portfolio', { open: (_c, userId) => portfolios.opened(userId), close: (_c, userId) => portfolios.closed(userId) });
    api.onReport('fill', (data) => orders.onFill(data as FillReport));
    api.onShardStart(async (shard) => {
      const n = await orders.handOver(shard);
      if (n) api.log.info({ shard, orders: n }, 'resting orders handed to the shard');
    });
    tradingRoutes(api, orders, store, portfolios);
    if (api.config.binanceApi) binanceRoutes(api, orders, store, users);
    const service: TradingService = {
      placeOrder: async (userId, o) => {
        return (await orders.place(userId, parseNewOrder(o))).order;
      },
      cancelOrder: (userId, orderId) => orders.cancel(userId, { id: orderId }),
      portfolio: (userId) => portfolios.view(userId),
      onOrder: (fn) => orders.onOrder(fn),
    };
    api.provide('trading', service);
    api.onClose(async () => {
      portfolios.close();
      await orders.close();
    });
  },
  shard: new URL('./shard.js', import.meta.url),
});
