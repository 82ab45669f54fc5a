// The market routes' answers as the OpenAPI document shows them: the channels' frame data (frames.ts), field for field.
import { z } from 'zod';

const price = z.number();
const iso = z.string().meta({ description: 'ISO 8601' });
const level = z.tuple([price, z.number()]).meta({ description: '[price, quantity]' });

export const tickerAnswer = z.object({
  symbol: z.string(), price, bid: price, ask: price, volume: z.number(), change: price, changePercent: z.number(),
  high: price, low: price, open: price, previousClose: price, timestamp: iso,
});

export const depthAnswer = z.object({ symbol: z.string(), bids: z.array(level), asks: z.array(level), timestamp: iso });

export const klineAnswer = z.object({
  symbol: z.string(), interval: z.string(), time: z.number().int().meta({ description: 'Open time, ms' }),
  open: price, high: price, low: price, close: price, volume: z.number(), isFinal: z.boolean(), timestamp: iso,
});

export const tradeAnswer = z.object({ symbol: z.string(), price, quantity: z.number(), side: z.enum(['buy', 'sell']).meta({ description: 'The taker\'s side' }), timestamp: iso });
