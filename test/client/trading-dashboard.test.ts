// The guide's TradingDashboard rewritten on the SDK: its handlers get each channel's typed data from a real server.
import t from 'tap';
import WebSocket from 'ws';
import { TradingDashboard } from '../../client/examples/trading-dashboard.js';
import type { KlineData, PriceData, TradeData } from '../../client/index.js';
import { startStack, until } from '../helpers/stack.js';

t.test('the dashboard gets prices, candles and trades, and a refused channel is reported', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { tradesPerSecond: 20 } });
  const seen: { price: PriceData[]; kline: KlineData[]; trade: TradeData[] } = { price: [], kline: [], trade: [] };
  const logged: string[] = [];
  t.intercept(console, 'log', { value: (...args: unknown[]) => logged.push(args.join(' ')) });
  t.intercept(console, 'error', { value: (...args: unknown[]) => logged.push(args.join(' ')) });
  class Recording extends TradingDashboard {
    override updatePrice(data: PriceData): void {
      seen.price.push(data);
      super.updatePrice(data);
    }
    override updateChart(data: KlineData): void {
      seen.kline.push(data);
    }
    override addTrade(data: TradeData): void {
      seen.trade.push(data);
    }
  }
  const dashboard = new Recording({ url: wsUrl, WebSocket });
  t.teardown(() => dashboard.disconnect());
  dashboard.subscribe('price:BTCUSDT');
  dashboard.subscribe('klines:ETHUSDT:1m');
  dashboard.subscribe('trades:SOLUSDT');
  dashboard.subscribe('price:nope');
  await until(() => seen.price.length > 0 && seen.kline.length > 0 && seen.trade.length > 0, 'a frame of each channel');
  t.equal(seen.price[0]!.symbol, 'BTCUSDT');
  t.equal(seen.kline[0]!.interval, '1m');
  t.ok(['buy', 'sell'].includes(seen.trade[0]!.side));
  t.ok(logged.some((l) => /^Price update: BTCUSDT = \$\d/.test(l)), 'the guide\'s log line');
  t.ok(logged.some((l) => l.startsWith('price:nope: TG_ERR_INVALID_SYMBOL')), `the refusal is reported: ${logged.filter((l) => l.includes('nope')).join(' | ')}`);
});
