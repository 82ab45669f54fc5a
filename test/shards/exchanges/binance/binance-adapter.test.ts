// The Binance adapter behind the exchange seam: feeds to streams, trades de-duplicated across a connection renewal,
// the heartbeat kept while feeds come and go, books on demand, symbol filters, history.
import t from 'tap';
import type { Test } from 'tap';
import { createLogger } from '../../../../core/logger.js';
import { validateConfig } from '../../../../core/config.js';
import { BinanceAdapter, streamOf } from '../../../../shards/exchanges/binance/binance-adapter.js';
import { feed, type Feed } from '../../../../shards/exchanges/exchange-adapter.js';
import type { MarketKind } from '../../../../shards/market/market-events.js';
import { SimExchange, type SimOptions } from '../../../../sim/exchange.js';
import { until } from '../../../helpers/stack.js';

interface Harness {
  sim: SimExchange;
  adapter: BinanceAdapter;
  events: Array<{ kind: MarketKind; symbol: string; event: any }>;
  changed: Feed[][];
}

async function harness(t: Test, upstream: Record<string, unknown> = {}, simOpts: SimOptions = {}, wanted = true): Promise<Harness> {
  const sim = await new SimExchange({ port: 0, tickerIntervalMs: 100, tradesPerSecond: 50, ...simOpts }).start();
  const config = validateConfig({ upstream: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, heartbeatStream: '', ...upstream } }, 'test');
  const h: Harness = { sim, adapter: undefined as unknown as BinanceAdapter, events: [], changed: [] };
  h.adapter = new BinanceAdapter({
    upstream: config.upstream,
    log: createLogger('silent'),
    heartbeat: config.upstream.heartbeatStream !== '',
    events: {
      event: (kind, symbol, _arg, event) => h.events.push({ kind, symbol, event }),
      changed: (feeds) => h.changed.push(feeds),
      rejected: () => {},
      wanted: () => wanted,
    },
  });
  h.adapter.start();
  t.teardown(async () => {
    await h.adapter.stop();
    await sim.close();
  });
  return h;
}

t.test('feeds by meaning map to Binance\'s stream names', async (t) => {
  t.equal(streamOf(feed('ticker', 'BTCUSDT')), 'btcusdt@ticker');
  t.equal(streamOf(feed('trade', 'BTCUSDT')), 'btcusdt@trade');
  t.equal(streamOf(feed('aggTrade', 'ETHUSDT')), 'ethusdt@aggTrade');
  t.equal(streamOf(feed('kline', 'SOLUSDT', '15m')), 'solusdt@kline_15m');
  t.equal(streamOf(feed('book', 'XRPUSDT')), 'xrpusdt@depth@100ms');
});

t.test('a trade delivered by both connections during a renewal reaches the runtime once', async (t) => {
  const h = await harness(t);
  h.adapter.open(feed('trade', 'BTCUSDT'));
  await until(() => h.events.length > 5, 'trades flow');
  for (let i = 0; i < 3; i++) {
    const first = h.adapter.info().connections[0]!.id;
    h.sim.announceShutdown();
    await until(() => h.adapter.info().connections.length === 1 && h.adapter.info().connections[0]!.id !== first, `renewal ${i + 1}`);
    const n = h.events.length;
    await until(() => h.events.length > n + 5, 'trades after the renewal');
  }
  const ids = h.events.filter((e) => e.kind === 'trade').map((e) => e.event.tradeId as number);
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), `${ids.length} trade ids strictly increasing over three renewals`);
  // The same payload twice, as two connections deliver it: the second is dropped.
  const onMessage = (h.adapter as unknown as { onMessage(stream: string, data: unknown): void }).onMessage.bind(h.adapter);
  const last = ids.at(-1)!;
  const before = h.events.length;
  const payload = { e: 'trade', E: Date.now(), s: 'BTCUSDT', t: last + 1_000_000_000, p: '1.00', q: '1.0', T: Date.now(), m: true, M: true };
  onMessage('btcusdt@trade', payload);
  onMessage('btcusdt@trade', payload);
  t.equal(h.events.filter((e, i) => i >= before && e.event.tradeId === last + 1_000_000_000).length, 1, 'one event for a repeated trade id');
});

t.test('the heartbeat stream stays subscribed when a feed on the same stream closes', async (t) => {
  const h = await harness(t, { heartbeatStream: 'btcusdt@ticker' });
  await until(() => h.adapter.info().streams.includes('btcusdt@ticker'), 'heartbeat subscribed');
  const ticker = feed('ticker', 'BTCUSDT');
  h.adapter.open(ticker);
  await until(() => h.events.some((e) => e.kind === 'ticker'), 'ticker events');
  h.adapter.close(ticker);
  await new Promise((r) => setTimeout(r, 300));
  t.same(h.adapter.info().streams, ['btcusdt@ticker']);
  await until(() => h.adapter.info().connections[0]?.live === true, 'the heartbeat connection stays live');
});

