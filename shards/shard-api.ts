// The API a plugin's shard half receives: channel producers, the shard's market data by meaning, history, answers.
import type { Logger } from '../core/logger.js';
import type { AnyErrorCode } from '../core/errors.js';
import type { Teardown } from '../core/plugin-api.js';
import type { SymbolsService } from '../core/symbol-registry.js';
import type { KlineEvent, MarketEvents, MarketNeed, TradeEvent } from './market/market-events.js';

export type { MarketEvents, MarketNeed };
export type { TickerEvent, TradeEvent, AggTradeEvent, KlineEvent, BookEvent, DepthUpdateEvent, MarketEventMap, MarketKind, KlineInterval } from './market/market-events.js';

export interface Channel {
  /** Full name, e.g. klines:BTCUSDT:1m. */
  name: string;
  kind: string;
  symbol: string;
  arg: string | undefined;
  /**
   * A conflated channel's interval (kind:SYM@RATE, e.g. price:BTCUSDT@1s), 0 otherwise. The shard conflates what the
   * producer emits: a producer needs nothing for it.
   */
  rateMs: number;
}

/** Sends frames on one channel; each call serialises the frame once for all its subscribers. */
export interface Emitter {
  /**
   * A data frame. `state`: when `data` is a change (a delta) rather than the whole state, the whole state after it,
   * as the frame a new subscriber gets first (its snapshot) instead of this change; current subscribers never get it.
   */
  emit(type: string, data: unknown, state?: { type: string; data: unknown }): void;
  /**
   * A frame that is `payload` itself, in the channel's own format rather than tickgate's `{type, channel, seq, data}`
   * (e.g. another API's payload): for a channel kind the acceptor half declared `raw`, whose frames reach its own
   * endpoint (`AcceptorApi.watchRaw`). Serialised once here, never parsed on the way.
   */
  raw(payload: string): void;
  /** An error frame for the channel's subscribers (the channel stays open); a core code or one of the plugin's. */
  error(code: AnyErrorCode, message?: string): void;
}

export type Closer = () => void;

export interface ProducerSpec {
  /**
   * The market data of the channel's symbol that the channel needs open, by meaning: 'ticker', 'trade',
   * 'aggTrade', 'book', 'kline:1m'. The shard opens it before `open` and reports the channel stale while any of it
   * is not current. (Listening with `market.on` opens data too; declaring it here also gives the channel its status.)
   */
  needs?: readonly MarketNeed[] | ((ch: Channel) => readonly MarketNeed[]);
  /**
   * Called on the channel's first subscriber; the returned closer runs when its last subscriber leaves. A throw (or
   * a rejected promise) fails the channel: subscribers get the error's code when it is a registered one
   * (TG_ERR_CHANNEL_FAILED otherwise), then `unsubscribed`.
   */
  open(ch: Channel, out: Emitter): Closer | void | Promise<Closer | void>;
}

/** History from the exchange's REST API, normalised like the live events (each call costs exchange request weight). */
export interface ExchangeRestApi {
  /**
   * The most recent candles (`limit` up to 1000), oldest first; the last one is the candle still open. With
   * `endTime`, the candles that opened at or before it (to page further back).
   */
  klines(symbol: string, interval: string, limit: number, range?: { endTime?: number }): Promise<KlineEvent[]>;
  /** The most recent trades, oldest first. */
  trades(symbol: string, limit: number): Promise<TradeEvent[]>;
}

/** What `answer` is told besides the parameters. */
export interface AskContext {
  /** The symbol `ask()` was routed by: this shard owns it. '' for a question asked of every shard (`askEach`). */
  symbol: string;
}

export type { Teardown };

/** `C`: the plugin's config (validated by the acceptor half's configSchema; type it as the schema's output). */
export interface ShardApi<C = Record<string, unknown>> {
  /** The plugin's declared name. */
  readonly name: string;
  /** This plugin's section of config.yaml, as its configSchema validated it. */
  readonly config: C;
  readonly log: Logger;
  readonly shardId: number;
  /** The symbols this deployment serves, with their filters (the same view as the acceptor half's). */
  readonly symbols: SymbolsService;
  /** A channel family this plugin produces (declared by its acceptor half with `channel`). */
  produce(kind: string, spec: ProducerSpec): void;
  readonly market: MarketEvents;
  readonly exchange: ExchangeRestApi;
  /**
   * Tells the plugin's acceptor half something (its `onReport(event, fn)` hears it), e.g. a fill the shard found on a
   * trade. Plain data only; reports of one shard arrive in the order they were sent. Nothing is kept: a report sent
   * while the acceptor is not listening is dropped, so keep state the acceptor must not lose in the acceptor half.
   */
  report(event: string, data: unknown): void;
  /** Answers the acceptor half's `ask(symbol, question, params)`; throw a TickgateError for a coded error. */
  answer(question: string, fn: (params: unknown, ctx: AskContext) => unknown): void;
  /**
   * This plugin's status in this shard (plain data, e.g. the model it serves), shown by /health under
   * `shards[].plugins.<name>`; each call replaces the last, and reaches /health within a second.
   */
  setStatus(status: Record<string, unknown>): void;
  /** Runs when the shard stops, after its channels are closed; plugins are torn down in reverse load order. */
  onClose(fn: Teardown): void;
  /**
   * Cluster mode: this shard no longer serves some symbols (another ingest node took their partition). `released(symbol)`
   * says which: drop what is kept for them (resting orders, listeners) so that their data is not fetched twice; the
   * acceptor half hands that state to the new owner (onShardStart). Never called standalone.
   */
  onRelease(fn: (released: (symbol: string) => boolean) => void): void;
}

export type ShardPluginMain<C = Record<string, unknown>> = (api: ShardApi<C>) => void | Promise<void>;
