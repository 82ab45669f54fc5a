// Paper orders end to end on the acceptor: match in the symbol's shard, commit in one transaction, rest, fill, cancel.
import { randomBytes } from 'node:crypto';
import { UniqueConstraintError } from 'sequelize';
import type { AcceptorApi } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
import { D, LedgerInvariantError, OPEN_STATUSES, ZERO, type Dec, type LedgerFill } from './ledger.js';
import { checkFilters, checkNotional, type NewOrder } from './order-rules.js';
import { vwap } from './book-walk.js';
import { TRADING_ERRORS } from './errors.js';
import type { TradingStore, OrderRow, FillRow } from './trading-store.js';
import type { FillReport, MatchAnswer, MatchParams, RestParams } from './shard.js';
import type { TradingConfig } from './config.js';

/** An order as the API shows it (REST, the orders: channel, the trading service). */
export interface OrderView {
  id: number;
  clientOrderId: string;
  symbol: string;
  side: string;
  type: string;
  timeInForce: string | null;
  price: string | null;
  quantity: string;
  filledQuantity: string;
  averagePrice: string | null;
  quoteQuantity: string;
  fee: string;
  feeAsset: string;
  status: string;
  /** Why a REJECTED order was refused. */
  reason: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
}

export interface FillView {
  id: number;
  orderId: number;
  symbol: string;
  side: string;
  price: string;
  quantity: string;
  quoteQuantity: string;
  fee: string;
  feeAsset: string;
  liquidity: 'maker' | 'taker';
  time: string;
}

export function orderView(o: OrderRow): OrderView {
  return {
    id: o.id, clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, timeInForce: o.timeInForce,
    price: o.price?.toFixed() ?? null, quantity: o.quantity.toFixed(), filledQuantity: o.filledQuantity.toFixed(),
    averagePrice: o.filledQuantity.isZero() ? null : o.quoteQuantity.div(o.filledQuantity).toDecimalPlaces(12).toFixed(),
    quoteQuantity: o.quoteQuantity.toFixed(), fee: o.fee.toFixed(), feeAsset: o.quoteAsset, status: o.status,
    reason: o.rejectCode ? { code: o.rejectCode, message: o.rejectMessage ?? '' } : null,
    createdAt: o.createdAt.toISOString(), updatedAt: o.updatedAt.toISOString(),
  };
}

export function fillView(f: FillRow): FillView {
  return {
    id: f.id, orderId: f.orderId, symbol: f.symbol, side: f.side, price: f.price.toFixed(), quantity: f.quantity.toFixed(),
    quoteQuantity: f.quoteQuantity.toFixed(), fee: f.fee.toFixed(), feeAsset: f.feeAsset, liquidity: f.liquidity, time: f.createdAt.toISOString(),
  };
}

/** One change of an order, as the orders: channel and `onOrder` listeners get it. */
export interface OrderEvent {
  event: 'new' | 'partially_filled' | 'filled' | 'canceled' | 'rejected' | 'expired';
  order: OrderView;
  /** The fills of this change (none for new, canceled, rejected). */
  fills: FillView[];
}

const EVENT_OF: Record<string, OrderEvent['event']> = {
  NEW: 'new', PARTIALLY_FILLED: 'partially_filled', FILLED: 'filled', CANCELED: 'canceled', REJECTED: 'rejected', EXPIRED: 'expired',
};

/** A client order id as Binance makes one when the client gives none. */
function newClientOrderId(): string {
  return `tg${randomBytes(15).toString('base64url')}`;
}

const FILL_RETRIES = 6;

export class OrderService {
  private readonly listeners: Array<(userId: string, e: OrderEvent) => void> = [];
  /** Fills of one order are committed one after another, in the order the shard found them. */
  private readonly fillQueue = new KeyedQueue();
  private readonly takerRate: Dec;
  private readonly makerRate: Dec;
  private closed = false;

  constructor(
    private readonly api: AcceptorApi<TradingConfig>,
    private readonly store: TradingStore,
  ) {
    this.takerRate = new D(api.config.fees.taker);
    this.makerRate = new D(api.config.fees.maker);
  }

  /** Hears every order change after it is committed (the orders: channel is one listener). */
  onOrder(fn: (userId: string, e: OrderEvent) => void): void {
    this.listeners.push(fn);
  }

