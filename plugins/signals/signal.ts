// A signal frame's data from a model's probabilities.
import { LABELS } from './model.js';

export type Action = 'buy' | 'sell' | 'hold';

export interface SignalData {
  symbol: string;
  interval: string;
  action: Action;
  confidence: number;
  probabilities: { down: number; flat: number; up: number };
  /** name@version of the model that scored the candle. */
  model: string;
  /** Open time of the closed candle the signal scores (ms). */
  candleTime: number;
  /** When the signal was computed (ms). */
  timestamp: number;
}

const ACTIONS: Record<(typeof LABELS)[number], Action> = { down: 'sell', flat: 'hold', up: 'buy' };

/** Rounds to 6 decimals: probabilities are not more precise than that, and frames stay short. */
function r6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * The action is the most probable outcome's (up: buy, down: sell, flat: hold), or hold when that probability is
 * below `minConfidence`; confidence is that probability.
 */
export function signalData(probs: Float32Array, row: number, o: { symbol: string; interval: string; model: string; candleTime: number; timestamp: number; minConfidence: number }): SignalData {
  const down = probs[row * 3]!;
  const flat = probs[row * 3 + 1]!;
  const up = probs[row * 3 + 2]!;
  let best: (typeof LABELS)[number] = 'flat';
  let p = flat;
  if (up > p) {
    best = 'up';
    p = up;
  }
  if (down > p) {
    best = 'down';
    p = down;
  }
  return {
    symbol: o.symbol,
    interval: o.interval,
    action: p < o.minConfidence ? 'hold' : ACTIONS[best],
    confidence: r6(p),
    probabilities: { down: r6(down), flat: r6(flat), up: r6(up) },
    model: o.model,
    candleTime: o.candleTime,
    timestamp: o.timestamp,
  };
}
