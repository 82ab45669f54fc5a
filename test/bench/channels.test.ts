// The benchmarks' channel names from --kinds: an argument goes after the symbol, a rate last.
import t from 'tap';
import { channelName } from '../../bench/fanout/channels.js';

t.test('kinds with arguments and rates become channel names', async (t) => {
  t.equal(channelName('price', 'BTCUSDT'), 'price:BTCUSDT');
  t.equal(channelName('klines:1m', 'BTCUSDT'), 'klines:BTCUSDT:1m');
  t.equal(channelName('price@1s', 'BTCUSDT'), 'price:BTCUSDT@1s');
  t.equal(channelName('depth:100@1s', 'ETHUSDT'), 'depth:ETHUSDT:100@1s');
});
