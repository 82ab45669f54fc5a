// The exchanges tickgate can take its market data from, by the name `upstream.exchange` gives in config.yaml.
import type { AdapterFactory } from './exchange-adapter.js';
import { BinanceAdapter } from './binance/binance-adapter.js';
import { isBinanceStream } from './binance/binance-streams.js';

export interface Exchange {
  create: AdapterFactory;
  /** Whether a name is one of the exchange's streams (`upstream.heartbeatStream` is checked with it). */
  isStream(name: string): boolean;
  /** An example of a stream name, for configuration messages. */
  exampleStream: string;
}

/** A second exchange is a folder beside binance/ and one entry here. */
export const EXCHANGES = {
  binance: { create: (opts) => new BinanceAdapter(opts), isStream: isBinanceStream, exampleStream: 'btcusdt@miniTicker' },
} as const satisfies Record<string, Exchange>;

export type ExchangeName = keyof typeof EXCHANGES;
