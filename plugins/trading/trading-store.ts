// Paper accounts in the database: balances and positions locked and written back by the ledger, orders, fills.
import { QueryTypes, type Sequelize } from 'sequelize';
import type { Database } from '../db/database.js';
import { D, Ledger, type Balance, type Dec, type LedgerFill, type OrderState, type OrderStatus, type Position } from './ledger.js';

/** An order as stored: its money state, who placed it, and why it was refused (a REJECTED order). */
export interface OrderRow extends OrderState {
  id: number;
  userId: string;
  clientOrderId: string;
  rejectCode: string | null;
  rejectMessage: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A fill as stored: what the ledger made of it, with its order and time. */
export interface FillRow extends LedgerFill {
  id: number;
  orderId: number;
  symbol: string;
  side: string;
  createdAt: Date;
}

type Raw = Record<string, unknown>;

const dec = (v: unknown): Dec => new D(v as string);
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string));
const s = (d: Dec): string => d.toFixed();

function orderOf(r: Raw): OrderRow {
  return {
    id: Number(r.id), userId: r.user_id as string, clientOrderId: r.client_order_id as string,
    symbol: r.symbol as string, baseAsset: r.base_asset as string, quoteAsset: r.quote_asset as string,
    side: r.side as OrderRow['side'], type: r.type as OrderRow['type'], timeInForce: (r.time_in_force ?? null) as OrderRow['timeInForce'],
    price: r.price === null ? null : dec(r.price), quantity: dec(r.quantity), filledQuantity: dec(r.filled_quantity),
    takerQuantity: dec(r.taker_quantity), quoteQuantity: dec(r.quote_quantity), fee: dec(r.fee), locked: dec(r.locked),
    makerRate: dec(r.maker_rate), status: r.status as OrderStatus, rejectCode: (r.reject_code ?? null) as string | null,
    rejectMessage: (r.reject_message ?? null) as string | null, createdAt: date(r.created_at), updatedAt: date(r.updated_at),
  };
}

function fillOf(r: Raw): FillRow {
  return {
    id: Number(r.id), orderId: Number(r.order_id), symbol: r.symbol as string, side: r.side as string,
    price: dec(r.price), quantity: dec(r.quantity), quoteQuantity: dec(r.quote_quantity), fee: dec(r.fee),
    feeAsset: r.fee_asset as string, liquidity: r.liquidity as FillRow['liquidity'], createdAt: date(r.created_at),
  };
}

export class TradingStore {
  private readonly sql: Sequelize;

  constructor(private readonly db: Database, private readonly startingBalances: Record<string, string>) {
    this.sql = db.sequelize;
  }

  private async rows(text: string, bind: unknown[] = []): Promise<Raw[]> {
    return this.sql.query<Raw>(text, { bind, type: QueryTypes.SELECT });
  }

  private async exec(text: string, bind: unknown[] = []): Promise<void> {
    await this.sql.query(text, { bind });
  }

