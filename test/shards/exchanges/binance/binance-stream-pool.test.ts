// The Binance stream pool and REST client against the simulated exchange: subscribe paths, reconnect, stall detection, pacing, renewal, REST.
import t from 'tap';
import type { Test } from 'tap';
import { createLogger } from '../../../../core/logger.js';
import { BinanceStreamPool, type StreamPoolOptions } from '../../../../shards/exchanges/binance/binance-stream-pool.js';
import { BinanceRest, BinanceRestError } from '../../../../shards/exchanges/binance/binance-rest.js';
import { SimExchange, type SimOptions } from '../../../../sim/exchange.js';
import { until } from '../../../helpers/stack.js';

const log = createLogger('silent');

interface Harness {
  sim: SimExchange;
  pool: BinanceStreamPool;
  received: Map<string, number>;
  states: Array<{ streams: string[]; state: string }>;
  rejected: Array<{ streams: string[]; reason: string }>;
}

async function harness(t: Test, opts: Partial<StreamPoolOptions> = {}, simOpts: SimOptions = {}): Promise<Harness> {
  const sim = await new SimExchange({ port: 0, tickerIntervalMs: 100, tradesPerSecond: 20, ...simOpts }).start();
  const received = new Map<string, number>();
  const states: Harness['states'] = [];
  const rejected: Harness['rejected'] = [];
  const pool = new BinanceStreamPool({
    wsUrl: sim.wsUrl,
    maxStreamsPerConnection: 1024,
    maxStreamsPerControlMessage: 200,
    controlMessagesPerSecond: 3,
    staleAfterMs: 5000,
    reconnectBaseMs: 50,
    reconnectMaxMs: 500,
    maxConnectionAgeMs: 3_600_000,
    log,
    onMessage: (stream) => received.set(stream, (received.get(stream) ?? 0) + 1),
    onState: (streams, state) => states.push({ streams, state }),
    onRejected: (streams, reason) => rejected.push({ streams, reason }),
    ...opts,
  });
  t.teardown(async () => {
    await pool.close();
    await sim.close();
  });
  return { sim, pool, received, states, rejected };
}

const count = (h: Harness, s: string) => h.received.get(s) ?? 0;

t.test('streams subscribed at connect and later by SUBSCRIBE both deliver; UNSUBSCRIBE stops them', async (t) => {
  const h = await harness(t);
  h.pool.subscribe('btcusdt@ticker');
  await until(() => count(h, 'btcusdt@ticker') > 0, 'first stream data');
  h.pool.subscribe('ethusdt@trade');
  h.pool.subscribe('solusdt@kline_1m');
  await until(() => count(h, 'ethusdt@trade') > 0 && count(h, 'solusdt@kline_1m') > 0, 'later streams data');
  t.same(Object.keys(h.sim.getStats().subscriptions).sort(), ['btcusdt@ticker', 'ethusdt@trade', 'solusdt@kline_1m']);
  h.pool.unsubscribe('ethusdt@trade');
  await until(() => !('ethusdt@trade' in h.sim.getStats().subscriptions), 'exchange dropped the stream');
  t.same(h.pool.streams(), ['btcusdt@ticker', 'solusdt@kline_1m']);
  t.equal(h.sim.getStats().connections, 1, 'one connection carries all streams');
  h.pool.unsubscribe('btcusdt@ticker');
  h.pool.unsubscribe('solusdt@kline_1m');
  await until(() => h.sim.getStats().connections === 0, 'the empty connection is closed');
});

