// Binance relay, acceptor half: Binance's stream endpoints (/ws/<stream>, /stream?streams=) and GET /api/v3/depth,
// served from the gateway's one exchange connection and its local books.
import { definePlugin, jsonText, type AcceptorApi, type RouteResult, type SocketEndpoint, type SocketUpgrade } from '../../core/plugin-api.js';
import { configSchema, type RelayConfig } from './config.js';
import { RelaySessions, type RelayConn } from './relay-session.js';
import { StreamHub } from './stream-hub.js';
import { channelArg, checkStream, RELAY_KIND, SERVED_SUFFIXES, type RelayStream } from './stream-names.js';

/** Binance's REST error: `{code, msg}` with an HTTP status. */
function binanceError(status: number, code: number, msg: string): RouteResult {
  return { status, body: { code, msg } };
}

const UNAVAILABLE = 'Internal error; unable to process your request. Please try again.';

export default definePlugin({
  name: 'binance-relay',
  configSchema,
  acceptor(api) {
    const cfg = api.config;
    // Plans gate channels on /ws (depth:SYM:100, …); this endpoint has no sign-in, so it would serve the same data
    // to anyone: say so where both run.
    let payments = false;
    try {
      api.use('payments');
      payments = true;
    } catch {
      // No payments plugin: nothing is gated.
    }
    if (payments) api.log.warn('the Binance relay is public: data a payments plan gates on /ws (depth:SYM:100) is served here to anyone; list binance-relay with enabled: false where that matters');
    api.channel(RELAY_KIND, {
      key: 'symbol',
      raw: true,
      argName: 'stream',
      args: SERVED_SUFFIXES.map(channelArg),
      description: 'a Binance stream as Binance sends it (for the relay\'s own endpoints)',
    });
    const hub = new StreamHub(api as AcceptorApi<unknown>);
    const serves = (symbol: string) => api.symbols.serves(symbol);
    const sessions = new RelaySessions(hub, cfg, serves);
    let connections = 0;

    const endpoint = (combined: boolean, streamsOf: (path: string, query: URLSearchParams) => string[]): SocketEndpoint<RelayConn> => ({
      upgrade(req): SocketUpgrade<RelayConn> {
        const refuse = (status: number, code: number, msg: string): SocketUpgrade<RelayConn> => ({ refuse: { status, body: { code, msg } } });
        const timeUnit = req.query.get('timeUnit');
        if (timeUnit !== null && timeUnit.toUpperCase() !== 'MILLISECOND') {
          return refuse(400, -1100, `Illegal characters found in parameter 'timeUnit': this gateway sends times in MILLISECOND only.`);
        }
        let names: string[];
        try {
          names = [...new Set(streamsOf(req.path, req.query).map((s) => decodeURIComponent(s)))];
        } catch {
          return refuse(400, 2, 'Invalid request: invalid stream');
        }
        if (names.length > 0 && !api.symbols.loaded) return refuse(503, -1001, UNAVAILABLE);
        if (names.length > cfg.maxStreamsPerConnection) return refuse(400, 2, `Invalid request: a connection may listen to at most ${cfg.maxStreamsPerConnection} streams`);
        const initial: RelayStream[] = [];
        for (const name of names) {
          const check = checkStream(name, serves);
          if (!check.ok) return refuse(400, 2, check.message);
          initial.push(check.stream);
        }
        return { accept: { combined, streams: new Map(), recent: [], initial } };
      },
      open(socket) {
        connections++;
        try {
          sessions.opened(socket);
        } catch (err) {
          // A stream of the URL that cannot be held now (the server's active-symbol cap): try again later.
          api.log.warn({ err: (err as Error).message }, 'relay connection refused a stream of its URL');
          socket.end(1013, 'Try again later: a stream cannot be served now');
        }
      },
      message: (socket, data, isBinary) => sessions.message(socket, data, isBinary),
      control: (socket) => {
        sessions.allow(socket);
      },
      close(socket) {
        connections--;
        sessions.closed(socket);
      },
    });
    const split = (list: string) => list.split('/').filter((s) => s !== '');
    const opts = { maxMessageBytes: cfg.maxMessageBytes };
    const bases = cfg.basePath === '' ? [''] : ['', cfg.basePath];
    for (const base of bases) {
      api.websocket(`${base}/ws/*`, endpoint(false, (path) => split(path.slice(path.indexOf('/ws/') + '/ws/'.length))), opts);
      api.websocket(`${base}/stream`, endpoint(true, (_path, query) => split(query.get('streams') ?? '')), opts);
    }
    // The bare /ws (streams by SUBSCRIBE only) at the root is tickgate's own protocol: here only under the base path.
    if (cfg.basePath !== '') api.websocket(`${cfg.basePath}/ws`, endpoint(false, () => []), opts);

    api.metrics.gauge('connections', 'Open connections to the Binance-compatible stream endpoints', [], (g) => g.set(connections));
    api.metrics.gauge('streams', 'Binance streams relayed now (each held once, whatever the number of connections)', [], (g) => g.set(hub.size));

    if (cfg.restDepth) depthRoute(api, cfg);
  },
  shard: new URL('./shard.js', import.meta.url),
});

/** GET /api/v3/depth as Binance answers it, from the local book of the shard that owns the symbol. */
function depthRoute(api: AcceptorApi<RelayConfig>, cfg: RelayConfig): void {
  api.route('get', '/api/v3/depth', async (req) => {
    const symbol = req.query.get('symbol');
    if (!symbol) return binanceError(400, -1102, 'Mandatory parameter \'symbol\' was not sent, was empty/null, or malformed.');
    if (!/^[A-Z0-9-_.]{1,20}$/.test(symbol)) return binanceError(400, -1100, 'Illegal characters found in parameter \'symbol\'; legal range is \'^[A-Z0-9-_.]{1,20}$\'.');
    if (!api.symbols.loaded) return binanceError(503, -1001, UNAVAILABLE);
    if (!api.symbols.serves(symbol)) return binanceError(400, -1121, 'Invalid symbol.');
    const raw = req.query.get('limit');
    let limit = 100;
    if (raw !== null) {
      if (!/^[0-9]{1,20}$/.test(raw) || Number(raw) < 1) return binanceError(400, -1100, 'Illegal characters found in parameter \'limit\'; legal range is \'^[0-9]{1,20}$\'.');
      limit = Math.min(Number(raw), 5000);
    }
    // The shard serialises the answer: a deep book is not built into JSON on this thread.
    const text = await api.ask<string>(symbol, 'depth', { limit }, cfg.depthWaitMs + 3000);
    return { body: jsonText(text) };
  }, {
    outsideNamespace: true,
    // The gateway's own refusals (a request limit, a book not in sync, a shard restarting) in Binance's words.
    errorShape: (e) => {
      if (e.status === 429) return binanceError(429, -1003, `Too many requests: ${e.message}`);
      if (e.status >= 500) return binanceError(503, -1001, UNAVAILABLE);
      return binanceError(e.status, -1000, `An unknown error occurred while processing the request: ${e.message}`);
    },
  });
}
