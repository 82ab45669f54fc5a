// Shard half: VWAP over the last N trades of a symbol, from the shard's normalised trades.
import type { ShardApi } from 'tickgate/plugin';
import type { VwapConfig } from './index.js';

export default function vwap(api: ShardApi<VwapConfig>): void {
  const { window } = api.config;
  let open = 0;
  api.produce('vwap', {
    needs: ['trade'],
    open(ch, out) {
      open++;
      // A ring of the last `window` trades, with running sums: O(1) per trade.
      const prices = new Float64Array(window);
      const quantities = new Float64Array(window);
      let count = 0;
      let next = 0;
      let notional = 0;
      let volume = 0;
      const off = api.market.on('trade', ch.symbol, (t) => {
        if (count === window) {
          notional -= prices[next]! * quantities[next]!;
          volume -= quantities[next]!;
        } else count++;
        prices[next] = t.price;
        quantities[next] = t.quantity;
        next = (next + 1) % window;
        notional += t.price * t.quantity;
        volume += t.quantity;
        if (next === 0) {
          // Once per lap, the sums are taken afresh, so rounding errors of the running sums never add up.
          notional = 0;
          volume = 0;
          for (let i = 0; i < count; i++) {
            notional += prices[i]! * quantities[i]!;
            volume += quantities[i]!;
          }
        }
        out.emit('vwap', { symbol: ch.symbol, vwap: notional / volume, trades: count, lastPrice: t.price, timestamp: t.tradeTime });
      });
      return () => {
        open--;
        off();
      };
    },
  });
  api.onClose(() => api.log.info({ openChannels: open }, 'vwap shard half stopped'));
}