t.test('after a dropped connection: stale, reconnect with every subscription restored, live', async (t) => {
  const h = await harness(t);
  const streams = ['btcusdt@ticker', 'ethusdt@trade', 'bnbusdt@depth10@100ms'];
  for (const s of streams) h.pool.subscribe(s);
  await until(() => streams.every((s) => count(h, s) > 0), 'all streams deliver');
  t.equal(h.sim.dropAll(), 1);
  await until(() => h.states.some((s) => s.state === 'stale'), 'stale reported');
  const before = new Map(h.received);
  await until(() => h.states.at(-1)?.state === 'live', 'live again');
  await until(() => streams.every((s) => count(h, s) > (before.get(s) ?? 0)), 'all streams deliver again');
  t.same(Object.keys(h.sim.getStats().subscriptions).sort(), [...streams].sort(), 'the exchange has every stream again');
  t.same(h.states.find((s) => s.state === 'stale')!.streams.sort(), [...streams].sort());
  t.equal(h.pool.info()[0]!.reconnects, 1);
});

t.test('a silent stall is detected by the watchdog: stale, reconnect, live', async (t) => {
  const h = await harness(t, { staleAfterMs: 400 });
  h.pool.subscribe('btcusdt@ticker');
  await until(() => count(h, 'btcusdt@ticker') > 0, 'data');
  t.equal(h.sim.stall(), 1, 'the exchange stops sending on the open connection');
  await until(() => h.states.some((s) => s.state === 'stale'), 'stall detected');
  const n = count(h, 'btcusdt@ticker');
  await until(() => count(h, 'btcusdt@ticker') > n, 'data flows on a new connection');
  t.equal(h.states.at(-1)!.state, 'live');
});

t.test('a quiet stream is not a stall: the exchange is asked, answers, and no reconnect happens', async (t) => {
  const h = await harness(t, { staleAfterMs: 600 }, { tradesPerSecond: 0.01 });
  h.pool.subscribe('btcusdt@trade');
  await until(() => h.sim.getStats().connections === 1, 'connected');
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(h.states.filter((s) => s.state === 'stale').length, 0, 'never stale');
  t.equal(h.pool.info()[0]!.reconnects, 0, 'never reconnected');
  t.ok(h.sim.getStats().controlMessages >= 3, `liveness probes answered (${h.sim.getStats().controlMessages})`);
});

t.test('if the old connection dies during renewal, the replacement\'s takeover reports the streams live again', async (t) => {
  const h = await harness(t, { staleAfterMs: 1000, reconnectBaseMs: 30_000, reconnectMaxMs: 30_000 }, { tickerIntervalMs: 60_000 });
  h.pool.subscribe('btcusdt@ticker');
  await until(() => h.pool.info()[0]?.live === true, 'first connection live (probe answered)');
  h.sim.announceShutdown();
  await until(() => h.sim.getStats().connections === 2, 'replacement connected');
  t.ok(h.sim.dropOldest(), 'old connection cut before the replacement delivered');
  await until(() => h.states.some((s) => s.state === 'stale'), 'stale reported');
  await until(() => h.states.at(-1)!.state === 'live', 'live again through the takeover');
  t.equal(h.pool.info().length, 1);
  t.equal(h.pool.info()[0]!.reconnects, 0, 'the old connection did not have to reconnect');
});

t.test('control messages are batched and paced under the exchange limit', async (t) => {
  const h = await harness(t, { controlMessagesPerSecond: 3 }, { maxIncomingPerSecond: 5 });
  h.pool.subscribe('btcusdt@ticker');
  await until(() => count(h, 'btcusdt@ticker') > 0, 'connected');
  const symbols = ['eth', 'bnb', 'sol', 'xrp', 'doge', 'ada', 'avax', 'ltc', 'dot', 'link'];
  for (const s of symbols) h.pool.subscribe(`${s}usdt@trade`);
  await until(() => symbols.every((s) => count(h, `${s}usdt@trade`) > 0), 'all ten delivered');
  t.equal(h.sim.getStats().controlMessages, 1, 'ten subscriptions in one turn → one SUBSCRIBE');
  // One subscription per turn, faster than the exchange allows messages: the adapter must pace them.
  const more = ['trx', 'atom', 'uni', 'etc', 'xlm', 'near', 'apt', 'fil'];
  for (const s of more) {
    h.pool.subscribe(`${s}usdt@ticker`);
    await new Promise((r) => setImmediate(r));
  }
  await until(() => more.every((s) => count(h, `${s}usdt@ticker`) > 0), 'all eight delivered');
  t.equal(h.states.filter((s) => s.state === 'stale').length, 0, 'never disconnected for exceeding the message rate');
  t.ok(h.sim.getStats().controlMessages <= 1 + more.length, 'no more messages than needed');
});

