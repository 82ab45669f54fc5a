// The symbols a deployment serves: the exchange's list with its filters, narrowed by config, and the active-symbol cap.
import { TickgateError } from './errors.js';
import { SYMBOL_RE } from './channel-grammar.js';

/** A symbol's trading rules as the exchange states them (numbers; the decimals follow from the step sizes). */
export interface SymbolFilters {
  /** Price increment; prices are multiples of it. */
  tickSize: number;
  minPrice: number;
  maxPrice: number;
  /** Quantity increment; quantities are multiples of it. */
  stepSize: number;
  minQty: number;
  maxQty: number;
  /** Smallest price × quantity of an order (0: none stated). */
  minNotional: number;
  /** Largest price × quantity of an order (Infinity: none stated). */
  maxNotional: number;
  /** Decimal places of tickSize and stepSize, for formatting prices and quantities exactly. */
  priceDecimals: number;
  quantityDecimals: number;
}

/** One exchange symbol, normalised by the exchange adapter. Plain data: it crosses threads. */
export interface SymbolInfo {
  symbol: string;
  /** The exchange's status: "TRADING", or e.g. "BREAK" while trading is halted. */
  status: string;
  baseAsset: string;
  quoteAsset: string;
  filters: SymbolFilters;
}

/** Read-only view of the symbols a deployment serves, the same in the acceptor and in every shard. */
export interface SymbolsService {
  /** Whether the exchange's symbol list has arrived. */
  readonly loaded: boolean;
  /**
   * Resolves once the list has arrived. A shard half that opens market data from its setup (not from a channel)
   * starts it here: `api.symbols.whenLoaded().then(() => api.market.on(…))`. Do not await it in the setup function
   * itself: the list is loaded once every plugin has been set up.
   */
  whenLoaded(): Promise<void>;
  /** Whether this deployment serves the symbol: the exchange lists it as TRADING and `symbols.allow` admits it. */
  serves(symbol: string): boolean;
  /** The served symbol's exchange data and filters; undefined for a symbol not served. */
  info(symbol: string): SymbolInfo | undefined;
  /** The served symbols, sorted. */
  list(): string[];
  /**
   * The served symbol's info, or a TickgateError saying why not: TG_ERR_INVALID_SYMBOL (malformed),
   * TG_ERR_SYMBOLS_UNAVAILABLE (list not loaded yet) or TG_ERR_UNKNOWN_SYMBOL (not listed, not trading, not allowed).
   */
  validate(symbol: string): SymbolInfo;
}

export interface SymbolPolicy {
  /** Served symbols; empty: every symbol the exchange lists. */
  allow: readonly string[];
}

/** Why a symbol is refused: the guide's message for clients, and a hint saying what to do. */
function unknownSymbol(symbol: string, hint: string): TickgateError {
  return new TickgateError('TG_ERR_UNKNOWN_SYMBOL', `Failed to fetch quote for ${symbol}`, hint);
}

export class SymbolTable implements SymbolsService {
  private all = new Map<string, SymbolInfo>();
  private served: string[] = [];
  private readonly allow: Set<string> | undefined;
  private readonly arrived: Promise<void>;
  private resolveArrived!: () => void;
  loadedAt = 0;

  constructor(policy: SymbolPolicy = { allow: [] }) {
    this.allow = policy.allow.length ? new Set(policy.allow) : undefined;
    this.arrived = new Promise((resolve) => {
      this.resolveArrived = resolve;
    });
  }

  whenLoaded(): Promise<void> {
    return this.arrived;
  }

  /** Replaces the exchange's list; returns the allow-list entries the exchange does not list (for a warning). */
  replace(list: SymbolInfo[]): string[] {
    this.all = new Map(list.map((s) => [s.symbol, s]));
    this.served = list.filter((s) => this.admits(s)).map((s) => s.symbol).sort();
    this.loadedAt = Date.now();
    this.resolveArrived();
    return this.allow ? [...this.allow].filter((s) => !this.all.has(s)) : [];
  }

  private admits(s: SymbolInfo): boolean {
    return s.status === 'TRADING' && (!this.allow || this.allow.has(s.symbol));
  }

  get loaded(): boolean {
    return this.loadedAt > 0;
  }

