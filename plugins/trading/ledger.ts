// The paper-trading arithmetic: exact decimal balances, orders placed against book fills, resting fills, releases.
import { Decimal } from 'decimal.js';

/** Decimal arithmetic for money: 60 significant digits, so sums and products of 18-decimal amounts stay exact. */
export const D = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -60, toExpPos: 60 });
export type Dec = Decimal;
export const ZERO = new D(0);

/** Fees are charged in whole units of this many decimal places (rounded up): what an exchange's asset precision does. */
export const FEE_DP = 8;
/** Average prices are kept to this many decimal places. */
export const AVG_DP = 12;

export type Side = 'BUY' | 'SELL';
export type OrderType = 'MARKET' | 'LIMIT';
export type TimeInForce = 'GTC' | 'IOC';
export type OrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'REJECTED' | 'EXPIRED';
export const OPEN_STATUSES: readonly OrderStatus[] = ['NEW', 'PARTIALLY_FILLED'];

export interface Balance {
  free: Dec;
  locked: Dec;
}

export interface Position {
  quantity: Dec;
  averagePrice: Dec;
  realizedPnl: Dec;
}

/** An order's money state: what the ledger reads and changes. */
export interface OrderState {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce | null;
  /** The limit price; null for a market order. */
  price: Dec | null;
  quantity: Dec;
  filledQuantity: Dec;
  /** Of filledQuantity, what filled at once against the book (taker); the rest filled resting (maker). */
  takerQuantity: Dec;
  /** Σ price × quantity of the fills. */
  quoteQuantity: Dec;
  fee: Dec;
  /** What the order holds reserved: quote for a buy (price × remaining + its maker fee), base for a sell. */
  locked: Dec;
  makerRate: Dec;
  status: OrderStatus;
}

export interface LedgerFill {
  price: Dec;
  quantity: Dec;
  quoteQuantity: Dec;
  fee: Dec;
  /** The fee is charged in the quote asset. */
  feeAsset: string;
  liquidity: 'maker' | 'taker';
}

/** A change that would break the ledger's rules (an amount below zero, a fill beyond a reservation): a bug, never input. */
export class LedgerInvariantError extends Error {
  constructor(message: string) {
    super(`ledger invariant: ${message}`);
    this.name = 'LedgerInvariantError';
  }
}

export type Refusal = { code: 'TG_ERR_INSUFFICIENT_BALANCE'; message: string };

export function feeFor(notional: Dec, rate: Dec): Dec {
  return notional.mul(rate).toDecimalPlaces(FEE_DP, Decimal.ROUND_UP);
}

/** The reservation of a resting buy: its remaining notional at the limit price and the maker fee on it. */
export function buyReservation(remaining: Dec, price: Dec, makerRate: Dec): Dec {
  const notional = remaining.mul(price);
  return notional.add(feeFor(notional, makerRate));
}

/**
 * The balances and positions of one account that an operation touches (rows the store has locked), changed in
 * memory; the store writes back what `touchedAssets` / `touchedSymbols` name. Every change keeps every amount ≥ 0 or
 * throws before changing anything.
 */
export class Ledger {
  readonly touchedAssets = new Set<string>();
  readonly touchedSymbols = new Set<string>();

  constructor(
    readonly balances: Map<string, Balance>,
    readonly positions: Map<string, Position>,
  ) {}

  balance(asset: string): Balance {
    let b = this.balances.get(asset);
    if (!b) {
      b = { free: ZERO, locked: ZERO };
      this.balances.set(asset, b);
    }
    return b;
  }

  position(symbol: string): Position {
    let p = this.positions.get(symbol);
    if (!p) {
      p = { quantity: ZERO, averagePrice: ZERO, realizedPnl: ZERO };
      this.positions.set(symbol, p);
    }
    return p;
  }

  private move(asset: string, dFree: Dec, dLocked: Dec): void {
    const b = this.balance(asset);
    const free = b.free.add(dFree);
    const locked = b.locked.add(dLocked);
    if (free.isNeg() || locked.isNeg()) throw new LedgerInvariantError(`${asset} would go negative (free ${free.toFixed()}, locked ${locked.toFixed()})`);
    b.free = free;
    b.locked = locked;
    this.touchedAssets.add(asset);
  }

  private trade(order: OrderState, side: Side, price: Dec, qty: Dec): void {
    const p = this.position(order.symbol);
    this.touchedSymbols.add(order.symbol);
    if (side === 'BUY') {
      const next = p.quantity.add(qty);
      p.averagePrice = p.averagePrice.mul(p.quantity).add(price.mul(qty)).div(next).toDecimalPlaces(AVG_DP);
      p.quantity = next;
    } else {
      // Base bought elsewhere (a starting balance) has no cost here: only what this symbol bought is a position.
      const sold = Decimal.min(qty, p.quantity);
      // Kept to the database's 18 decimals, so what is stored is what was computed.
      p.realizedPnl = p.realizedPnl.add(price.sub(p.averagePrice).mul(sold)).toDecimalPlaces(18);
      p.quantity = p.quantity.sub(sold);
      if (p.quantity.isZero()) p.averagePrice = ZERO;
    }
  }

