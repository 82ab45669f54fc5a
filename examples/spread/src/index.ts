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

export default definePlugin({
  name: 'spread',
  configSchema,
  errors,
  acceptor(api) {
    api.channel('spread', { key: 'symbol', description: 'best bid and ask, spread and book imbalance, from the local order book' });
    api.route('get', '/api/v1/spread/:symbol', async (req) => {
      const raw = req.query.get('levels');
      const levels = raw === null ? api.config.levels : Number(raw);
      if (!Number.isInteger(levels) || levels < 1 || levels > 100) throw errors.error('SPREAD_BAD_LEVELS');
      // ask() checks the symbol (unknown, halted or not served: a coded error) and runs in the shard that owns it.
      const data = await api.ask(req.params.symbol ?? '', 'spread', { levels });
      return { body: { success: true, data } };
    });
  },
  shard: new URL('./shard.js', import.meta.url),
});
