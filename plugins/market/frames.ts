// The market channels' frame payloads, field for field as the protocol guide gives them.
import type { AggTradeEvent, BookEvent, KlineEvent, TickerEvent, TradeEvent } from '../../shards/shard-api.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function priceData(t: TickerEvent) {
  return {
    symbol: t.symbol,
    price: t.lastPrice,
    change24h: t.priceChange,
    changePercent24h: t.priceChangePercent,
    high24h: t.highPrice,
    low24h: t.lowPrice,
    volume24h: t.volume,
    timestamp: t.eventTime,
  };
}

export function tickerData(t: TickerEvent) {
  return {
    symbol: t.symbol,
    price: t.lastPrice,
    bid: t.bidPrice,
    ask: t.askPrice,
    volume: t.volume,
    change: t.priceChange,
    changePercent: t.priceChangePercent,
    high: t.highPrice,
    low: t.lowPrice,
    open: t.openPrice,
    previousClose: t.prevClosePrice,
    timestamp: iso(t.eventTime),
  };
}

export function klineData(k: KlineEvent) {
  return {
    symbol: k.symbol,
    interval: k.interval,
    time: k.openTime,
    open: k.open,
    high: k.high,
    low: k.low,
    close: k.close,
    volume: k.volume,
    isFinal: k.isFinal,
    timestamp: iso(k.eventTime),
  };
}

/** Binance's `m` (buyer is maker) means the taker sold: the trade prints as a sell. */
export function tradeSide(buyerIsMaker: boolean): 'buy' | 'sell' {
  return buyerIsMaker ? 'sell' : 'buy';
}

export function tradeData(t: TradeEvent) {
  return {
    symbol: t.symbol,
    price: t.price,
    quantity: t.quantity,
    side: tradeSide(t.buyerIsMaker),
    timestamp: iso(t.tradeTime),
  };
}

/** Extension channel aggTrades:SYM: one frame per taker order (Binance's aggregate trade). */
export function aggTradeData(t: AggTradeEvent) {
  return {
    symbol: t.symbol,
    price: t.price,
    quantity: t.quantity,
    side: tradeSide(t.buyerIsMaker),
    firstTradeId: t.firstTradeId,
    lastTradeId: t.lastTradeId,
    timestamp: iso(t.tradeTime),
  };
}

export function depthData(d: Pick<BookEvent, 'symbol' | 'eventTime' | 'bids' | 'asks'>, levels: number) {
  return {
    symbol: d.symbol,
    bids: d.bids.length > levels ? d.bids.slice(0, levels) : d.bids,
    asks: d.asks.length > levels ? d.asks.slice(0, levels) : d.asks,
    timestamp: iso(d.eventTime),
  };
}

/**
 * A depthDelta frame: the levels that changed since the channel's previous frame (quantity 0: the level is gone), on
 * top of the whole book of the first frame (a `depth` frame). Applied in `seq` order they give the depth frame's levels.
 */
export function depthDeltaData(d: Pick<BookEvent, 'symbol' | 'eventTime'>, bids: Array<[number, number]>, asks: Array<[number, number]>) {
  return { symbol: d.symbol, bids, asks, timestamp: iso(d.eventTime) };
}

/** Each market channel's frame data, as the functions above make it: the client SDK's types come from here. */
export type PriceData = ReturnType<typeof priceData>;
export type TickerData = ReturnType<typeof tickerData>;
export type KlineData = ReturnType<typeof klineData>;
export type TradeData = ReturnType<typeof tradeData>;
export type AggTradeData = ReturnType<typeof aggTradeData>;
export type DepthData = ReturnType<typeof depthData>;
export type DepthDeltaData = ReturnType<typeof depthDeltaData>;
