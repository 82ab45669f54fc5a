// The exact bytes of each market kind's data frame, from Binance-shaped payloads (numbers as 8-decimal strings) through
// the normaliser, the frame functions and encodeDataFrame: the guide's fields only, numbers in their shortest form.
import t from 'tap';
import { normalise } from '../../shards/exchanges/binance/binance-normaliser.js';
import { depthData, klineData, priceData, tickerData, tradeData } from '../../plugins/market/frames.js';
import { encodeDataFrame } from '../../core/protocol.js';

const NOW = Date.UTC(2024, 11, 6, 12, 0, 0, 5);
const E = Date.UTC(2024, 11, 6, 12, 0, 0, 0);
const TICKER = {
  e: '24hrTicker', E, s: 'BTCUSDT', p: '2345.67000000', P: '2.470', w: '96800.12000000', x: '95177.78000000', c: '97523.45000000', Q: '0.00500000',
  b: '97523.44000000', B: '1.20000000', a: '97523.45000000', A: '0.30000000', o: '95177.78000000', h: '98500.00000000', l: '95000.00000000',
  v: '12345.67000000', q: '1195000000.12000000', O: E - 86_400_000, C: E, F: 1, L: 100, n: 100,
};
const TRADE = { e: 'trade', E, s: 'BTCUSDT', t: 7, p: '97523.45000000', q: '0.50000000', T: E, m: false, M: true };
const KLINE = { e: 'kline', E, s: 'BTCUSDT', k: { t: E - 60_000 + 1, T: E, s: 'BTCUSDT', i: '1m', f: 1, L: 2, o: '97500.00000000', c: '97523.45000000', h: '97600.00000000', l: '97400.00000000', v: '123.45000000', n: 2, x: false, q: '1.00000000', V: '0.10000000', Q: '0.20000000', B: '0' } };

const event = <K extends string>(kind: K, stream: string, payload: object) => {
  const n = normalise(stream, payload, NOW)!;
  if (n.kind !== kind) throw new Error(`expected ${kind}, got ${n.kind}`);
  return (n as unknown as { event: never }).event;
};

t.test('each kind\'s frame, byte for byte', async (t) => {
  const ticker = event('ticker', 'btcusdt@ticker', TICKER);
  const frames = {
    price: encodeDataFrame('price', 'price:BTCUSDT', 41, priceData(ticker), NOW),
    ticker: encodeDataFrame('ticker', 'ticker:BTCUSDT', 41, tickerData(ticker), NOW),
    trade: encodeDataFrame('trade', 'trades:BTCUSDT', 7, tradeData(event('trade', 'btcusdt@trade', TRADE)), NOW),
    kline: encodeDataFrame('kline', 'klines:BTCUSDT:1m', 3, klineData(event('kline', 'btcusdt@kline_1m', KLINE)), NOW),
    depth: encodeDataFrame('depth', 'depth:BTCUSDT', 9, depthData({ symbol: 'BTCUSDT', eventTime: E, bids: [[97520, 1.5], [97519, 2.3], [97518.5, 0.001]], asks: [[97521, 0.8], [97522, 1.2]] }, 2), NOW),
  };
  t.same(frames, {
    price: '{"type":"price","channel":"price:BTCUSDT","seq":41,"data":{"symbol":"BTCUSDT","price":97523.45,"change24h":2345.67,"changePercent24h":2.47,"high24h":98500,"low24h":95000,"volume24h":12345.67,"timestamp":1733486400000},"timestamp":"2024-12-06T12:00:00.005Z"}',
    ticker: '{"type":"ticker","channel":"ticker:BTCUSDT","seq":41,"data":{"symbol":"BTCUSDT","price":97523.45,"bid":97523.44,"ask":97523.45,"volume":12345.67,"change":2345.67,"changePercent":2.47,"high":98500,"low":95000,"open":95177.78,"previousClose":95177.78,"timestamp":"2024-12-06T12:00:00.000Z"},"timestamp":"2024-12-06T12:00:00.005Z"}',
    trade: '{"type":"trade","channel":"trades:BTCUSDT","seq":7,"data":{"symbol":"BTCUSDT","price":97523.45,"quantity":0.5,"side":"buy","timestamp":"2024-12-06T12:00:00.000Z"},"timestamp":"2024-12-06T12:00:00.005Z"}',
    kline: '{"type":"kline","channel":"klines:BTCUSDT:1m","seq":3,"data":{"symbol":"BTCUSDT","interval":"1m","time":1733486340001,"open":97500,"high":97600,"low":97400,"close":97523.45,"volume":123.45,"isFinal":false,"timestamp":"2024-12-06T12:00:00.000Z"},"timestamp":"2024-12-06T12:00:00.005Z"}',
    depth: '{"type":"depth","channel":"depth:BTCUSDT","seq":9,"data":{"symbol":"BTCUSDT","bids":[[97520,1.5],[97519,2.3]],"asks":[[97521,0.8],[97522,1.2]],"timestamp":"2024-12-06T12:00:00.000Z"},"timestamp":"2024-12-06T12:00:00.005Z"}',
  });
  // The bytes a client reads per frame (payload, no WebSocket header): what the bench's "bytes/frame by type" counts.
  t.same(Object.fromEntries(Object.entries(frames).map(([k, f]) => [k, Buffer.byteLength(f)])), { price: 257, ticker: 328, trade: 202, kline: 284, depth: 222 });
});

t.test('prices that are not exact in binary still print as the exchange wrote them', async (t) => {
  // 0.1 + 0.2 style noise can only come from arithmetic; tickgate does none on prices and quantities, it parses
  // the exchange's decimal strings and JSON.stringify prints the shortest form that reads back the same.
  const ticker = event('ticker', 'dogeusdt@ticker', { ...TICKER, s: 'DOGEUSDT', c: '0.30000000', b: '0.29990000', a: '0.30010000', v: '100000000.10000000', p: '0.00003000', P: '0.010' });
  const frame = encodeDataFrame('ticker', 'ticker:DOGEUSDT', 1, tickerData(ticker), NOW);
  t.match(frame, '"price":0.3,"bid":0.2999,"ask":0.3001,"volume":100000000.1,"change":0.00003,"changePercent":0.01,');
  t.notMatch(frame, /\d{12,}/, 'no run of digits from binary noise (epoch ms has 13: there is none in a ticker frame)');
});
