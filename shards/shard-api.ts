// The API a plugin's shard half receives: channel producers and the shard's normalised market events.
import type { Logger } from '../core/logger.js';
import type { ErrorCode } from '../core/errors.js';
import type { KlineEvent, MarketEvents, TradeEvent } from './market/market-events.js';

export type { MarketEvents };
export type { TickerEvent, TradeEvent, AggTradeEvent, KlineEvent, DepthEvent, BookEvent, MarketEventMap } from './market/market-events.js';

export interface Channel {
  /** Full name, e.g. klines:BTCUSDT:1m. */
  name: string;
  kind: string;
  symbol: string;
  arg: string | undefined;
}

/** Sends frames on one channel; each call serialises the frame once for all its subscribers. */
export interface Emitter {
  emit(type: string, data: unknown): void;
  error(code: ErrorCode, message?: string): void;
}

export type Closer = () => void;

export interface ProducerSpec {
  /** Upstream streams this channel needs (Binance stream names, lowercase); reference-counted by the shard. */
  streams?(ch: Channel): string[];
  /** Called on the channel's first subscriber; the returned closer runs when its last subscriber leaves. */
  open(ch: Channel, out: Emitter): Closer | void | Promise<Closer | void>;
}

/** Read-only REST queries to the exchange, normalised like stream events (each call costs exchange request weight). */
export interface ExchangeRestApi {
  /** The most recent candles, oldest first; the last one is the candle still open. */
  klines(symbol: string, interval: string, limit: number): Promise<KlineEvent[]>;
  /** The most recent trades, oldest first. */
  trades(symbol: string, limit: number): Promise<TradeEvent[]>;
}

export interface ShardApi {
  readonly config: Record<string, unknown>;
  readonly log: Logger;
  readonly shardId: number;
  produce(kind: string, spec: ProducerSpec): void;
  readonly market: MarketEvents;
  readonly exchange: ExchangeRestApi;
  /** Answers the acceptor half's `ask(symbol, question, params)`; throw a TickgateError for a coded error. */
  answer(question: string, fn: (params: unknown) => unknown): void;
  /**
   * Keeps upstream streams open without a channel (e.g. for REST queries), until `idleMs` after the last call.
   * Returns true when the streams were already held or open.
   */
  hold(streams: string[], idleMs: number): boolean;
}

export type ShardPluginMain = (api: ShardApi) => void | Promise<void>;
