// `tickgate/plugin`: everything a plugin author imports, in both halves of a plugin.
export { definePlugin, jsonText } from '../core/plugin-api.js';
export type {
  AcceptorApi,
  Authenticator,
  ChannelSpec,
  ClientInfo,
  ClientsApi,
  Credential,
  Identity,
  SubscribeRequest,
  SubscribeRule,
  ConfigSchema,
  HttpMethod,
  MetricCounter,
  MetricGauge,
  MetricHistogram,
  MetricLabels,
  PluginMetrics,
  PluginDefinition,
  RouteHandler,
  RouteOptions,
  RouteRequest,
  RouteResult,
  RouteSchema,
  InputSchema,
  ShardAnswer,
  PluginSocket,
  SocketEndpoint,
  SocketOptions,
  SocketUpgrade,
  SocketUpgradeRequest,
  Teardown,
  UserChannelWatcher,
  WatchedFrame,
} from '../core/plugin-api.js';
export type {
  AskContext,
  Channel,
  Closer,
  Emitter,
  ExchangeRestApi,
  ProducerSpec,
  ShardApi,
  ShardPluginMain,
  MarketEvents,
  MarketNeed,
  MarketKind,
  MarketEventMap,
  TickerEvent,
  TradeEvent,
  AggTradeEvent,
  KlineEvent,
  KlineInterval,
  BookEvent,
  DepthUpdateEvent,
} from '../shards/shard-api.js';
export { TickgateError, defineErrors, ERRORS } from '../core/errors.js';
export { throttleLatest, type ThrottleLatest } from '../shards/throttle-latest.js';
export type { AnyErrorCode, ErrorCode, ErrorData, ErrorDef, ErrorTable, FieldError, PluginErrors } from '../core/errors.js';
export { validateBody } from '../core/validation.js';
export type { SymbolFilters, SymbolInfo, SymbolsService } from '../core/symbol-registry.js';
export type { Logger } from '../core/logger.js';
/** The built-in plugins' services, as `api.use('users')` and `api.use('trading')` give them. */
export type { UsersService } from '../plugins/users/service.js';
export type { TradingService, OrderView, OrderEvent, PortfolioView } from '../plugins/trading/index.js';
