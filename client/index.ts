// The tickgate client SDK: one import for browsers and Node.
export { TickgateClient } from './tickgate-client.js';
export { DepthBook } from './depth-book.js';
export type { DepthLevel, DepthFrame } from './depth-book.js';
export type { TickgateClientOptions, TickgateError, ConnectionState, SubscriptionHandlers, Subscription, ClientEvents, WebSocketLike, WebSocketFactory } from './tickgate-client.js';
export type * from './channels.js';
