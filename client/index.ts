// The tickgate client SDK: one import for browsers and Node.
export { TickgateClient } from './tickgate-client.js';
export type { TickgateClientOptions, TickgateError, ConnectionState, SubscriptionHandlers, Subscription, ClientEvents, WebSocketLike, WebSocketFactory } from './tickgate-client.js';
export type * from './channels.js';
