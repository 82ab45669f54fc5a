// The shard's normalised market events: typed listeners per (kind, symbol, arg), the latest value replayed to new listeners.

export interface TickerEvent {
  symbol: string;
  eventTime: number;
  lastPrice: number;
  lastQty: number;
  priceChange: number;
  priceChangePercent: number;
  weightedAvgPrice: number;
  prevClosePrice: number;
  openPrice: number;
  highPrice: number;
  lowPrice: number;
  volume: number;
  quoteVolume: number;
  bidPrice: number;
  bidQty: number;
  askPrice: number;
  askQty: number;
  tradeCount: number;
  /** The statistics window: its open and close time, and the first and last trade id in it (when the exchange says). */
  openTime?: number;
  closeTime?: number;
  firstTradeId?: number;
  lastTradeId?: number;
}

export interface TradeEvent {
  symbol: string;
  eventTime: number;
  tradeId: number;
  price: number;
  quantity: number;
  tradeTime: number;
  /** Binance's `m`: the buyer was the maker, so the taker (aggressor) sold. */
  buyerIsMaker: boolean;
}

/** Binance's aggregate trade: trades of one taker order at one price, ids firstTradeId..lastTradeId. */
export interface AggTradeEvent {
  symbol: string;
  eventTime: number;
  aggId: number;
  price: number;
  quantity: number;
  firstTradeId: number;
  lastTradeId: number;
  tradeTime: number;
  buyerIsMaker: boolean;
}

export interface KlineEvent {
  symbol: string;
  eventTime: number;
  interval: string;
  openTime: number;
  closeTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quoteVolume: number;
  trades: number;
  isFinal: boolean;
  /** First and last trade id in the candle (when the exchange says; -1 for a candle without trades or from history). */
  firstTradeId?: number;
  lastTradeId?: number;
  /** The taker buy side's base and quote volume (when the exchange says). */
  takerBuyVolume?: number;
  takerBuyQuoteVolume?: number;
}

/** The shard's local order book after an update, top levels only (best first). Only built while someone listens. */
export interface BookEvent {
  symbol: string;
  eventTime: number;
  lastUpdateId: number;
  bids: Array<[number, number]>;
  asks: Array<[number, number]>;
}

/**
 * One change of a symbol's order book as the exchange numbered it (Binance's `depthUpdate`), delivered in the
 * exchange's order, every one while the book is open, whether or not the local book is in sync: what a client needs to
 * keep a book of its own. While the exchange connection is continuous each event's `firstUpdateId` is the previous one's
 * `finalUpdateId` + 1; a reconnect shows as a jump. Prices and quantities are the exchange's own text; quantities are
 * absolute, and "0" removes the level.
 */
export interface DepthUpdateEvent {
  symbol: string;
  eventTime: number;
  firstUpdateId: number;
  finalUpdateId: number;
  bids: Array<[string, string]>;
  asks: Array<[string, string]>;
}

export interface MarketEventMap {
  ticker: TickerEvent;
  trade: TradeEvent;
  aggTrade: AggTradeEvent;
  kline: KlineEvent;
  book: BookEvent;
  /** Listening opens the symbol's book (the data is the book's feed). */
  depthUpdate: DepthUpdateEvent;
}

export type MarketKind = keyof MarketEventMap;

/** Kline intervals, Binance's list (an exchange adapter says which of them it serves). */
export const KLINE_INTERVALS = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w', '1M'] as const;
export type KlineInterval = (typeof KLINE_INTERVALS)[number];

/** Levels per side of the local book that listeners and `latest` get. */
export const BOOK_LEVELS = 100;

/**
 * Market data of one symbol, by meaning: its ticker, trades, aggregate trades, local order book, or candles of one
 * interval ('kline:1m'; an interval the exchange does not serve fails the channel with a message naming it). The
 * shard opens whatever the exchange needs to deliver it.
 */
export type MarketNeed = 'ticker' | 'trade' | 'aggTrade' | 'book' | `kline:${KlineInterval}` | `kline:${string}`;

/** The shard's market data, as a plugin's shard half sees it. */
export interface MarketEvents {
  /**
   * Listens to one kind of event for one symbol (for klines, the interval is the fourth argument). The shard opens
   * the exchange data this needs for as long as the listener stays (`depthUpdate`: the symbol's book). The latest
   * known state (ticker, open candle, book; not a trade, a closed candle or a book change) is delivered at once
   * (asynchronously), then every new event. Returns the unsubscriber. Throws a TickgateError for a symbol this
   * deployment does not serve.
   */
  on<K extends MarketKind>(kind: K, symbol: string, fn: (event: MarketEventMap[K]) => void, arg?: string): () => void;
  /**
   * The latest state of a symbol's data (for a book: its current top 100 levels), while that data is open (by a
   * channel, a listener or `hold`); undefined otherwise, and for a book that is being rebuilt.
   */
  latest<K extends MarketKind>(kind: K, symbol: string, arg?: string): MarketEventMap[K] | undefined;
  /**
   * The symbol's local order book, the top `levels` per side (more than `latest` gives, up to what the book holds: the
   * exchange's snapshot and what changed since), with the id of the last change applied; undefined while the book is
   * not open or not in sync.
   */
  depth(symbol: string, levels: number): BookEvent | undefined;
  /**
   * Keeps a symbol's data open without a listener (e.g. for queries answered with `latest`) until `idleMs` after
   * the last call. Returns true when all of it was open already.
   */
  hold(symbol: string, needs: readonly MarketNeed[], idleMs: number): boolean;
  /**
   * Whether the symbol's data is open and current now: its connection delivers, and a book is in sync. False while
   * a connection is down or stalled, or a book is being rebuilt after a gap: do not act on old data then.
   */
  isCurrent(symbol: string, need: MarketNeed): boolean;
}

