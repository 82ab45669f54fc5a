// Built-in market plugin, acceptor half: declares the public market channel families and the symbols route.
import { z } from 'zod';
import { definePlugin, type RouteRequest } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { okAnswer } from '../../core/openapi.js';
import { choiceParam, countParam, servedSymbol } from '../../core/route-params.js';
import { KLINE_INTERVALS } from './intervals.js';
import { depthAnswer, klineAnswer, tickerAnswer, tradeAnswer } from './answers.js';

/** The depth channel's levels (depth:SYM:N). */
const DEPTH_LEVELS = [5, 10, 20, 50, 100];

export default definePlugin({
  name: 'market',
  configSchema: z.object({
    /** REST market endpoints keep a symbol's stream and state this long after the last request. */
    restIdleMs: z.number().int().min(100).max(3_600_000).default(60_000),
  }).strict(),
  acceptor(api) {
    api.channel('price', { key: 'symbol', conflate: true, description: 'last price and 24h change (from the exchange ticker)' });
    api.channel('ticker', { key: 'symbol', conflate: true, description: 'full 24h ticker statistics' });
    api.channel('klines', { key: 'symbol', argName: 'interval', args: KLINE_INTERVALS, argErrorCode: 'TG_ERR_INVALID_INTERVAL', description: 'candlesticks of one interval' });
    api.channel('trades', { key: 'symbol', description: 'individual trades' });
    api.channel('aggTrades', { key: 'symbol', description: 'aggregate trades: one per taker order (extension)' });
    api.channel('depth', { key: 'symbol', argName: 'levels', args: DEPTH_LEVELS.map(String), argRequired: false, conflate: true, description: 'order book from the local book: top 10 levels per side, or depth:SYM:N' });
    api.channel('depthDelta', { key: 'symbol', argName: 'levels', args: DEPTH_LEVELS.map(String), argRequired: false, conflate: true, description: 'the depth channel as changes: a whole depth frame, then only the levels that changed (quantity 0: gone)' });
    const { symbols } = api;
    const TAGS = ['market'];
    api.route('get', '/api/v1/market/symbols', () => {
      if (!symbols.loaded) throw new TickgateError('TG_ERR_SYMBOLS_UNAVAILABLE');
      return { body: { success: true, data: symbols.list() } };
    }, { schema: { tags: TAGS, summary: 'The symbols this server serves, sorted', response: { 200: okAnswer(z.array(z.string())) } } });
    // REST views of the shards' market state: no exchange call per request (a symbol's stream opens on demand).
    // The symbol is a path parameter, checked before the query: a bad symbol is reported before a bad parameter.
    const symbolOf = (raw: string | undefined): string => symbols.validate(raw ?? '').symbol;
    const params = z.object({ symbol: servedSymbol(symbols) });
    const interval = choiceParam(KLINE_INTERVALS, 'TG_ERR_INVALID_INTERVAL', `interval must be one of ${KLINE_INTERVALS.join(', ')}`);
    const ok = (data: unknown) => ({ body: { success: true, data } });
    /**
     * The channel a REST route's answer is the twin of, so that whoever may not hold it (a plan) may not read it here
     * either; undefined for a symbol the route refuses anyway (its own error then says why).
     */
    const twin = (kind: string, arg?: string) => (req: RouteRequest): string | undefined => {
      try {
        return `${kind}:${symbolOf(req.params.symbol)}${arg === undefined ? '' : `:${arg}`}`;
      } catch {
        return undefined;
      }
    };
    api.route('get', '/api/v1/market/ticker/:symbol', async (req) => ok(await api.ask(req.params.symbol, 'ticker', {})), {
      channel: twin('ticker'),
      schema: { tags: TAGS, summary: 'The 24h ticker (the ticker frame\'s data)', params, response: { 200: okAnswer(tickerAnswer) } },
    });
    api.route('get', '/api/v1/market/depth/:symbol', async (req) => ok(await api.ask(req.params.symbol, 'depth', { limit: req.query.limit })), {
      schema: {
        tags: TAGS, summary: 'The top levels of the local order book (the depth frame\'s data)', params,
        query: z.object({ limit: countParam('limit', 20, 100) }), response: { 200: okAnswer(depthAnswer) },
      },
      // The twin of depth:SYM:N with the smallest N that holds the levels asked for.
      channel: (req) => {
        const n = Number(req.query.get('limit') ?? 20);
        const levels = DEPTH_LEVELS.find((l) => l >= n);
        return Number.isInteger(n) && levels !== undefined ? twin('depth', String(levels))(req) : undefined;
      },
    });
    api.route('get', '/api/v1/market/klines/:symbol', async (req) => ok(await api.ask(req.params.symbol, 'klines', { interval: req.query.interval, limit: req.query.limit })), {
      channel: (req) => twin('klines', req.query.get('interval') ?? '')(req),
      schema: {
        tags: TAGS, summary: 'The last candles, oldest first, the last one still open', params,
        // A missing interval is refused with its own code, not as a missing field: the schema takes it as optional, and
        // tells the document it is required.
        query: z.object({ interval, limit: countParam('limit', 100, 1000) }).meta({ required: ['interval'] }),
        response: { 200: okAnswer(z.array(klineAnswer)) },
      },
    });
    api.route('get', '/api/v1/market/trades/:symbol', async (req) => ok(await api.ask(req.params.symbol, 'trades', { limit: req.query.limit })), {
      channel: twin('trades'),
      schema: {
        tags: TAGS, summary: 'The last trades, oldest first', params,
        query: z.object({ limit: countParam('limit', 100, 1000) }), response: { 200: okAnswer(z.array(tradeAnswer)) },
      },
    });
  },
  shard: new URL('./shard.js', import.meta.url),
});
