// Acceptor half: declares vwap:SYM and validates the plugin's config without a schema library.
import { definePlugin, type ConfigSchema } from 'tickgate/plugin';

export interface VwapConfig {
  /** Trades in the average. */
  window: number;
}

/** Any object with zod's safeParse shape will do as a config schema. */
const configSchema: ConfigSchema<VwapConfig> = {
  safeParse(input) {
    const { window = 50, ...rest } = (input ?? {}) as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length) return { success: false, error: { issues: [{ path: [unknown[0]!], message: 'unknown key: vwap takes only window' }] } };
    if (typeof window !== 'number' || !Number.isInteger(window) || window < 1 || window > 10_000) {
      return { success: false, error: { issues: [{ path: ['window'], message: 'must be an integer from 1 to 10000' }] } };
    }
    return { success: true, data: { window } };
  },
};

export default definePlugin({
  name: 'vwap',
  configSchema,
  acceptor(api) {
    api.channel('vwap', { key: 'symbol', description: `volume-weighted average price of the last ${api.config.window} trades` });
    api.log.info({ window: api.config.window }, 'vwap plugin ready');
    api.onClose(() => api.log.info('vwap plugin stopped'));
  },
  shard: new URL('./shard.js', import.meta.url),
});