  private emit(userId: string, order: OrderRow, fills: FillRow[]): void {
    const e: OrderEvent = { event: EVENT_OF[order.status]!, order: orderView(order), fills: fills.map(fillView) };
    for (const fn of this.listeners) {
      try {
        fn(userId, e);
      } catch (err) {
        this.api.log.error({ err }, 'an order listener failed (contained)');
      }
    }
  }

  /** A database failure becomes a coded 503; coded errors pass. */
  private async db<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TickgateError || err instanceof UniqueConstraintError) throw err;
      if (err instanceof LedgerInvariantError) {
        this.api.log.error({ err }, 'a paper-trading operation would break the ledger: refused, nothing changed');
        throw new TickgateError('TG_ERR_INTERNAL');
      }
      this.api.log.error({ err }, 'trading database operation failed');
      throw TRADING_ERRORS.error('TG_ERR_TRADING_UNAVAILABLE');
    }
  }

  /**
   * Places an order. Resolves with the order (and `created: false` when its clientOrderId names an order placed
   * before: a resubmission changes nothing). A refusal after matching (too little balance, a stale book) is recorded
   * as a REJECTED order, published, and thrown as its coded error.
   */
  async place(userId: string, input: NewOrder): Promise<{ order: OrderView; created: boolean }> {
    const info = this.api.symbols.validate(input.symbol);
    checkFilters(input, info);
    if (input.clientOrderId) {
      const existing = await this.db(() => this.store.orderByClientId(userId, input.clientOrderId!));
      // A refused order does not hold its id: sending it again is the retry its error asked for.
      if (existing && existing.status !== 'REJECTED') return { order: orderView(existing), created: false };
    }
    const mayRest = input.type === 'LIMIT' && input.timeInForce === 'GTC';
    const tooMany = () => TRADING_ERRORS.error('TG_ERR_TOO_MANY_ORDERS', `Your paper account has ${this.api.config.maxOpenOrdersPerUser} open orders, the most it may hold: cancel some before placing more`);
    // A cheap early refusal; the count that decides is taken again under the account's lock.
    if (mayRest && await this.db(() => this.store.openCount(userId)) >= this.api.config.maxOpenOrdersPerUser) throw tooMany();
    const clientOrderId = input.clientOrderId ?? newClientOrderId();
    const base = {
      userId, clientOrderId, symbol: info.symbol, baseAsset: info.baseAsset, quoteAsset: info.quoteAsset, side: input.side, type: input.type,
      timeInForce: input.timeInForce, price: input.price ?? null, quantity: input.quantity, filledQuantity: ZERO, takerQuantity: ZERO,
      quoteQuantity: ZERO, fee: ZERO, locked: ZERO, makerRate: this.makerRate, status: 'NEW' as OrderRow['status'], rejectCode: null, rejectMessage: null,
    };
    let match: MatchAnswer;
    try {
      match = await this.api.ask<MatchAnswer>(info.symbol, 'match', { side: input.side, quantity: input.quantity.toFixed(), ...(input.price ? { limit: input.price.toFixed() } : {}) } satisfies MatchParams, this.api.config.bookWaitMs + 3000);
    } catch (err) {
      const coded = err instanceof TickgateError ? err : TRADING_ERRORS.error('TG_ERR_BOOK_STALE');
      if (coded.code === 'TG_ERR_BOOK_STALE' || coded.code === 'TG_ERR_DATA_UNAVAILABLE') {
        return this.reject(base, TRADING_ERRORS.error('TG_ERR_BOOK_STALE', `The order book of ${info.symbol} is not current (the exchange connection is down or the book is being rebuilt): nothing was filled; retry in a few seconds`));
      }
      throw coded;
    }
    const fills = match.fills.map(([p, q]) => ({ price: new D(p), quantity: new D(q) }));
    if (input.type === 'MARKET') {
      const avg = vwap(fills);
      if (avg) checkNotional(input.quantity, avg, info);
    }
    let row: OrderRow;
    let fillRows: FillRow[] = [];
    try {
      const done = await this.db(() => this.store.transaction(async () => {
        await this.store.lockAccount(userId);
        if (mayRest && await this.store.openCount(userId) >= this.api.config.maxOpenOrdersPerUser) throw tooMany();
        const ledger = await this.store.lockLedger(userId, [info.baseAsset, info.quoteAsset], [info.symbol]);
        const order = { ...base };
        const result = ledger.place(order, fills, this.takerRate);
        const now = new Date();
        if ('refused' in result) {
          return { refused: result.refused, row: await this.store.insertOrder({ ...order, filledQuantity: ZERO, takerQuantity: ZERO, quoteQuantity: ZERO, fee: ZERO, locked: ZERO, status: 'REJECTED', rejectCode: result.refused.code, rejectMessage: result.refused.message }, now) };
        }
        await this.store.saveLedger(userId, ledger);
        const inserted = await this.store.insertOrder(order, now);
        const rows = await this.store.insertFills(userId, inserted, result.fills.map((fill, i) => ({ fill, source: `book:${match.lastUpdateId}:${i}` })), now);
        return { row: inserted, fills: rows };
      }));
      if ('refused' in done) {
        this.emit(userId, done.row, []);
        throw TRADING_ERRORS.error(done.refused!.code, `${done.refused!.message} (order ${done.row.id} is recorded as REJECTED)`);
      }
      row = done.row;
      fillRows = done.fills ?? [];
    } catch (err) {
      // The same clientOrderId placed concurrently: the first one stands, this one changed nothing.
      if (err instanceof UniqueConstraintError && input.clientOrderId) {
        const existing = await this.db(() => this.store.orderByClientId(userId, input.clientOrderId!));
        if (existing) return { order: orderView(existing), created: false };
      }
      throw err;
    }
    if (OPEN_STATUSES.includes(row.status)) await this.rest(row);
    this.emit(userId, row, fillRows);
    return { order: orderView(row), created: true };
  }

  private async reject(base: Omit<OrderRow, 'id' | 'createdAt' | 'updatedAt'>, error: TickgateError): Promise<never> {
    const row = await this.db(() => this.store.transaction(async () => {
      await this.store.lockAccount(base.userId);
      return this.store.insertOrder({ ...base, status: 'REJECTED', rejectCode: error.code, rejectMessage: error.message }, new Date());
    })).catch((err: unknown) => {
      if (err instanceof UniqueConstraintError) return undefined;
      throw err;
    });
    if (row) this.emit(base.userId, row, []);
    throw new TickgateError(error.code, row ? `${error.message} (order ${row.id} is recorded as REJECTED)` : error.message);
  }

  /**
   * Hands a resting order to its symbol's shard. If the shard does not take it (it is restarting, or busy past the
   * timeout), it is tried again from the database a little later; a shard that starts gets every open order anyway.
   */
  private async rest(row: OrderRow, attempt = 0): Promise<void> {
    try {
      await this.api.ask(row.symbol, 'rest', { orders: [this.resting(row)] } satisfies RestParams);
    } catch (err) {
      if (this.closed) return;
      this.api.log.warn({ err: (err as Error).message, orderId: row.id, attempt }, 'a resting order was not handed to its shard: trying again');
      if (attempt >= 5) return;
      setTimeout(() => {
        void this.store.orderById(row.id).then(
          (now) => (now && OPEN_STATUSES.includes(now.status) ? this.rest(now, attempt + 1) : undefined),
          () => this.rest(row, attempt + 1),
        );
      }, 500 * 2 ** attempt).unref();
    }
  }

  private resting(row: OrderRow): RestParams['orders'][number] {
    return { id: row.id, side: row.side, price: row.price!.toFixed(), remaining: row.quantity.sub(row.filledQuantity).toFixed(), at: row.createdAt.getTime() };
  }

  /** Cancels an open order of the user: what it held reserved returns to the free balance. */
  async cancel(userId: string, ref: { id?: number; clientOrderId?: string }): Promise<OrderView> {
    const id = ref.id ?? (ref.clientOrderId ? (await this.db(() => this.store.orderByClientId(userId, ref.clientOrderId!)))?.id : undefined);
    if (id === undefined || !Number.isSafeInteger(id)) throw TRADING_ERRORS.error('TG_ERR_ORDER_NOT_FOUND');
    const row = await this.db(() => this.store.transaction(async () => {
      await this.store.lockAccount(userId);
      const o = await this.store.lockOrder(id);
      if (!o || o.userId !== userId) throw TRADING_ERRORS.error('TG_ERR_ORDER_NOT_FOUND');
      if (!OPEN_STATUSES.includes(o.status)) throw TRADING_ERRORS.error('TG_ERR_ORDER_NOT_OPEN', `Order ${o.id} is ${o.status}: there is nothing to cancel`);
      const ledger = await this.store.lockLedger(userId, [o.side === 'BUY' ? o.quoteAsset : o.baseAsset], []);
      ledger.release(o);
      o.status = 'CANCELED';
      await this.store.saveLedger(userId, ledger);
      return this.store.updateOrder(o, new Date());
    }));
    this.api.ask(row.symbol, 'forget', { ids: [row.id] }).catch(() => undefined);
    this.emit(userId, row, []);
    return orderView(row);
  }

  /** A resting order's fill found by its shard: committed once (by order and trade), or refused if the order is gone. */
  onFill(report: FillReport): Promise<void> {
    return this.fillQueue.run(String(report.orderId), () => this.commitFill(report, 0));
  }

  private async commitFill(r: FillReport, attempt: number): Promise<void> {
    try {
      const done = await this.store.transaction(async () => {
        const owner = await this.store.orderOwner(r.orderId);
        if (!owner) return undefined;
        await this.store.lockAccount(owner);
        const o = await this.store.lockOrder(r.orderId);
        const source = `trade:${r.tradeId}`;
        if (!o || !OPEN_STATUSES.includes(o.status) || await this.store.hasFill(o.id, source)) return undefined;
        const ledger = await this.store.lockLedger(o.userId, [o.baseAsset, o.quoteAsset], [o.symbol]);
        const f: LedgerFill | undefined = ledger.fillResting(o, new D(r.quantity));
        if (!f) return undefined;
        const now = new Date(r.tradeTime > 0 ? Math.min(r.tradeTime, Date.now()) : Date.now());
        await this.store.saveLedger(o.userId, ledger);
        const row = await this.store.updateOrder(o, new Date());
        const fill = await this.store.insertFill(o.userId, row, f, source, now);
        return { row, fill };
      });
      if (!done) return;
      this.emit(done.row.userId, done.row, done.fill ? [done.fill] : []);
    } catch (err) {
      if (this.closed) return;
      if (attempt + 1 < FILL_RETRIES && !(err instanceof LedgerInvariantError)) {
        this.api.log.warn({ err: (err as Error).message, orderId: r.orderId, attempt }, 'a resting fill was not committed: retrying');
        await new Promise((res) => setTimeout(res, 200 * 2 ** attempt));
        return this.commitFill(r, attempt + 1);
      }
      // The shard counted the fill: hand it the order's stored remainder again, so the two agree.
      this.api.log.error({ err, orderId: r.orderId }, 'a resting fill could not be committed: the order rests again with its stored remainder');
      const row = await this.store.orderById(r.orderId).catch(() => undefined);
      if (row && OPEN_STATUSES.includes(row.status)) await this.rest(row);
    }
  }

  /** Hands a (re)started shard every open order of the symbols it owns. */
  async handOver(shard: number, attempt = 0, only?: string[]): Promise<number> {
    await this.api.symbols.whenLoaded();
    const open = await this.store.openOrders(only);
    const bySymbol = new Map<string, OrderRow[]>();
    for (const o of open) {
      if (this.api.shardOf(o.symbol) !== shard) continue;
      const list = bySymbol.get(o.symbol) ?? [];
      list.push(o);
      bySymbol.set(o.symbol, list);
    }
    let n = 0;
    const failed: string[] = [];
    for (const [symbol, orders] of bySymbol) {
      // Added to what the shard has (a new order may have reached it since the read above), never replacing it.
      try {
        await this.api.ask(symbol, 'rest', { orders: orders.map((o) => this.resting(o)) } satisfies RestParams);
        n += orders.length;
      } catch (err) {
        failed.push(symbol);
        this.api.log.warn({ err: (err as Error).message, symbol, shard }, 'open orders not handed to the shard: trying again');
      }
    }
    if (failed.length && attempt < 5 && !this.closed) {
      setTimeout(() => void this.handOver(shard, attempt + 1, failed).catch((err: unknown) => this.api.log.error({ err, shard }, 'open orders not handed to the shard')), 1000 * 2 ** attempt).unref();
    }
    return n;
  }

  /** Empties the user's paper account and gives it its starting balances again. */
  async reset(userId: string): Promise<void> {
    const open = await this.db(() => this.store.transaction(() => this.store.reset(userId)));
    const bySymbol = new Map<string, number[]>();
    for (const o of open) bySymbol.set(o.symbol, [...(bySymbol.get(o.symbol) ?? []), o.id]);
    for (const [symbol, ids] of bySymbol) this.api.ask(symbol, 'forget', { ids }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.fillQueue.idle();
  }
}
