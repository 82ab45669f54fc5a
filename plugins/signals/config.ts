// The signals plugin's configuration (both halves).
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { KLINE_INTERVALS } from '../../shards/market/market-events.js';

/** The model that ships with tickgate (trained on the simulated exchange by npm run model:train). */
export const SHIPPED_MODEL = fileURLToPath(new URL('../../../models/tickgate-sim-1m.onnx', import.meta.url));

export const signalsConfigSchema = z.object({
  /** ONNX file that meets the model contract (README, "Signals"); relative to the working directory. '': the shipped model. */
  model: z.string().default(''),
  /** Kline intervals served (signals:SYM:INTERVAL); the first is signals:SYM's. The model must be made for each. */
  intervals: z.array(z.enum(KLINE_INTERVALS)).min(1).max(16).default(['1m'])
    .refine((l) => new Set(l).size === l.length, 'intervals must not repeat'),
  /** Below this probability the action is "hold" whatever the most probable outcome (0: always the most probable). */
  minConfidence: z.number().min(0).max(1).default(0),
  /** Reload the model when its file changes. */
  watch: z.boolean().default(true),
  /** Threads computing signal history (a piscina pool beside the shards). */
  historyThreads: z.number().int().min(1).max(16).default(1),
  /** History requests waiting for a thread; more are refused with TG_ERR_HISTORY_BUSY. */
  historyQueue: z.number().int().min(1).max(1000).default(8),
}).strict();

export type SignalsConfig = z.infer<typeof signalsConfigSchema>;

export function modelPath(cfg: SignalsConfig): string {
  return cfg.model === '' ? SHIPPED_MODEL : cfg.model;
}