  /**
   * Places a new order: `takerFills` are the book levels it takes at once (walked up to its limit; none for a limit
   * that does not cross). Checks the free balance for everything the order may spend (the taker fills, their fee and
   * a resting remainder's reservation) before changing anything; returns the refusal instead when it falls short.
   */
  place(order: OrderState, takerFills: ReadonlyArray<{ price: Dec; quantity: Dec }>, takerRate: Dec): { fills: LedgerFill[] } | { refused: Refusal } {
    let filled = ZERO;
    let notional = ZERO;
    for (const f of takerFills) {
      filled = filled.add(f.quantity);
      notional = notional.add(f.price.mul(f.quantity));
    }
    if (filled.gt(order.quantity)) throw new LedgerInvariantError('taker fills exceed the order');
    const remaining = order.quantity.sub(filled);
    const rests = order.type === 'LIMIT' && order.timeInForce === 'GTC' && remaining.gt(0);
    const takerFee = feeFor(notional, takerRate);
    const quote = this.balance(order.quoteAsset);
    const base = this.balance(order.baseAsset);
    if (order.side === 'BUY') {
      const reserve = rests ? buyReservation(remaining, order.price!, order.makerRate) : ZERO;
      const need = notional.add(takerFee).add(reserve);
      if (quote.free.lt(need)) {
        return { refused: { code: 'TG_ERR_INSUFFICIENT_BALANCE', message: `This order needs ${need.toFixed()} ${order.quoteAsset} free; your paper account has ${quote.free.toFixed()} ${order.quoteAsset} free` } };
      }
      this.move(order.quoteAsset, notional.add(takerFee).neg(), ZERO);
      this.move(order.baseAsset, filled, ZERO);
      if (rests) this.move(order.quoteAsset, reserve.neg(), reserve);
      order.locked = reserve;
    } else {
      // The whole quantity must be there, though a market sell on a thin book spends only what filled.
      if (base.free.lt(order.quantity)) {
        return { refused: { code: 'TG_ERR_INSUFFICIENT_BALANCE', message: `This order sells ${order.quantity.toFixed()} ${order.baseAsset}; your paper account has ${base.free.toFixed()} ${order.baseAsset} free` } };
      }
      this.move(order.baseAsset, filled.neg(), ZERO);
      this.move(order.quoteAsset, notional.sub(takerFee), ZERO);
      if (rests) this.move(order.baseAsset, remaining.neg(), remaining);
      order.locked = rests ? remaining : ZERO;
    }
    const fills: LedgerFill[] = [];
    // The fee is charged once on the whole taker notional, and spread over the levels so that they add up to it.
    let feeLeft = takerFee;
    takerFills.forEach((f, i) => {
      const q = f.price.mul(f.quantity);
      const fee = i === takerFills.length - 1 ? feeLeft : Decimal.min(feeLeft, q.mul(takerRate).toDecimalPlaces(FEE_DP, Decimal.ROUND_DOWN));
      feeLeft = feeLeft.sub(fee);
      fills.push({ price: f.price, quantity: f.quantity, quoteQuantity: q, fee, feeAsset: order.quoteAsset, liquidity: 'taker' });
      this.trade(order, order.side, f.price, f.quantity);
    });
    order.filledQuantity = filled;
    order.takerQuantity = filled;
    order.quoteQuantity = notional;
    order.fee = takerFee;
    if (filled.eq(order.quantity)) order.status = 'FILLED';
    else if (rests) order.status = filled.isZero() ? 'NEW' : 'PARTIALLY_FILLED';
    else order.status = 'EXPIRED';
    return { fills };
  }

  /**
   * A resting order filled by a trade at its limit price, as maker: at most what remains. The fee of the order's
   * maker part is charged on its cumulative notional, so the partial fees add up to exactly the reserved fee.
   */
  fillResting(order: OrderState, quantity: Dec): LedgerFill | undefined {
    const price = order.price!;
    const q = Decimal.min(quantity, order.quantity.sub(order.filledQuantity));
    if (q.lte(0) || !OPEN_STATUSES.includes(order.status)) return undefined;
    const makerBefore = order.filledQuantity.sub(order.takerQuantity);
    const fee = feeFor(makerBefore.add(q).mul(price), order.makerRate).sub(feeFor(makerBefore.mul(price), order.makerRate));
    const notional = q.mul(price);
    if (order.side === 'BUY') {
      const cost = notional.add(fee);
      if (cost.gt(order.locked)) throw new LedgerInvariantError('a buy fill costs more than the order reserved');
      this.move(order.quoteAsset, ZERO, cost.neg());
      this.move(order.baseAsset, q, ZERO);
      order.locked = order.locked.sub(cost);
    } else {
      if (q.gt(order.locked)) throw new LedgerInvariantError('a sell fill is larger than the order reserved');
      this.move(order.baseAsset, ZERO, q.neg());
      this.move(order.quoteAsset, notional.sub(fee), ZERO);
      order.locked = order.locked.sub(q);
    }
    this.trade(order, order.side, price, q);
    order.filledQuantity = order.filledQuantity.add(q);
    order.quoteQuantity = order.quoteQuantity.add(notional);
    order.fee = order.fee.add(fee);
    if (order.filledQuantity.eq(order.quantity)) {
      order.status = 'FILLED';
      this.release(order);
    } else order.status = 'PARTIALLY_FILLED';
    return { price, quantity: q, quoteQuantity: notional, fee, feeAsset: order.quoteAsset, liquidity: 'maker' };
  }

  /** Returns what the order still holds reserved to the free balance (on cancel, and what a full fill leaves over). */
  release(order: OrderState): void {
    if (order.locked.isZero()) return;
    const asset = order.side === 'BUY' ? order.quoteAsset : order.baseAsset;
    this.move(asset, order.locked, order.locked.neg());
    order.locked = ZERO;
  }
}