t.test('books: built for listeners only, read on demand while in sync; stale on a drop, live again after a resync', async (t) => {
  const h = await harness(t, { reconnectBaseMs: 50, reconnectMaxMs: 100 });
  const book = feed('book', 'ETHUSDT');
  h.adapter.open(book);
  await until(() => h.adapter.book('ETHUSDT', 5) !== undefined, 'book in sync');
  const b = h.adapter.book('ETHUSDT', 5)!;
  t.equal(b.bids.length, 5);
  t.ok(b.bids[0]![0] < b.asks[0]![0], 'not crossed');
  t.ok(h.events.some((e) => e.kind === 'book'), 'book events for a listener');
  t.notOk(h.adapter.isStale(book));
  h.changed.length = 0;
  h.sim.dropAll();
  await until(() => h.adapter.isStale(book), 'stale after the drop');
  t.equal(h.adapter.book('ETHUSDT', 5), undefined, 'no book while it is rebuilt');
  await until(() => !h.adapter.isStale(book) && h.adapter.book('ETHUSDT', 5) !== undefined, 'in sync again');
  t.ok(h.changed.some((f) => f.some((x) => x.key === book.key)), 'the runtime was told');
  h.adapter.close(book);
  t.equal(h.adapter.book('ETHUSDT', 5), undefined, 'closed: forgotten');
});

t.test('no listener: no book events are built, but the book can still be read', async (t) => {
  const h = await harness(t, {}, {}, false);
  h.adapter.open(feed('book', 'SOLUSDT'));
  await until(() => h.adapter.book('SOLUSDT', 3) !== undefined, 'book in sync');
  t.equal(h.events.filter((e) => e.kind === 'book').length, 0);
});

t.test('symbols with their filters, and history normalised like live events', async (t) => {
  const h = await harness(t);
  const symbols = await h.adapter.symbols();
  const btc = symbols.find((s) => s.symbol === 'BTCUSDT')!;
  t.same({ status: btc.status, base: btc.baseAsset, quote: btc.quoteAsset }, { status: 'TRADING', base: 'BTC', quote: 'USDT' });
  t.equal(btc.filters.tickSize, 0.01);
  t.equal(btc.filters.minNotional, 5);
  t.equal(btc.filters.maxPrice, 1_000_000);
  t.ok(symbols.some((s) => s.status === 'BREAK'), 'halted symbols are listed with their status');
  const klines = await h.adapter.klines('BTCUSDT', '1m', 3);
  t.equal(klines.length, 3);
  const last = klines.at(-1)!;
  // Open, unless a minute ended while the request ran (then it may be either, by when the answer was read).
  if (last.closeTime >= Date.now()) t.equal(last.isFinal, false, 'the last candle is still open');
  else t.pass('a minute ended during the request');
  // The simulated exchange keeps trades of the symbols it streams.
  h.adapter.open(feed('trade', 'BTCUSDT'));
  await until(() => h.events.filter((e) => e.kind === 'trade').length >= 5, 'trades streamed');
  const trades = await h.adapter.trades('BTCUSDT', 5);
  t.equal(trades.length, 5);
  t.ok(trades.length > 0 && trades.every((x) => x.symbol === 'BTCUSDT' && typeof x.buyerIsMaker === 'boolean'));
});

t.test('book changes: every diff once, in the exchange\'s numbering and text, in order across a reconnect', async (t) => {
  const h = await harness(t, { reconnectBaseMs: 50, reconnectMaxMs: 100 });
  h.adapter.open(feed('book', 'BNBUSDT'));
  const diffs = () => h.events.filter((e) => e.kind === 'depthUpdate').map((e) => e.event as { symbol: string; firstUpdateId: number; finalUpdateId: number; bids: Array<[string, string]>; asks: Array<[string, string]> });
  await until(() => diffs().length >= 10, 'book changes flow');
  const first = diffs();
  t.ok(first.every((d, i) => i === 0 || d.firstUpdateId === first[i - 1]!.finalUpdateId + 1), `${first.length} changes numbered back to back`);
  t.ok(first.every((d) => d.symbol === 'BNBUSDT' && [...d.bids, ...d.asks].every(([p, q]) => typeof p === 'string' && typeof q === 'string')), 'levels as the exchange wrote them (strings)');
  h.sim.dropAll();
  const n = diffs().length;
  await until(() => diffs().length > n + 5, 'changes after the reconnect');
  const all = diffs();
  t.ok(all.every((d, i) => i === 0 || d.firstUpdateId > all[i - 1]!.finalUpdateId), 'in the exchange\'s order, none repeated');
  // The same payload twice, as two connections deliver it during a renewal: the second is dropped.
  const onMessage = (h.adapter as unknown as { onMessage(stream: string, data: unknown): void }).onMessage.bind(h.adapter);
  const u = all.at(-1)!.finalUpdateId + 10_000_000;
  const payload = { e: 'depthUpdate', E: Date.now(), s: 'BNBUSDT', U: u, u: u + 1, b: [], a: [] };
  onMessage('bnbusdt@depth@100ms', payload);
  onMessage('bnbusdt@depth@100ms', payload);
  t.equal(diffs().filter((d) => d.finalUpdateId === u + 1).length, 1, 'one event for a repeated change');
});
