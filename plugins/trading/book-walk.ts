// Walks one side of an order book for an order taking liquidity: the levels it fills, up to its quantity and limit.
import { D, type Dec, type Side } from './ledger.js';

export interface LevelFill {
  price: Dec;
  quantity: Dec;
}

/**
 * `levels`: the side the order takes (asks for a buy, best first ascending; bids for a sell, descending), as exact
 * decimal strings. Stops when the quantity is filled, the book runs out (a partial fill) or a level is beyond `limit`.
 */
export function walkBook(levels: ReadonlyArray<readonly [string, string]>, side: Side, quantity: Dec, limit?: Dec): LevelFill[] {
  const fills: LevelFill[] = [];
  let left = quantity;
  for (const [p, q] of levels) {
    if (left.lte(0)) break;
    const price = new D(p);
    if (limit && (side === 'BUY' ? price.gt(limit) : price.lt(limit))) break;
    const available = new D(q);
    if (available.lte(0)) continue;
    const take = available.lt(left) ? available : left;
    fills.push({ price, quantity: take });
    left = left.sub(take);
  }
  return fills;
}

/** Volume-weighted average price of fills. */
export function vwap(fills: readonly LevelFill[]): Dec | undefined {
  let q = new D(0);
  let n = new D(0);
  for (const f of fills) {
    q = q.add(f.quantity);
    n = n.add(f.price.mul(f.quantity));
  }
  return q.isZero() ? undefined : n.div(q);
}
