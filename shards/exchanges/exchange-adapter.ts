// The seam between the shard runtime and an exchange: feeds by meaning in, normalised market events out.
import type { Logger } from '../../core/logger.js';
import type { Config } from '../../core/config.js';
import type { SymbolInfo } from '../../core/symbol-registry.js';
import type { UpstreamConnectionInfo } from '../../core/bus.js';
import { keyOf, type BookEvent, type KlineEvent, type MarketEventMap, type MarketKind, type TradeEvent } from '../market/market-events.js';

/** The kinds of market data a feed carries: a book's changes (`depthUpdate` events) come with its book. */
export type FeedKind = Exclude<MarketKind, 'depthUpdate'>;

/** One kind of market data of one symbol (a ticker, its trades, its book, its candles of one interval). */
export interface Feed {
  /** `kind|SYMBOL` or `kline|SYMBOL|interval`: the same key as the market event bus's. */
  readonly key: string;
  readonly kind: FeedKind;
  readonly symbol: string;
  /** The kline interval; undefined for other kinds. */
  readonly interval: string | undefined;
}

export function feed(kind: FeedKind, symbol: string, interval?: string): Feed {
  return { key: keyOf(kind, symbol, interval), kind, symbol, interval };
}

/** What an adapter reports to the runtime. */
export interface AdapterEvents {
  /** A normalised market event of an open feed (books and their changes only while `wanted` says someone listens). */
  event<K extends MarketKind>(kind: K, symbol: string, arg: string | undefined, event: MarketEventMap[K]): void;
  /** These feeds (possibly none: a connection's state changed) may have changed between live and stale: the runtime asks `isStale` again. */
  changed(feeds: Feed[]): void;
  /** The exchange refused these feeds: their channels fail and the feeds are forgotten. */
  rejected(feeds: Feed[], reason: string): void;
  /** Whether anyone listens to this kind of event of the symbol (books are only built for listeners). */
  wanted(kind: MarketKind, symbol: string): boolean;
}

export interface AdapterInfo {
  /** The exchange's own names of the streams open now, sorted (the stats endpoint lists them). */
  streams: string[];
  connections: UpstreamConnectionInfo[];
  /** Exchange request weight used in the current minute. */
  restUsedWeight: number;
  /** Local order books thrown away and rebuilt from a snapshot since the shard started. */
  bookResyncs: number;
}

/**
 * One exchange. The runtime reference-counts feeds and calls `open` for a feed's first user and `close` after its
 * last; the adapter turns feeds into the exchange's streams, keeps the connections, normalises payloads, keeps local
 * books and gap-free candles, and answers history queries.
 */
export interface ExchangeAdapter {
  /** Kline intervals the exchange serves. */
  readonly intervals: readonly string[];
  /** Opens what must be open from the start (the heartbeat stream, when asked to keep it). */
  start(): void;
  open(feed: Feed): void;
  /** Stops the feed and forgets what the adapter kept for it. */
  close(feed: Feed): void;
  /** The feed's data is not current: its connection is down or stalled, or (a book) it is being rebuilt. */
  isStale(feed: Feed): boolean;
  /** The feed's connection is delivering data. */
  isLive(feed: Feed): boolean;
  /** The symbol's local book, top `levels` per side, while it is open and in sync; undefined otherwise. */
  book(symbol: string, levels: number): BookEvent | undefined;
  /** The exchange's symbols with their filters. */
  symbols(): Promise<SymbolInfo[]>;
  /**
   * The most recent candles (up to 1000), oldest first; the last one is still open. With `endTime`, the candles
   * opening at or before it. Costs exchange request weight.
   */
  klines(symbol: string, interval: string, limit: number, range?: { endTime?: number }): Promise<KlineEvent[]>;
  /** The most recent trades, oldest first. Costs exchange request weight. */
  trades(symbol: string, limit: number): Promise<TradeEvent[]>;
  info(): AdapterInfo;
  /** Closes every connection and the REST pool. */
  stop(): Promise<void>;
}

export interface AdapterOptions {
  upstream: Config['upstream'];
  log: Logger;
  events: AdapterEvents;
  /**
   * Keep one light stream open at all times, so an idle gateway still has an exchange connection and /health tells
   * whether the exchange delivers (one shard does this).
   */
  heartbeat: boolean;
}

export type AdapterFactory = (opts: AdapterOptions) => ExchangeAdapter;
