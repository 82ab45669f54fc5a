// The exchanges tickgate can take its market data from, by the name `upstream.exchange` gives in config.yaml.
import type { AdapterFactory } from './exchange-adapter.js';
import { BinanceAdapter } from './binance/binance-adapter.js';

/** A second exchange is a folder beside binance/ and one line here. */
export const EXCHANGES = {
  binance: (opts) => new BinanceAdapter(opts),
} as const satisfies Record<string, AdapterFactory>;

export type ExchangeName = keyof typeof EXCHANGES;