interface Listener {
  fn: (event: never) => void;
  tag: unknown;
  active: boolean;
}

interface Slot {
  latest: unknown;
  listeners: Set<Listener>;
}

export type ListenerErrorHandler = (tag: unknown, err: unknown) => void;

/**
 * Which latest values are replayed to a new listener: state (ticker, an open candle, a book), never an event that
 * already happened (a trade) or a closed candle, whose final must be delivered once only.
 */
function replays(kind: MarketKind, latest: unknown): boolean {
  if (kind === 'trade' || kind === 'aggTrade' || kind === 'depthUpdate') return false;
  if (kind === 'kline') return !(latest as KlineEvent).isFinal;
  return true;
}

export function keyOf(kind: string, symbol: string, arg: string | undefined): string {
  return arg === undefined ? `${kind}|${symbol}` : `${kind}|${symbol}|${arg}`;
}

/** Dispatcher owned by the shard host, which wraps it in the MarketEvents plugins see. */
export class MarketEventBus {
  private readonly slots = new Map<string, Slot>();
  /** Set by the shard host while a channel's producer opens, so listener errors reach that channel. */
  currentTag: unknown = undefined;

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  private slot(key: string): Slot {
    let s = this.slots.get(key);
    if (!s) {
      s = { latest: undefined, listeners: new Set() };
      this.slots.set(key, s);
    }
    return s;
  }

  /** `current`: the value to replay instead of the cached one (books are not cached; the host builds one). */
  on<K extends MarketKind>(kind: K, symbol: string, fn: (event: MarketEventMap[K]) => void, arg?: string, current?: MarketEventMap[K]): () => void {
    const slot = this.slot(keyOf(kind, symbol, arg));
    const listener: Listener = { fn: fn as (event: never) => void, tag: this.currentTag, active: true };
    slot.listeners.add(listener);
    const replay = current ?? slot.latest;
    if (replay !== undefined && replays(kind, replay)) {
      queueMicrotask(() => {
        if (listener.active) this.call(listener, replay);
      });
    }
    return () => {
      listener.active = false;
      slot.listeners.delete(listener);
    };
  }

  latest<K extends MarketKind>(kind: K, symbol: string, arg?: string): MarketEventMap[K] | undefined {
    return this.slots.get(keyOf(kind, symbol, arg))?.latest as MarketEventMap[K] | undefined;
  }

  /**
   * Delivers an event to its listeners; returns true when it is the first cached value of its key. Books are not
   * cached: they are built only while someone listens, so a cached one could be old (the host asks the adapter); nor
   * are book changes (a past change is never replayed).
   */
  emit<K extends MarketKind>(kind: K, symbol: string, arg: string | undefined, event: MarketEventMap[K]): boolean {
    const slot = this.slot(keyOf(kind, symbol, arg));
    const first = slot.latest === undefined;
    if (kind !== 'book' && kind !== 'depthUpdate') slot.latest = event;
    for (const listener of slot.listeners) this.call(listener, event);
    return first;
  }

  /** Forgets the latest value when its upstream stream is dropped, so a later subscriber never gets an old value as current. */
  forget(kind: MarketKind, symbol: string, arg?: string): void {
    const key = keyOf(kind, symbol, arg);
    const slot = this.slots.get(key);
    if (!slot) return;
    slot.latest = undefined;
    if (slot.listeners.size === 0) this.slots.delete(key);
  }

  hasListeners(kind: MarketKind, symbol: string, arg?: string): boolean {
    return (this.slots.get(keyOf(kind, symbol, arg))?.listeners.size ?? 0) > 0;
  }

  /** How many symbols have a cached ticker (the stats endpoint's priceCache). */
  cachedCount(kind: MarketKind): number {
    let n = 0;
    const prefix = `${kind}|`;
    for (const [key, slot] of this.slots) if (slot.latest !== undefined && key.startsWith(prefix)) n++;
    return n;
  }

  private call(listener: Listener, event: unknown): void {
    try {
      (listener.fn as (e: unknown) => void)(event);
    } catch (err) {
      this.onListenerError(listener.tag, err);
    }
  }
}
