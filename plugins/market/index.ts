// Built-in market plugin, acceptor half: declares the public market channel families and the symbols route.
import { definePlugin } from '../../core/plugin-api.js';
import type { SymbolRegistry } from '../../core/symbol-registry.js';
import { KLINE_INTERVALS } from './intervals.js';

export default definePlugin({
  name: 'market',
  acceptor(api) {
    api.channel('price', { key: 'symbol', description: 'last price and 24h change (from the exchange ticker)' });
    api.channel('ticker', { key: 'symbol', description: 'full 24h ticker statistics' });
    api.channel('klines', { key: 'symbol', argName: 'interval', args: KLINE_INTERVALS, argErrorCode: 'TG_ERR_INVALID_INTERVAL', description: 'candlesticks of one interval' });
    api.channel('trades', { key: 'symbol', description: 'individual trades' });
    api.channel('depth', { key: 'symbol', argName: 'levels', args: ['5', '10', '20', '50', '100'], argRequired: false, description: 'order book from the local book: top 10 levels per side, or depth:SYM:N' });
    const symbols = api.use<SymbolRegistry>('symbols');
    api.route('get', '/api/v1/market/symbols', () => {
      if (!symbols.loaded) return { status: 503, body: { success: false, error: { code: 'TG_ERR_SYMBOLS_UNAVAILABLE', message: 'The exchange symbol list is not loaded yet: retry in a few seconds' } } };
      return { body: { success: true, data: symbols.list() } };
    });
  },
  shard: new URL('./shard.js', import.meta.url),
});
