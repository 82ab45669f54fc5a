// A gateway with paper trading on a test database, and helpers to place orders and check an account's books balance.
import type { Test } from 'tap';
import { Decimal } from 'decimal.js';
import { startAccounts, sqlOn, type AccountsStack, type Session } from '../../helpers/accounts.js';
import type { TestDatabase } from '../../helpers/database.js';
import type { StackOptions } from '../../helpers/stack.js';

export interface TradingStack extends AccountsStack {
  order(s: Session, body: Record<string, unknown>): Promise<{ status: number; body: any }>;
  portfolio(s: Session): Promise<any>;
}

export async function startTrading(t: Test, opts: { trading?: Record<string, unknown>; db?: TestDatabase; sim?: StackOptions['sim']; config?: Record<string, unknown>; extraBefore?: unknown[] } = {}): Promise<TradingStack> {
  const stack = await startAccounts(t, {
    ...(opts.db ? { db: opts.db } : {}),
    ...(opts.sim ? { sim: opts.sim } : {}),
    config: opts.config as never,
    extraPlugins: [...(opts.extraBefore ?? []), { name: 'trading', config: { ...opts.trading } }],
  });
  const order = (s: Session, body: Record<string, unknown>) => stack.call('POST', '/api/v1/orders', { token: s.accessToken, body });
  const portfolio = async (s: Session) => {
    const res = await stack.call('GET', '/api/v1/portfolio', { token: s.accessToken });
    if (res.status !== 200) throw new Error(`portfolio: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data;
  };
  return { ...stack, order, portfolio };
}

const D = (v: string | number) => new Decimal(v);

/**
 * Recomputes an account from its fills and open orders, independently of the ledger: every asset's total must equal
 * the starting balance plus what the fills moved, every locked amount what the open orders reserve, every order's
 * filled quantity the sum of its fills. Returns the problems found (empty when the books balance).
 */
export async function auditAccount(db: TestDatabase, userId: string, starting: Record<string, string>): Promise<string[]> {
  const problems: string[] = [];
  const balances = await sqlOn(db, 'SELECT asset, free::text, locked::text FROM trading_balances WHERE user_id = $1', [userId]);
  const orders = await sqlOn(db, 'SELECT id, symbol, base_asset, quote_asset, side, status, quantity::text, filled_quantity::text, quote_quantity::text, fee::text, locked::text FROM trading_orders WHERE user_id = $1', [userId]);
  const fills = await sqlOn(db, 'SELECT order_id, side, price::text, quantity::text, quote_quantity::text, fee::text, fee_asset FROM trading_fills WHERE user_id = $1', [userId]);
  const expected = new Map<string, Decimal>(Object.entries(starting).map(([a, v]) => [a, D(v)]));
  const add = (asset: string, d: Decimal) => expected.set(asset, (expected.get(asset) ?? D(0)).add(d));
  const byOrder = new Map<string, { qty: Decimal; quote: Decimal; fee: Decimal }>();
  const orderById = new Map(orders.map((o) => [String(o.id), o]));
  for (const f of fills) {
    const o = orderById.get(String(f.order_id));
    if (!o) {
      problems.push(`fill of unknown order ${f.order_id}`);
      continue;
    }
    const q = D(f.quantity);
    const notional = D(f.price).mul(q);
    if (!notional.eq(D(f.quote_quantity))) problems.push(`fill of order ${o.id}: price × quantity ${notional} ≠ quote quantity ${f.quote_quantity}`);
    const sign = f.side === 'BUY' ? 1 : -1;
    add(o.base_asset, q.mul(sign));
    add(o.quote_asset, notional.mul(-sign));
    add(f.fee_asset, D(f.fee).neg());
    const agg = byOrder.get(String(o.id)) ?? { qty: D(0), quote: D(0), fee: D(0) };
    byOrder.set(String(o.id), { qty: agg.qty.add(q), quote: agg.quote.add(notional), fee: agg.fee.add(D(f.fee)) });
  }
  const lockedBy = new Map<string, Decimal>();
  for (const o of orders) {
    const agg = byOrder.get(String(o.id)) ?? { qty: D(0), quote: D(0), fee: D(0) };
    if (!agg.qty.eq(D(o.filled_quantity))) problems.push(`order ${o.id}: filled ${o.filled_quantity} but its fills sum to ${agg.qty}`);
    if (!agg.quote.eq(D(o.quote_quantity))) problems.push(`order ${o.id}: quote ${o.quote_quantity} but its fills sum to ${agg.quote}`);
    if (!agg.fee.eq(D(o.fee))) problems.push(`order ${o.id}: fee ${o.fee} but its fills' fees sum to ${agg.fee}`);
    if (D(o.filled_quantity).gt(D(o.quantity))) problems.push(`order ${o.id}: filled more than its quantity`);
    const open = o.status === 'NEW' || o.status === 'PARTIALLY_FILLED';
    if (!open && !D(o.locked).isZero()) problems.push(`order ${o.id} is ${o.status} but still holds ${o.locked}`);
    const asset = o.side === 'BUY' ? o.quote_asset : o.base_asset;
    lockedBy.set(asset, (lockedBy.get(asset) ?? D(0)).add(D(o.locked)));
  }
  const seen = new Set<string>();
  for (const b of balances) {
    seen.add(b.asset);
    const free = D(b.free);
    const locked = D(b.locked);
    if (free.isNeg() || locked.isNeg()) problems.push(`${b.asset} is negative: free ${b.free}, locked ${b.locked}`);
    const want = expected.get(b.asset) ?? D(0);
    if (!free.add(locked).eq(want)) problems.push(`${b.asset}: holds ${free.add(locked)}, its fills say ${want}`);
    const reserved = lockedBy.get(b.asset) ?? D(0);
    if (!locked.eq(reserved)) problems.push(`${b.asset}: locked ${locked}, its open orders reserve ${reserved}`);
  }
  for (const [asset, v] of expected) if (!seen.has(asset) && !v.isZero()) problems.push(`${asset}: no balance row, its fills say ${v}`);
  return problems;
}
