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
  }
}
