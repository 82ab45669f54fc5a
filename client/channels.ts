// The built-in channel families' names and frame data, typed from the server's own producers (no second copy).
import type { AggTradeData, DepthData, DepthDeltaData, KlineData, PriceData, TickerData, TradeData } from '../plugins/market/frames.js';
import type { SignalData } from '../plugins/signals/signal.js';
import type { OrderEvent, PortfolioView } from '../plugins/trading/index.js';
import type { AccountData } from '../plugins/users/index.js';
import type { KlineInterval } from '../shards/market/market-events.js';

export type { AggTradeData, DepthData, DepthDeltaData, KlineData, PriceData, TickerData, TradeData, SignalData, OrderEvent, PortfolioView, AccountData, KlineInterval };

/** Levels a depth channel may ask for (depth:SYM:N). */
export type DepthLevels = 5 | 10 | 20 | 50 | 100;

/** Channel name → the `data` of its frames. A plugin's own channels (any other name) carry `unknown`. */
export type ChannelData<C extends string> =
  C extends `price:${string}` ? PriceData
  : C extends `ticker:${string}` ? TickerData
  : C extends `klines:${string}:${string}` ? KlineData
  : C extends `trades:${string}` ? TradeData
  : C extends `aggTrades:${string}` ? AggTradeData
  : C extends `depth:${string}` ? DepthData
  : C extends `depthDelta:${string}` ? DepthData | DepthDeltaData
  : C extends `signals:${string}` ? SignalData
  : C extends `orders:${string}` ? OrderEvent
  : C extends `portfolio:${string}` ? PortfolioView
  : C extends `account:${string}` ? AccountData
  : unknown;

/** The built-in channel names (symbols uppercase, e.g. price:BTCUSDT); a plugin's channels are plain strings. */
export type BuiltInChannel =
  | `price:${string}`
  | `ticker:${string}`
  | `klines:${string}:${KlineInterval}`
  | `trades:${string}`
  | `aggTrades:${string}`
  | `depth:${string}`
  | `depth:${string}:${DepthLevels}`
  | `depthDelta:${string}`
  | `depthDelta:${string}:${DepthLevels}`
  | `signals:${string}`
  | `orders:${string}`
  | `portfolio:${string}`
  | `account:${string}`;

/** A data frame as the server sends it. */
export interface DataFrame<D = unknown> {
  type: string;
  channel: string;
  /** Counts the channel's data frames: consecutive frames have consecutive numbers. */
  seq: number;
  data: D;
  timestamp: string;
  /** The channel's latest value, sent when the subscription starts (not a new event). */
  snapshot?: true;
  /** A frame missed while disconnected, sent again from the server's history on resubscribe. */
  recovered?: true;
}