t.test('a bad stream name never spoils the connect URL of the good ones', async (t) => {
  const h = await harness(t);
  h.pool.subscribe('ethusdt@nonsense');
  h.pool.subscribe('ethusdt@trade');
  await until(() => count(h, 'ethusdt@trade') > 0, 'the good stream delivers');
  t.equal(h.rejected.length, 1);
  t.equal(h.states.filter((s) => s.state === 'stale').length, 0, 'no failed connection attempt');
});

t.test('more streams than one connection may carry open more connections', async (t) => {
  const h = await harness(t, { maxStreamsPerConnection: 3 });
  const streams = ['btcusdt@ticker', 'ethusdt@ticker', 'bnbusdt@ticker', 'solusdt@ticker', 'xrpusdt@ticker', 'dogeusdt@ticker', 'adausdt@ticker'];
  for (const s of streams) h.pool.subscribe(s);
  await until(() => streams.every((s) => count(h, s) > 0), 'all deliver');
  t.equal(h.sim.getStats().connections, 3);
  t.same(h.pool.info().map((c) => c.streams).sort(), [1, 3, 3]);
});

t.test('connections are renewed before their time limit without a stale moment or lost stream', async (t) => {
  const h = await harness(t, { maxConnectionAgeMs: 1000 });
  h.pool.subscribe('btcusdt@ticker');
  h.pool.subscribe('ethusdt@trade');
  await until(() => count(h, 'btcusdt@ticker') > 0, 'data');
  const firstId = h.pool.info()[0]!.id;
  await until(() => h.pool.info()[0]!.id !== firstId, 'a new connection took over', 5000);
  await until(() => h.sim.getStats().connections === 1, 'the old connection is closed');
  const n = count(h, 'ethusdt@trade');
  await until(() => count(h, 'ethusdt@trade') > n, 'data continues');
  t.equal(h.states.filter((s) => s.state === 'stale').length, 0, 'subscribers never saw a stale moment');
  t.same(Object.keys(h.sim.getStats().subscriptions).sort(), ['btcusdt@ticker', 'ethusdt@trade']);
});

t.test('a serverShutdown notice triggers the same renewal', async (t) => {
  const h = await harness(t);
  h.pool.subscribe('btcusdt@ticker');
  await until(() => count(h, 'btcusdt@ticker') > 0, 'data');
  const firstId = h.pool.info()[0]!.id;
  h.sim.announceShutdown();
  await until(() => h.pool.info()[0]!.id !== firstId, 'renewed');
  await until(() => h.sim.getStats().connections === 1, 'old one closed');
  t.equal(h.states.filter((s) => s.state === 'stale').length, 0);
});

t.test('a stream the exchange rejects is reported, the others carry on', async (t) => {
  const h = await harness(t);
  h.pool.subscribe('btcusdt@ticker');
  await until(() => count(h, 'btcusdt@ticker') > 0, 'data');
  // A valid Binance name the simulated exchange does not serve: the exchange's SUBSCRIBE error is the answer.
  h.pool.subscribe('btcusdt@ticker_1h');
  await until(() => h.rejected.length === 1, 'rejection reported');
  t.same(h.rejected[0]!.streams, ['btcusdt@ticker_1h']);
  t.match(h.rejected[0]!.reason, /Invalid request/);
  t.same(h.pool.streams(), ['btcusdt@ticker']);
  // Not a Binance stream name at all: refused before it reaches the exchange (it would spoil a connect URL).
  h.pool.subscribe('btcusdt@bogus');
  h.pool.subscribe('BTCUSDT@trade');
  await until(() => h.rejected.length === 3, 'local rejections reported');
  t.match(h.rejected[1]!.reason, /not a Binance market stream name/);
  t.same(h.pool.streams(), ['btcusdt@ticker']);
  const n = count(h, 'btcusdt@ticker');
  await until(() => count(h, 'btcusdt@ticker') > n, 'other stream still delivers');
});