  /** Runs `fn` in one transaction (row locks are held until it commits). */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(() => fn());
  }

  /** Creates the user's paper account with its starting balances, once. */
  async ensureAccount(userId: string): Promise<void> {
    const created = await this.rows('INSERT INTO trading_accounts (user_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING user_id', [userId]);
    if (created.length) await this.seed(userId);
  }

  /**
   * Creates the account if needed and locks its row: every change to one account takes this lock first, then its
   * order, balance and position rows, so that changes to one account run one at a time and never deadlock.
   */
  async lockAccount(userId: string): Promise<void> {
    // One statement: the upsert's DO UPDATE takes the row lock, and xmax = 0 tells a row this statement created.
    const r = await this.rows('INSERT INTO trading_accounts (user_id) VALUES ($1) ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING (xmax = 0) AS created', [userId]);
    if (r[0]?.created === true) await this.seed(userId);
  }

  async orderOwner(id: number): Promise<string | undefined> {
    const r = await this.rows('SELECT user_id FROM trading_orders WHERE id = $1', [id]);
    return r[0]?.user_id as string | undefined;
  }

  async orderById(id: number): Promise<OrderRow | undefined> {
    const r = await this.rows('SELECT * FROM trading_orders WHERE id = $1', [id]);
    return r[0] ? orderOf(r[0]) : undefined;
  }

  private async seed(userId: string): Promise<void> {
    const assets = Object.keys(this.startingBalances);
    if (!assets.length) return;
    await this.exec('INSERT INTO trading_balances (user_id, asset, free, locked) SELECT $1, a, f::numeric, 0 FROM unnest($2::text[], $3::text[]) AS t(a, f)',
      [userId, assets, assets.map((a) => this.startingBalances[a])]);
  }

  /**
   * Locks (FOR UPDATE) the account's balances of these assets and its positions of these symbols, creating empty
   * rows first, and returns them as a ledger. Always in the same order (assets, then symbols, each sorted), so two
   * transactions of one account never wait on each other in a cycle. Call inside `transaction`.
   */
  async lockLedger(userId: string, assets: string[], symbols: string[]): Promise<Ledger> {
    const a = [...new Set(assets)].sort();
    const sy = [...new Set(symbols)].sort();
    const lockBalances = () => this.rows('SELECT asset, free, locked FROM trading_balances WHERE user_id = $1 AND asset = ANY($2::text[]) ORDER BY asset FOR UPDATE', [userId, a]);
    let rows = await lockBalances();
    if (rows.length < a.length) {
      // Rows are made on first use; the account lock (taken first) keeps two transactions from making them at once.
      await this.exec('INSERT INTO trading_balances (user_id, asset, free, locked) SELECT $1, a, 0, 0 FROM unnest($2::text[]) AS a ON CONFLICT DO NOTHING', [userId, a]);
      rows = await lockBalances();
    }
    const balances = new Map<string, Balance>();
    for (const r of rows) balances.set(r.asset as string, { free: dec(r.free), locked: dec(r.locked) });
    const positions = new Map<string, Position>();
    if (sy.length) {
      const lockPositions = () => this.rows('SELECT symbol, quantity, average_price, realized_pnl FROM trading_positions WHERE user_id = $1 AND symbol = ANY($2::text[]) ORDER BY symbol FOR UPDATE', [userId, sy]);
      let prow = await lockPositions();
      if (prow.length < sy.length) {
        await this.exec('INSERT INTO trading_positions (user_id, symbol, quantity, average_price, realized_pnl) SELECT $1, s, 0, 0, 0 FROM unnest($2::text[]) AS s ON CONFLICT DO NOTHING', [userId, sy]);
        prow = await lockPositions();
      }
      for (const r of prow) positions.set(r.symbol as string, { quantity: dec(r.quantity), averagePrice: dec(r.average_price), realizedPnl: dec(r.realized_pnl) });
    }
    return new Ledger(balances, positions);
  }

  /** Writes back what the ledger changed: one statement for the balances, one for the positions. */
  async saveLedger(userId: string, ledger: Ledger): Promise<void> {
    const assets = [...ledger.touchedAssets];
    if (assets.length) {
      await this.exec(`UPDATE trading_balances b SET free = v.free::numeric, locked = v.locked::numeric
        FROM unnest($2::text[], $3::text[], $4::text[]) AS v(asset, free, locked) WHERE b.user_id = $1 AND b.asset = v.asset`,
      [userId, assets, assets.map((x) => s(ledger.balance(x).free)), assets.map((x) => s(ledger.balance(x).locked))]);
    }
    const symbols = [...ledger.touchedSymbols];
    if (symbols.length) {
      const p = symbols.map((x) => ledger.position(x));
      await this.exec(`UPDATE trading_positions t SET quantity = v.q::numeric, average_price = v.a::numeric, realized_pnl = v.r::numeric
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS v(symbol, q, a, r) WHERE t.user_id = $1 AND t.symbol = v.symbol`,
      [userId, symbols, p.map((x) => s(x.quantity)), p.map((x) => s(x.averagePrice)), p.map((x) => s(x.realizedPnl))]);
    }
  }

  async insertOrder(o: Omit<OrderRow, 'id' | 'createdAt' | 'updatedAt'>, at: Date): Promise<OrderRow> {
    const r = await this.rows(`INSERT INTO trading_orders (user_id, client_order_id, symbol, base_asset, quote_asset, side, type, time_in_force, price,
        quantity, filled_quantity, taker_quantity, quote_quantity, fee, locked, maker_rate, status, reject_code, reject_message, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20) RETURNING *`, [
      o.userId, o.clientOrderId, o.symbol, o.baseAsset, o.quoteAsset, o.side, o.type, o.timeInForce, o.price === null ? null : s(o.price),
      s(o.quantity), s(o.filledQuantity), s(o.takerQuantity), s(o.quoteQuantity), s(o.fee), s(o.locked), s(o.makerRate), o.status,
      o.rejectCode, o.rejectMessage, at,
    ]);
    return orderOf(r[0]!);
  }

  async updateOrder(o: OrderRow, at: Date): Promise<OrderRow> {
    const r = await this.rows(`UPDATE trading_orders SET filled_quantity = $2, taker_quantity = $3, quote_quantity = $4, fee = $5, locked = $6,
        status = $7, updated_at = $8 WHERE id = $1 RETURNING *`,
    [o.id, s(o.filledQuantity), s(o.takerQuantity), s(o.quoteQuantity), s(o.fee), s(o.locked), o.status, at]);
    return orderOf(r[0]!);
  }

  /** Records a fill; undefined when this fill (order and source) is recorded already: nothing may apply it twice. */
  async insertFill(userId: string, o: OrderRow, f: LedgerFill, source: string, at: Date): Promise<FillRow | undefined> {
    return (await this.insertFills(userId, o, [{ fill: f, source }], at))[0];
  }

  /** Records fills of one order in one statement; those recorded already (by order and source) are left out. */
  async insertFills(userId: string, o: OrderRow, fills: Array<{ fill: LedgerFill; source: string }>, at: Date): Promise<FillRow[]> {
    if (!fills.length) return [];
    const col = <T>(fn: (x: { fill: LedgerFill; source: string }) => T) => fills.map(fn);
    const r = await this.rows(`INSERT INTO trading_fills (order_id, user_id, symbol, side, price, quantity, quote_quantity, fee, fee_asset, liquidity, source, created_at)
      SELECT $1, $2, $3, $4, v.p::numeric, v.q::numeric, v.n::numeric, v.f::numeric, $5, v.l, v.s, $6
      FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY AS v(p, q, n, f, l, s, i)
      ORDER BY v.i
      ON CONFLICT (order_id, source) DO NOTHING RETURNING *`,
    [o.id, userId, o.symbol, o.side, o.quoteAsset, at,
      col((x) => s(x.fill.price)), col((x) => s(x.fill.quantity)), col((x) => s(x.fill.quoteQuantity)), col((x) => s(x.fill.fee)), col((x) => x.fill.liquidity), col((x) => x.source)]);
    return r.map(fillOf).sort((a, b) => a.id - b.id);
  }

  async hasFill(orderId: number, source: string): Promise<boolean> {
    return (await this.rows('SELECT 1 FROM trading_fills WHERE order_id = $1 AND source = $2', [orderId, source])).length > 0;
  }

  /** The order, locked until the transaction ends. */
  async lockOrder(id: number): Promise<OrderRow | undefined> {
    const r = await this.rows('SELECT * FROM trading_orders WHERE id = $1 FOR UPDATE', [id]);
    return r[0] ? orderOf(r[0]) : undefined;
  }

  async order(userId: string, id: number): Promise<OrderRow | undefined> {
    const r = await this.rows('SELECT * FROM trading_orders WHERE id = $1 AND user_id = $2', [id, userId]);
    return r[0] ? orderOf(r[0]) : undefined;
  }

  /** The order a client order id names: the one placed under it, else the latest refused one. */
  async orderByClientId(userId: string, clientOrderId: string): Promise<OrderRow | undefined> {
    const r = await this.rows("SELECT * FROM trading_orders WHERE user_id = $1 AND client_order_id = $2 ORDER BY (status = 'REJECTED'), id DESC LIMIT 1", [userId, clientOrderId]);
    return r[0] ? orderOf(r[0]) : undefined;
  }

  /** The user's orders, newest first, optionally by status and symbol, older than `beforeId`. */
  async orders(userId: string, f: { statuses?: readonly string[]; symbol?: string; beforeId?: number; fromId?: number; limit: number; newestFirst?: boolean }): Promise<OrderRow[]> {
    const where = ['user_id = $1'];
    const bind: unknown[] = [userId];
    if (f.statuses) where.push(`status = ANY($${bind.push([...f.statuses])}::text[])`);
    if (f.symbol) where.push(`symbol = $${bind.push(f.symbol)}`);
    if (f.beforeId !== undefined) where.push(`id < $${bind.push(f.beforeId)}`);
    if (f.fromId !== undefined) where.push(`id >= $${bind.push(f.fromId)}`);
    const order = f.newestFirst === false ? 'ASC' : 'DESC';
    return (await this.rows(`SELECT * FROM trading_orders WHERE ${where.join(' AND ')} ORDER BY id ${order} LIMIT $${bind.push(f.limit)}`, bind)).map(orderOf);
  }

  async openCount(userId: string): Promise<number> {
    const r = await this.rows("SELECT count(*)::int AS n FROM trading_orders WHERE user_id = $1 AND status IN ('NEW', 'PARTIALLY_FILLED')", [userId]);
    return Number(r[0]!.n);
  }

  /** Every open limit order (for the shards' resting books), optionally of some symbols only. */
  async openOrders(symbols?: string[]): Promise<OrderRow[]> {
    const rows = symbols
      ? await this.rows("SELECT * FROM trading_orders WHERE status IN ('NEW', 'PARTIALLY_FILLED') AND symbol = ANY($1::text[]) ORDER BY id", [symbols])
      : await this.rows("SELECT * FROM trading_orders WHERE status IN ('NEW', 'PARTIALLY_FILLED') ORDER BY id");
    return rows.map(orderOf);
  }

  /** The user's fills, newest first (or oldest first from `fromId`), optionally of one symbol or order. */
  async fills(userId: string, f: { symbol?: string; orderId?: number; beforeId?: number; fromId?: number; startTime?: Date; endTime?: Date; limit: number }): Promise<FillRow[]> {
    const where = ['user_id = $1'];
    const bind: unknown[] = [userId];
    if (f.symbol) where.push(`symbol = $${bind.push(f.symbol)}`);
    if (f.orderId !== undefined) where.push(`order_id = $${bind.push(f.orderId)}`);
    if (f.beforeId !== undefined) where.push(`id < $${bind.push(f.beforeId)}`);
    if (f.fromId !== undefined) where.push(`id >= $${bind.push(f.fromId)}`);
    if (f.startTime) where.push(`created_at >= $${bind.push(f.startTime)}`);
    if (f.endTime) where.push(`created_at <= $${bind.push(f.endTime)}`);
    const ascending = f.fromId !== undefined || f.startTime !== undefined;
    return (await this.rows(`SELECT * FROM trading_fills WHERE ${where.join(' AND ')} ORDER BY id ${ascending ? 'ASC' : 'DESC'} LIMIT $${bind.push(f.limit)}`, bind)).map(fillOf);
  }

  async balances(userId: string): Promise<Map<string, Balance>> {
    const out = new Map<string, Balance>();
    for (const r of await this.rows('SELECT asset, free, locked FROM trading_balances WHERE user_id = $1 ORDER BY asset', [userId])) {
      out.set(r.asset as string, { free: dec(r.free), locked: dec(r.locked) });
    }
    return out;
  }

  async positions(userId: string): Promise<Map<string, Position>> {
    const out = new Map<string, Position>();
    for (const r of await this.rows('SELECT symbol, quantity, average_price, realized_pnl FROM trading_positions WHERE user_id = $1 ORDER BY symbol', [userId])) {
      out.set(r.symbol as string, { quantity: dec(r.quantity), averagePrice: dec(r.average_price), realizedPnl: dec(r.realized_pnl) });
    }
    return out;
  }

  /**
   * Empties the account (orders, fills, positions, balances) and gives it its starting balances again. Returns the
   * orders that were open, for the shards to forget. Call inside `transaction`.
   */
  async reset(userId: string): Promise<OrderRow[]> {
    await this.lockAccount(userId);
    const open = (await this.rows("SELECT * FROM trading_orders WHERE user_id = $1 AND status IN ('NEW', 'PARTIALLY_FILLED') FOR UPDATE", [userId])).map(orderOf);
    await this.exec('DELETE FROM trading_orders WHERE user_id = $1', [userId]);
    await this.exec('DELETE FROM trading_positions WHERE user_id = $1', [userId]);
    await this.exec('DELETE FROM trading_balances WHERE user_id = $1', [userId]);
    await this.exec('UPDATE trading_accounts SET reset_at = now() WHERE user_id = $1', [userId]);
    await this.seed(userId);
    return open;
  }
}
