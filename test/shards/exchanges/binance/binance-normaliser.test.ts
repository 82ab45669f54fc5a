// Exact field mapping from Binance's documented example payloads to tickgate frames, and malformed payloads.
import t from 'tap';
import { normalise, PayloadError, streamSymbol } from '../../../../shards/exchanges/binance/binance-normaliser.js';
import { aggTradeData, depthData, klineData, priceData, tickerData, tradeData, tradeSide } from '../../../../plugins/market/frames.js';

// Payloads as printed in Binance's Spot "WebSocket Streams" documentation.
const TRADE = { e: 'trade', E: 1672515782136, s: 'BNBBTC', t: 12345, p: '0.001', q: '100', T: 1672515782136, m: true, M: true };
const TICKER = { e: '24hrTicker', E: 1672515782136, s: 'BNBBTC', p: '0.0015', P: '250.00', w: '0.0018', x: '0.0009', c: '0.0025', Q: '10', b: '0.0024', B: '10', a: '0.0026', A: '100', o: '0.0010', h: '0.0025', l: '0.0010', v: '10000', q: '18', O: 0, C: 86400000, F: 0, L: 18150, n: 18151 };
const KLINE = { e: 'kline', E: 1672515782136, s: 'BNBBTC', k: { t: 1672515780000, T: 1672515839999, s: 'BNBBTC', i: '1m', f: 100, L: 200, o: '0.0010', c: '0.0020', h: '0.0025', l: '0.0015', v: '1000', n: 100, x: false, q: '1.0000', V: '500', Q: '0.500', B: '123456' } };
const DEPTH = { lastUpdateId: 160, bids: [['0.0024', '10']], asks: [['0.0026', '100']] };

t.test('ticker payload → price frame and ticker frame', async (t) => {
  const n = normalise('bnbbtc@ticker', TICKER, 0)!;
  t.equal(n.kind, 'ticker');
  if (n.kind !== 'ticker') return;
  t.same(priceData(n.event), { symbol: 'BNBBTC', price: 0.0025, change24h: 0.0015, changePercent24h: 250, high24h: 0.0025, low24h: 0.001, volume24h: 10000, timestamp: 1672515782136 });
  t.same(tickerData(n.event), {
    symbol: 'BNBBTC', price: 0.0025, bid: 0.0024, ask: 0.0026, volume: 10000, change: 0.0015, changePercent: 250,
    high: 0.0025, low: 0.001, open: 0.001, previousClose: 0.0009, timestamp: '2022-12-31T19:43:02.136Z',
  });
});

t.test('trade payload → trade frame; buyer-is-maker means the taker sold', async (t) => {
  const n = normalise('bnbbtc@trade', TRADE, 0)!;
  if (n.kind !== 'trade') return t.fail('not a trade');
  t.same(tradeData(n.event), { symbol: 'BNBBTC', price: 0.001, quantity: 100, side: 'sell', timestamp: '2022-12-31T19:43:02.136Z' });
  t.equal(n.event.tradeId, 12345);
  const buy = normalise('bnbbtc@trade', { ...TRADE, m: false }, 0)!;
  if (buy.kind !== 'trade') return t.fail('not a trade');
  t.equal(tradeData(buy.event).side, 'buy', 'm: false → taker bought');
  t.equal(tradeSide(true), 'sell');
  t.equal(tradeSide(false), 'buy');
});

t.test('aggTrade payload → aggTrade frame, side from buyer-is-maker', async (t) => {
  const AGG = { e: 'aggTrade', E: 1672515782136, s: 'BNBBTC', a: 12345, p: '0.001', q: '100', f: 100, l: 105, T: 1672515782136, m: true, M: true };
  const n = normalise('bnbbtc@aggTrade', AGG, 0)!;
  if (n.kind !== 'aggTrade') return t.fail('not an aggTrade');
  t.same(aggTradeData(n.event), { symbol: 'BNBBTC', price: 0.001, quantity: 100, side: 'sell', firstTradeId: 100, lastTradeId: 105, timestamp: '2022-12-31T19:43:02.136Z' });
  t.throws(() => normalise('bnbbtc@aggTrade', { ...AGG, m: 1 }, 0), PayloadError);
});

t.test('kline payload → kline frame keyed by interval', async (t) => {
  const n = normalise('bnbbtc@kline_1m', KLINE, 0)!;
  if (n.kind !== 'kline') return t.fail('not a kline');
  t.equal(n.arg, '1m');
  t.same(klineData(n.event), { symbol: 'BNBBTC', interval: '1m', time: 1672515780000, open: 0.001, high: 0.0025, low: 0.0015, close: 0.002, volume: 1000, isFinal: false, timestamp: '2022-12-31T19:43:02.136Z' });
});

t.test('partial depth payload has no symbol: it comes from the stream name', async (t) => {
  const n = normalise('bnbbtc@depth10@100ms', DEPTH, 1672515782136)!;
  t.equal(n.kind, 'depth');
  t.equal(n.symbol, 'BNBBTC');
  if (n.kind !== 'depth') return;
  t.equal(n.arg, '10');
  t.same(depthData(n.event, 10), { symbol: 'BNBBTC', bids: [[0.0024, 10]], asks: [[0.0026, 100]], timestamp: '2022-12-31T19:43:02.136Z' });
  t.equal(streamSymbol('btcusdt@kline_1m'), 'BTCUSDT');
});

t.test('kinds tickgate does not handle are skipped, malformed known payloads throw PayloadError', async (t) => {
  t.equal(normalise('bnbbtc@bookTicker', { u: 1, s: 'BNBBTC', b: '1', B: '1', a: '2', A: '1' }, 0), undefined);
  t.equal(normalise('bnbbtc@avgPrice', { e: 'avgPrice', E: 1, s: 'BNBBTC', i: '5m', w: '1', T: 1 }, 0), undefined);
  t.throws(() => normalise('bnbbtc@trade', { ...TRADE, p: 'abc' }, 0), PayloadError);
  t.throws(() => normalise('bnbbtc@trade', { ...TRADE, m: 'yes' }, 0), PayloadError);
  t.throws(() => normalise('bnbbtc@ticker', { ...TICKER, c: undefined }, 0), PayloadError);
  t.throws(() => normalise('bnbbtc@kline_1m', { ...KLINE, k: undefined }, 0), PayloadError);
  t.throws(() => normalise('bnbbtc@depth10', { ...DEPTH, bids: [['x', '1']] }, 0), PayloadError);
  t.throws(() => normalise('bnbbtc@depth10', { ...DEPTH, asks: 'none' }, 0), PayloadError);
  t.throws(() => normalise('bnbbtc@trade', null, 0), PayloadError);
});
