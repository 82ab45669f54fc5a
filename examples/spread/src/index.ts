// Acceptor half: declares the spread:SYM channel family and GET /api/v1/spread/:symbol.
import { definePlugin } from 'tickgate/plugin';
import { z } from 'zod';
import { errors } from './errors.js';

export const configSchema = z.object({
  /** Levels per side summed for the book imbalance. */
  levels: z.number().int().min(1).max(100).default(10),
  /** At most one spread frame per channel in this many milliseconds. */
  intervalMs: z.number().int().min(0).max(60_000).default(250),
  /** How long the REST route waits for a book that is still being built. */
  waitMs: z.number().int().min(0).max(10_000).default(3000),
}).strict();

export type SpreadConfig = z.output<typeof configSchema>;

const isLevels = (n: number) => Number.isInteger(n) && n >= 1 && n <= 100;

export default definePlugin({
  name: 'spread',
  configSchema,
  errors,
  acceptor(api) {
    api.channel('spread', { key: 'symbol', description: 'best bid and ask, spread and book imbalance, from the local order book' });
    // Checked before the handler runs, and shown in GET /openapi.json: a bad value is answered with the plugin's code.
    const query = z.object({
      levels: z.string().optional()
        .refine((raw) => raw === undefined || isLevels(Number(raw)), { message: errors.codes.SPREAD_BAD_LEVELS.message, params: { code: 'SPREAD_BAD_LEVELS' } })
        .transform((raw) => (raw === undefined ? api.config.levels : Number(raw))),
    });
    api.route('get', '/api/v1/spread/:symbol', async (req) => {
      // ask() checks the symbol (unknown, halted or not served: a coded error) and runs in the shard that owns it.
      const data = await api.ask(req.params.symbol, 'spread', { levels: req.query.levels });
      return { body: { success: true, data } };
    }, {
      schema: {
        summary: 'Best bid and ask, spread and book imbalance of a symbol, from the local order book',
        params: z.object({ symbol: z.string() }),
        query,
      },
    });
  },
  shard: new URL('./shard.js', import.meta.url),
});