  serves(symbol: string): boolean {
    const s = this.all.get(symbol);
    return s !== undefined && this.admits(s);
  }

  info(symbol: string): SymbolInfo | undefined {
    const s = this.all.get(symbol);
    return s && this.admits(s) ? s : undefined;
  }

  list(): string[] {
    return [...this.served];
  }

  get size(): number {
    return this.served.length;
  }

  /** The exchange's own list as loaded (served or not). */
  get exchangeSize(): number {
    return this.all.size;
  }

  validate(symbol: string): SymbolInfo {
    if (!SYMBOL_RE.test(symbol)) {
      throw new TickgateError('TG_ERR_INVALID_SYMBOL', `Invalid symbol "${symbol.length > 40 ? `${symbol.slice(0, 40)}…` : symbol}": symbols are uppercase letters and digits, e.g. BTCUSDT`);
    }
    if (!this.loaded) throw new TickgateError('TG_ERR_SYMBOLS_UNAVAILABLE');
    const s = this.all.get(symbol);
    if (!s) throw unknownSymbol(symbol, 'The exchange does not list this symbol: check the spelling (e.g. BTCUSDT) or GET /api/v1/market/symbols');
    if (this.allow && !this.allow.has(symbol)) throw unknownSymbol(symbol, 'This server does not serve this symbol (symbols.allow): GET /api/v1/market/symbols lists the ones it does');
    if (s.status !== 'TRADING') throw unknownSymbol(symbol, `The exchange lists this symbol as ${s.status}, not TRADING: it has no live market data`);
    return s;
  }
}

/**
 * How long a symbol admitted under the cap counts as active before a shard reports it open (shards report 20 ms
 * after a change): long enough to cover that, short enough that a query which opened nothing frees its place soon.
 */
const ADMISSION_MS = 3000;

/**
 * The acceptor's table: the served symbols, plus the cap on symbols open at once (`symbols.maxActive`). A symbol is
 * active while a shard has market data of it open (channels, REST holds, plugins' listeners), as the shards report,
 * or for a few seconds after it was admitted here, until their report catches up.
 */
export class SymbolRegistry extends SymbolTable {
  lastError: string | undefined;
  private readonly activeByShard = new Map<number, Set<string>>();
  private readonly admitted = new Map<string, number>();

  constructor(policy: SymbolPolicy & { maxActive: number } = { allow: [], maxActive: 0 }) {
    super(policy);
    this.maxActive = policy.maxActive;
  }

  readonly maxActive: number;

  override replace(list: SymbolInfo[]): string[] {
    const missing = super.replace(list);
    this.lastError = undefined;
    return missing;
  }

  /** A shard's symbols with open market data (from its stats). */
  setActive(shard: number, symbols: string[]): void {
    this.activeByShard.set(shard, new Set(symbols));
  }

  private isActive(symbol: string, now: number): boolean {
    for (const set of this.activeByShard.values()) if (set.has(symbol)) return true;
    const until = this.admitted.get(symbol);
    return until !== undefined && until > now;
  }

  /** Symbols open now (reported or just admitted). */
  activeCount(now = Date.now()): number {
    const all = new Set<string>();
    for (const set of this.activeByShard.values()) for (const s of set) all.add(s);
    for (const [s, until] of this.admitted) {
      if (until > now) all.add(s);
      else this.admitted.delete(s);
    }
    return all.size;
  }

  /**
   * Validates a symbol and admits it under the cap: throws TG_ERR_SYMBOL_LIMIT when it is not open yet and
   * `maxActive` symbols already are.
   */
  admit(symbol: string): SymbolInfo {
    const info = this.validate(symbol);
    this.reserve(symbol);
    return info;
  }

  /** The cap alone, for a symbol already validated. */
  reserve(symbol: string): void {
    if (this.maxActive === 0) return;
    const now = Date.now();
    if (this.isActive(symbol, now)) return;
    if (this.activeCount(now) >= this.maxActive) {
      throw new TickgateError('TG_ERR_SYMBOL_LIMIT', `This server streams at most ${this.maxActive} symbols at once and all are in use: use a symbol that is already streaming, or retry later`);
    }
    this.admitted.set(symbol, now + ADMISSION_MS);
  }
}
