// Binance's stream names as the relay reads them: the grammar, what it serves, and what each stream is made from.
import t from 'tap';
import { checkStream, needsOf, shapeOf } from '../../../plugins/binance-relay/stream-names.js';

const serves = (s: string) => s === 'BTCUSDT' || s === 'ETHUSDT';

t.test('stream names: Binance\'s grammar, the streams served, the symbols served', async (t) => {
  const ok = checkStream('btcusdt@depth@100ms', serves);
  t.same(ok, { ok: true, stream: { name: 'btcusdt@depth@100ms', symbol: 'BTCUSDT', suffix: 'depth@100ms', channel: 'binance:BTCUSDT:depth.100ms' } });
  for (const name of ['btcusdt@trade', 'btcusdt@aggTrade', 'btcusdt@kline_1M', 'btcusdt@kline_1s', 'ethusdt@ticker', 'ethusdt@miniTicker', 'ethusdt@bookTicker', 'btcusdt@depth', 'btcusdt@depth@1000ms', 'btcusdt@depth20@100ms', 'btcusdt@depth5']) {
    t.ok(checkStream(name, serves).ok, `${name} is served`);
  }
  const why = (name: unknown) => {
    const c = checkStream(name, serves);
    return c.ok ? 'ok' : c.why;
  };
  for (const name of ['BTCUSDT@trade', 'btcusdt@trades', 'btcusdt', 'btcusdt@depth15', 'btcusdt@kline_2m', '@trade', 42, null]) t.equal(why(name), 'invalid', `${String(name)} is not a Binance stream`);
  for (const name of ['btcusdt@avgPrice', 'btcusdt@ticker_1h', '!miniTicker@arr', '!bookTicker', 'btcusdt@kline_1m@+08:00']) t.equal(why(name), 'unserved', `${name} is Binance's, not relayed`);
  t.equal(why('solusdt@trade'), 'symbol', 'a symbol not served');
  t.equal((checkStream('btcusdt@foo', serves) as { message: string }).message, 'Invalid request: invalid stream', 'Binance\'s own words');
});

t.test('what each stream is made from, by meaning', async (t) => {
  t.same(shapeOf('depth'), { kind: 'diff', intervalMs: 1000 });
  t.same(shapeOf('depth@1000ms'), { kind: 'diff', intervalMs: 1000 });
  t.same(shapeOf('depth@100ms'), { kind: 'diff', intervalMs: 100 });
  t.same(shapeOf('depth10'), { kind: 'partial', levels: 10, intervalMs: 1000 });
  t.same(shapeOf('depth20@100ms'), { kind: 'partial', levels: 20, intervalMs: 100 });
  t.same(shapeOf('kline_15m'), { kind: 'kline', interval: '15m' });
  t.equal(shapeOf('avgPrice'), undefined);
  t.same(needsOf(shapeOf('miniTicker')!), ['ticker']);
  t.same(needsOf(shapeOf('bookTicker')!), ['book']);
  t.same(needsOf(shapeOf('depth5')!), ['book']);
  t.same(needsOf(shapeOf('kline_1s')!), ['kline:1s']);
  t.same(needsOf(shapeOf('aggTrade')!), ['aggTrade']);
});