t.test('REST: exchangeInfo, Binance error codes, and Retry-After honoured on 429', async (t) => {
  const sim = await new SimExchange({ port: 0 }).start();
  const rest = new BinanceRest({ baseUrl: sim.restUrl, timeoutMs: 2000, optionalWeightBudget: 6000, log });
  t.teardown(async () => {
    await rest.close();
    await sim.close();
  });
  const symbols = await rest.exchangeInfo();
  t.ok(symbols.some((s) => s.symbol === 'BTCUSDT' && s.status === 'TRADING'));
  t.ok(symbols.some((s) => s.symbol === 'LUNAUSDT' && s.status === 'BREAK'));
  t.equal(rest.usedWeight, 20, 'weight header read');
  const bad = await rest.get('/api/v3/depth', { symbol: 'NOPE' }).catch((e: unknown) => e);
  t.ok(bad instanceof BinanceRestError);
  t.equal((bad as BinanceRestError).binanceCode, -1121);
  sim.failRest(1, 429, 1);
  const limited = await rest.exchangeInfo().catch((e: unknown) => e);
  t.equal((limited as BinanceRestError).status, 429);
  t.equal((limited as BinanceRestError).retryAfterMs, 1000);
  const requests = sim.getStats().restRequests;
  const early = await rest.exchangeInfo().catch((e: unknown) => e);
  t.ok(early instanceof BinanceRestError, 'refused locally while the exchange asked to wait');
  t.equal(sim.getStats().restRequests, requests, 'no request sent during the wait');
  await new Promise((r) => setTimeout(r, 1050));
  t.ok((await rest.exchangeInfo()).length > 0, 'served again after Retry-After');
});

t.test('REST: optional requests stop at the weight budget, required ones still go', async (t) => {
  // The exchange counts weight per calendar minute: start well inside one.
  if (Date.now() % 60_000 > 50_000) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 50));
  const sim = await new SimExchange({ port: 0 }).start();
  const rest = new BinanceRest({ baseUrl: sim.restUrl, timeoutMs: 2000, optionalWeightBudget: 25, log });
  t.teardown(async () => {
    await rest.close();
    await sim.close();
  });
  await rest.exchangeInfo();
  t.equal(rest.usedWeight, 20);
  t.equal((await rest.klines('BTCUSDT', '1m', 1)).length, 1);
  t.equal((await rest.klines('BTCUSDT', '1m', 1)).length, 1);
  t.equal(rest.usedWeight, 24, 'the exchange reports cumulative weight');
  const requests = sim.getStats().restRequests;
  const skipped = await rest.klines('BTCUSDT', '1m', 1).catch((e: unknown) => e);
  t.ok(skipped instanceof BinanceRestError, 'over budget: refused locally');
  t.match((skipped as Error).message, /budget 25/);
  t.equal(sim.getStats().restRequests, requests, 'nothing sent');
  t.ok((await rest.exchangeInfo()).length > 0, 'a required request is still sent');
});

t.test('REST: concurrent optional requests are counted against the budget before they are answered', async (t) => {
  if (Date.now() % 60_000 > 50_000) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 50));
  const sim = await new SimExchange({ port: 0 }).start();
  const rest = new BinanceRest({ baseUrl: sim.restUrl, timeoutMs: 2000, optionalWeightBudget: 10, log });
  t.teardown(async () => {
    await rest.close();
    await sim.close();
  });
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => rest.klines('BTCUSDT', '1m', 1)));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 5, '5 × weight 2 fit a budget of 10');
  t.equal(sim.getStats().restRequests, 5, 'the other 15 were never sent');
});
