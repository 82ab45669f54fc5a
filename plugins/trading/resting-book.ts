// A shard's resting limit orders of one symbol, in price-time priority, and the fills a trade through them makes.
import { D, type Dec, type Side } from './ledger.js';

export interface RestingOrder {
  id: number;
  side: Side;
  /** Limit price as a number, for comparing with trade prices (both come from the same decimal strings). */
  limit: number;
  remaining: Dec;
  /** Placement time (ms): earlier orders at one price fill first. */
  at: number;
}

export interface RestingFill {
  orderId: number;
  quantity: Dec;
}

export class RestingBook {
  /** Buys best (highest) first, sells best (lowest) first; ties by time, then id. */
  private buys: RestingOrder[] = [];
  private sells: RestingOrder[] = [];
  private readonly byId = new Map<number, RestingOrder>();

  constructor(private readonly touch: boolean) {}

  get size(): number {
    return this.byId.size;
  }

  /** Adds the order, or replaces what is known of it (a re-registration after a restart carries the stored remainder). */
  upsert(o: RestingOrder): void {
    this.remove(o.id);
    if (o.remaining.lte(0)) return;
    this.byId.set(o.id, o);
    const list = o.side === 'BUY' ? this.buys : this.sells;
    list.push(o);
    list.sort(o.side === 'BUY'
      ? (a, b) => b.limit - a.limit || a.at - b.at || a.id - b.id
      : (a, b) => a.limit - b.limit || a.at - b.at || a.id - b.id);
  }

  remove(id: number): boolean {
    const o = this.byId.get(id);
    if (!o) return false;
    this.byId.delete(id);
    const list = o.side === 'BUY' ? this.buys : this.sells;
    list.splice(list.indexOf(o), 1);
    return true;
  }

  ids(): number[] {
    return [...this.byId.keys()];
  }

  private crosses(o: RestingOrder, price: number): boolean {
    if (o.side === 'BUY') return this.touch ? price <= o.limit : price < o.limit;
    return this.touch ? price >= o.limit : price > o.limit;
  }

  /**
   * A trade of `quantity` at `price`: the orders it crosses fill in priority order, sharing its quantity (a trade
   * cannot fill more resting paper orders than it traded). Filled orders leave the book.
   */
  trade(price: number, quantity: Dec): RestingFill[] {
    const fills: RestingFill[] = [];
    let left = quantity;
    for (const list of [this.buys, this.sells]) {
      for (const o of [...list]) {
        if (left.lte(0) || !this.crosses(o, price)) break;
        const q = o.remaining.lt(left) ? o.remaining : left;
        o.remaining = o.remaining.sub(q);
        left = left.sub(q);
        fills.push({ orderId: o.id, quantity: q });
        if (o.remaining.lte(0)) this.remove(o.id);
      }
    }
    return fills;
  }
}

export function restingFrom(o: { id: number; side: Side; price: string; remaining: string; at: number }): RestingOrder {
  return { id: o.id, side: o.side, limit: Number(o.price), remaining: new D(o.remaining), at: o.at };
}
