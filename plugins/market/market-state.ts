// Market plugin, shard half: the state behind the REST market endpoints, opened on demand and released when idle.
import { TickgateError } from '../../core/errors.js';
import type { KlineEvent, ShardApi, TradeEvent } from '../../shards/shard-api.js';
import { depthData, klineData, tickerData, tradeData } from './frames.js';

const WAIT_MS = 5000;
const HISTORY = 1000;

/** Something kept alive while requests come: its release runs IDLE_MS after the last use. */
class Kept<T> {
  constructor(private readonly idleMs: number) {}

  private readonly items = new Map<string, { value: T; release: () => void; timer: NodeJS.Timeout }>();

  use(key: string, create: () => { value: T; release: () => void }): T {
    let item = this.items.get(key);
    if (item) clearTimeout(item.timer);
    else item = { ...create(), timer: undefined as unknown as NodeJS.Timeout };
    item.timer = setTimeout(() => {
      this.items.delete(key);
      item!.release();
    }, this.idleMs);
    item.timer.unref();
    this.items.set(key, item);
    return item.value;
  }

  /** Forgets an item now (its setup failed): the next use creates it again. */
  drop(key: string): void {
    const item = this.items.get(key);
    if (!item) return;
    clearTimeout(item.timer);
    this.items.delete(key);
    item.release();
  }
}

/** Waits (polling; only the first request of an idle symbol waits) until `get` has a value. */
async function waitFor<T>(get: () => T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new TickgateError('TG_ERR_DATA_UNAVAILABLE');
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Params {
  limit?: number;
  interval?: string;
}

export function answerMarketQueries(api: ShardApi): void {
  /** How long REST-only interest keeps a symbol's data and state after the last request. */
  const IDLE_MS = Number(api.config.restIdleMs);
  const candles = new Kept<{ list: KlineEvent[]; seeded: Promise<void> }>(IDLE_MS);
  const trades = new Kept<{ ring: TradeEvent[]; seeded: Promise<void> }>(IDLE_MS);

  api.answer('ticker', async (_p, { symbol }) => {
    api.market.hold(symbol, ['ticker'], IDLE_MS);
    return tickerData(await waitFor(() => api.market.latest('ticker', symbol)));
  });

  api.answer('depth', async (p, { symbol }) => {
    const { limit = 20 } = p as Params;
    api.market.hold(symbol, ['book'], IDLE_MS);
    return depthData(await waitFor(() => api.market.latest('book', symbol)), limit);
  });

  api.answer('klines', async (p, { symbol }) => {
    const { interval = '1m', limit = 100 } = p as Params;
    api.market.hold(symbol, [`kline:${interval}`], IDLE_MS);
    const state = candles.use(`${symbol}|${interval}`, () => {
      const list: KlineEvent[] = [];
      const put = (k: KlineEvent) => {
        const last = list.at(-1);
        if (!last || k.openTime > last.openTime) list.push(k);
        else if (k.openTime === last.openTime) list[list.length - 1] = k;
        if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
      };
      const off = api.market.on('kline', symbol, put, interval);
      // History once from REST; the stream keeps it current from then on.
      const seeded = api.exchange.klines(symbol, interval, HISTORY).then((rows) => {
        const live = list.splice(0);
        for (const r of rows) put(r);
        for (const k of live) put(k);
      });
      return { value: { list, seeded }, release: off };
    });
    await state.seeded.catch(() => {
      candles.drop(`${symbol}|${interval}`);
      throw new TickgateError('TG_ERR_DATA_UNAVAILABLE', 'Candle history could not be loaded from the exchange: retry in a few seconds');
    });
    return state.list.slice(-limit).map(klineData);
  });

  api.answer('trades', async (p, { symbol }) => {
    const { limit = 100 } = p as Params;
    api.market.hold(symbol, ['trade'], IDLE_MS);
    const state = trades.use(symbol, () => {
      const ring: TradeEvent[] = [];
      const put = (t: TradeEvent) => {
        const last = ring.at(-1);
        if (last && t.tradeId <= last.tradeId) return;
        ring.push(t);
        if (ring.length > HISTORY) ring.splice(0, ring.length - HISTORY);
      };
      const off = api.market.on('trade', symbol, put);
      const seeded = api.exchange.trades(symbol, HISTORY).then((rows) => {
        const live = ring.splice(0);
        for (const r of rows) put(r);
        for (const t of live) put(t);
      });
      return { value: { ring, seeded }, release: off };
    });
    await state.seeded.catch(() => {
      trades.drop(symbol);
      throw new TickgateError('TG_ERR_DATA_UNAVAILABLE', 'Recent trades could not be loaded from the exchange: retry in a few seconds');
    });
    return state.ring.slice(-limit).map(tradeData);
  });
}
