// The part of @binance/connector (Binance's Node connector, which ships no types) that the tests use.
declare module '@binance/connector' {
  interface Response<T = any> {
    status: number;
    data: T;
  }
  export class Spot {
    constructor(apiKey?: string, apiSecret?: string, options?: { baseURL?: string; timeout?: number });
    account(options?: Record<string, unknown>): Promise<Response>;
    newOrder(symbol: string, side: string, type: string, options?: Record<string, unknown>): Promise<Response>;
    cancelOrder(symbol: string, options?: Record<string, unknown>): Promise<Response>;
    getOrder(symbol: string, options?: Record<string, unknown>): Promise<Response>;
    openOrders(options?: Record<string, unknown>): Promise<Response>;
    myTrades(symbol: string, options?: Record<string, unknown>): Promise<Response>;
    depth(symbol: string, options?: { limit?: number }): Promise<Response>;
  }
  interface Logger {
    info(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
    debug(...args: unknown[]): void;
  }
  /** Binance's market streams: connects on the first subscribe (raw /ws/<stream>, or /stream?streams= when combined), then SUBSCRIBE messages. */
  export class WebsocketStream {
    constructor(options?: {
      wsURL?: string;
      combinedStreams?: boolean;
      logger?: Logger;
      reconnectDelay?: number;
      callbacks?: { open?: (client: WebsocketStream) => void; close?: () => void; message?: (data: string) => void; error?: () => void; ping?: () => void; pong?: () => void };
    });
    subscribe(stream: string | string[]): void;
    unsubscribe(stream: string | string[]): void;
    disconnect(): void;
    isConnected(): boolean;
    pingServer(): void;
    trade(symbol: string): void;
    aggTrade(symbol: string): void;
    kline(symbol: string, interval: string): void;
    miniTicker(symbol?: string): void;
    ticker(symbol?: string): void;
    bookTicker(symbol: string): void;
    partialBookDepth(symbol: string, levels: number, speed: string): void;
    diffBookDepth(symbol: string, speed: string): void;
  }
}
