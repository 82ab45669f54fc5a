// A paper-trading strategy: follows signals:SYM (the signals plugin's channel) and places market orders through the
// trading plugin's service for each user who opts in, when a signal's confidence reaches the threshold.
import { definePlugin, TickgateError, type ConfigSchema, type TradingService, type WatchedFrame } from 'tickgate/plugin';

export interface StrategyConfig {
  /** Symbols whose signals it follows. */
  symbols: string[];
  /** The signals' candle interval (one of the signals plugin's intervals); empty: signals:SYM's own. */
  interval: string;
  /** The least probability of up (buy) or down (sell) that places an order. */
  minConfidence: number;
  /** Base quantity of each order, as a decimal string. */
  quantity: string;
}

const configSchema: ConfigSchema<StrategyConfig> = {
  safeParse(input) {
    const { symbols = ['BTCUSDT'], interval = '', minConfidence = 0.6, quantity = '0.001', ...rest } = (input ?? {}) as Record<string, unknown>;
    const fail = (path: string, message: string) => ({ success: false as const, error: { issues: [{ path: [path], message }] } });
    if (Object.keys(rest).length) return fail(Object.keys(rest)[0]!, 'unknown key: strategy takes symbols, interval, minConfidence, quantity');
    if (!Array.isArray(symbols) || symbols.length === 0 || !symbols.every((s) => typeof s === 'string' && /^[A-Z0-9]{2,20}$/.test(s))) return fail('symbols', 'a list of symbols such as [BTCUSDT]');
    if (typeof interval !== 'string') return fail('interval', 'a kline interval such as 1m');
    if (typeof minConfidence !== 'number' || minConfidence < 0 || minConfidence > 1) return fail('minConfidence', 'a number from 0 to 1');
    if (typeof quantity !== 'string' || !/^\d+(\.\d+)?$/.test(quantity)) return fail('quantity', 'a decimal string such as "0.001"');
    return { success: true, data: { symbols: symbols as string[], interval, minConfidence, quantity } };
  },
};

interface Signal {
  symbol: string;
  candleTime: number;
  probabilities: { down: number; flat: number; up: number };
}

interface Follower {
  since: string;
  placed: number;
  refused: number;
  lastOrder: { id: number; side: string; status: string } | null;
  lastRefusal: { code: string; message: string } | null;
}

export default definePlugin({
  name: 'strategy',
  configSchema,
  acceptor(api) {
    const cfg = api.config;
    // Another plugin's service: the trading plugin must be listed before this one in config.yaml.
    const trading = api.use<TradingService>('trading');
    const followers = new Map<string, Follower>();
    const lastCandle = new Map<string, number>();

    const onSignal = (frame: WatchedFrame) => {
      if (frame.type !== 'signal') return;
      const s = frame.data as Signal;
      const seen = lastCandle.get(frame.channel);
      lastCandle.set(frame.channel, Math.max(seen ?? 0, s.candleTime));
      // The first frame is the state when watching began, not a new candle: act on candles that close after it.
      if (frame.snapshot || seen === undefined || s.candleTime <= seen) return;
      const { up, down } = s.probabilities;
      const side = up >= down ? 'BUY' : 'SELL';
      if (Math.max(up, down) < cfg.minConfidence) return;
      for (const [userId, f] of followers) {
        // One order per user, symbol and candle: the client order id makes a repeat of this signal change nothing
        // (at most 36 characters: the candle time in base 36).
        const clientOrderId = `st-${s.candleTime.toString(36)}-${side[0]}-${s.symbol}`;
        trading.placeOrder(userId, { symbol: s.symbol, side, type: 'MARKET', quantity: cfg.quantity, clientOrderId }).then(
          (o) => {
            f.placed++;
            f.lastOrder = { id: o.id, side: o.side, status: o.status };
          },
          (err: unknown) => {
            // A sell with nothing to sell, a stale book: refused with a coded reason, which the follower can read.
            f.refused++;
            f.lastRefusal = err instanceof TickgateError ? { code: err.code, message: err.message } : { code: 'UNKNOWN', message: String(err) };
          },
        );
      }
    };

    const unwatch: Array<() => void> = [];
    // Channels name exchange symbols, which are known once the exchange's list has loaded.
    void api.symbols.whenLoaded().then(() => {
      for (const symbol of cfg.symbols) {
        const channel = cfg.interval ? `signals:${symbol}:${cfg.interval}` : `signals:${symbol}`;
        try {
          unwatch.push(api.watch(channel, onSignal));
        } catch (err) {
          api.log.error({ channel, err: (err as Error).message }, 'strategy cannot follow this channel');
        }
      }
    });
    api.onClose(() => {
      for (const off of unwatch) off();
    });

    const view = (userId: string) => ({ following: followers.has(userId), symbols: cfg.symbols, minConfidence: cfg.minConfidence, quantity: cfg.quantity, ...followers.get(userId) });
    // No input to check: the schemas only describe the routes in GET /openapi.json.
    api.route('get', '/api/v1/strategy', (req) => ({ body: { success: true, data: view(req.identity!.userId) } }), {
      auth: 'user', schema: { summary: 'Whether you follow the strategy, and what it placed and was refused for you' },
    });
    api.route('post', '/api/v1/strategy/follow', (req) => {
      const userId = req.identity!.userId;
      if (!followers.has(userId)) followers.set(userId, { since: new Date().toISOString(), placed: 0, refused: 0, lastOrder: null, lastRefusal: null });
      return { body: { success: true, data: view(userId) } };
    }, { auth: 'user', schema: { summary: 'Follow the strategy: it places paper orders for you on confident signals' } });
    api.route('del', '/api/v1/strategy/follow', (req) => {
      followers.delete(req.identity!.userId);
      return { body: { success: true, data: view(req.identity!.userId) } };
    }, { auth: 'user', schema: { summary: 'Stop following the strategy' } });
  },
});
