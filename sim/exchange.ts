// The simulated exchange: Binance's combined/raw WebSocket streams, live SUBSCRIBE control and the REST endpoints tickgate uses.
import type { HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { loadNativeUws } from '../core/uws-native.js';
import { DEFAULT_SYMBOLS, KLINE_INTERVALS, SymbolMarket, isKlineInterval, prng, type BookDiff, type Candle, type KlineInterval, type SymbolSpec } from './market-model.js';

export interface SimOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  symbols?: SymbolSpec[];
  /** Trades per second per symbol. */
  tradesPerSecond?: number;
  /** Period of @ticker events (Binance: 1000 ms). */
  tickerIntervalMs?: number;
  /** Period of @kline events (Binance: 2000 ms; 1000 ms for 1s klines). */
  klineIntervalMs?: number;
  /** Period of book updates and @depth@100ms / @depthN@100ms events (Binance: 100 ms). */
  depthIntervalMs?: number;
  /** Incoming messages per second per connection before the connection is closed (Binance: 5). */
  maxIncomingPerSecond?: number;
  maxStreamsPerConnection?: number;
  /** Connections are cut after this long (Binance: 24 h). */
  maxConnectionAgeMs?: number;
  seed?: number;
  /** For tests: keep the top N levels of every book state by update id (SymbolMarket.bookHistory). */
  recordBookTop?: number;
}

interface Conn {
  id: number;
  combined: boolean;
  streams: Set<string>;
  openedAt: number;
  recent: number[];
  stalled: boolean;
  closed: boolean;
}

const STREAM_RE = /^([a-z0-9]{1,20})@(trade|aggTrade|ticker|miniTicker|bookTicker|kline_([0-9]+[smhdwM])|depth(5|10|20)?(@100ms)?)$/;
const BASE_TICK_MS = 20;

export interface SimStats {
  connections: number;
  subscriptions: Record<string, number>;
  eventsSent: number;
  /** Events sent by stream type (the name after the symbol: `ticker`, `miniTicker`, `trade`, `depth@100ms`…). */
  eventsByType: Record<string, number>;
  controlMessages: number;
  restRequests: number;
}

/** Errors in Binance's own shape. */
function binanceError(code: number, msg: string): string {
  return JSON.stringify({ code, msg });
}

export class SimExchange {
  private readonly uws = loadNativeUws();
  private readonly app: TemplatedApp;
  private readonly markets = new Map<string, SymbolMarket>();
  private readonly conns = new Set<WebSocket<Conn>>();
  private listenSocket: us_listen_socket | undefined;
  private timers: NodeJS.Timeout[] = [];
  private tickerTimer: NodeJS.Timeout | undefined;
  private nextConnId = 1;
  private tradeAcc = 0;
  private readonly rand: () => number;
  private readonly o: Required<Omit<SimOptions, 'seed' | 'symbols' | 'recordBookTop'>> & { symbols: SymbolSpec[] };
  private depth1sAcc = new Map<string, { first: number; bids: Map<number, number>; asks: Map<number, number> }>();
  private depthTicks = 0;
  private restFailures: Array<{ status: number; retryAfterS: number }> = [];
  /** Request weight used in the current minute, reported in X-MBX-USED-WEIGHT-1M as Binance does. */
  private weight = { minute: 0, used: 0 };
  private stats: SimStats = { connections: 0, subscriptions: {}, eventsSent: 0, eventsByType: {}, controlMessages: 0, restRequests: 0 };
  port = 0;

  constructor(opts: SimOptions = {}) {
    this.o = {
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      symbols: opts.symbols ?? DEFAULT_SYMBOLS,
      tradesPerSecond: opts.tradesPerSecond ?? 5,
      tickerIntervalMs: opts.tickerIntervalMs ?? 1000,
      klineIntervalMs: opts.klineIntervalMs ?? 2000,
      depthIntervalMs: opts.depthIntervalMs ?? 100,
      maxIncomingPerSecond: opts.maxIncomingPerSecond ?? 5,
      maxStreamsPerConnection: opts.maxStreamsPerConnection ?? 1024,
      maxConnectionAgeMs: opts.maxConnectionAgeMs ?? 24 * 3600 * 1000,
    };
    this.rand = prng(opts.seed ?? 42);
    const now = Date.now();
    for (const s of this.o.symbols) {
      const m = new SymbolMarket(s, this.rand, now);
      m.tradesPerSecond = this.o.tradesPerSecond;
      m.recordBookTop = opts.recordBookTop ?? 0;
      this.markets.set(s.symbol, m);
    }
    this.app = this.uws.App();
    this.wsRoutes();
    this.restRoutes();
    this.controlRoutes();
  }

  get wsUrl(): string {
    return `ws://${this.o.host}:${this.port}`;
  }

  get restUrl(): string {
    return `http://${this.o.host}:${this.port}`;
  }

  market(symbol: string): SymbolMarket | undefined {
    return this.markets.get(symbol);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.app.listen(this.o.host, this.o.port, (token) => {
        if (!token) return reject(new Error(`simulated exchange cannot listen on ${this.o.host}:${this.o.port}`));
        this.listenSocket = token;
        this.port = this.uws.us_socket_local_port(token);
        resolve();
      });
    });
    this.timers.push(setInterval(() => this.tradeTick(), BASE_TICK_MS));
    this.tickerTimer = setInterval(() => this.tickerTick(), this.o.tickerIntervalMs);
    this.timers.push(this.tickerTimer);
    this.timers.push(setInterval(() => this.klineTick(), this.o.klineIntervalMs));
    this.timers.push(setInterval(() => this.depthTick(), this.o.depthIntervalMs));
    this.timers.push(setInterval(() => this.ageSweep(), 1000));
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.listenSocket) {
      this.uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
    }
    for (const ws of [...this.conns]) ws.end(1001, 'exchange shutting down');
    (this.app as TemplatedApp & { close(): void }).close();
  }

  // ---- fault controls -------------------------------------------------------------------------------------------

  /** Drops every stream connection abruptly (no close frame), as a network failure would. */
  dropAll(): number {
    const all = [...this.conns];
    for (const ws of all) ws.close();
    return all.length;
  }

  /** Drops the longest-open stream connection abruptly; returns whether there was one. */
  dropOldest(): boolean {
    const oldest = this.conns.values().next();
    if (oldest.done) return false;
    oldest.value.close();
    return true;
  }

  /** Existing connections stay open but receive nothing more (a silent stall); new connections are served. */
  stall(): number {
    let n = 0;
    for (const ws of this.conns) {
      const c = ws.getUserData();
      if (c.stalled) continue;
      c.stalled = true;
      for (const s of c.streams) ws.unsubscribe(this.topic(c, s));
      n++;
    }
    return n;
  }

  /** Ends stalls of connections still open. */
  resume(): void {
    for (const ws of this.conns) {
      const c = ws.getUserData();
      if (!c.stalled) continue;
      c.stalled = false;
      for (const s of c.streams) ws.subscribe(this.topic(c, s));
    }
  }

  /** Makes the next diff-depth event of the symbol (or of every symbol) skip `updates` update ids. */
  skipSequence(symbol?: string, updates = 5): void {
    for (const m of this.markets.values()) if (!symbol || m.spec.symbol === symbol) m.injectGap(updates);
  }

  /** The next `count` REST requests fail with this status (429/418 carry Retry-After). */
  failRest(count: number, status = 429, retryAfterS = 1): void {
    for (let i = 0; i < count; i++) this.restFailures.push({ status, retryAfterS });
  }

  /**
   * Moves a symbol's price by `factor` at once (0.99: down 1 %): the next trades print there and the book follows,
   * so resting paper orders on the way fill. Returns the new price, or undefined for a symbol not listed.
   */
  movePrice(symbol: string, factor: number): number | undefined {
    const m = this.markets.get(symbol);
    if (!m || !(factor > 0)) return undefined;
    m.price = Number(m.fmtPrice(m.price * factor));
    return m.price;
  }

  /** Forgets the REST failures still queued by failRest: requests are served again. */
  recoverRest(): void {
    this.restFailures = [];
  }

  /** Sends a serverShutdown event on every connection, as newer Binance deployments announce a cut. */
  announceShutdown(): void {
    const data = JSON.stringify({ e: 'serverShutdown', E: Date.now() });
    for (const ws of this.conns) ws.send(data, false);
  }

  getStats(): SimStats {
    const subscriptions: Record<string, number> = {};
    for (const ws of this.conns) for (const s of ws.getUserData().streams) subscriptions[s] = (subscriptions[s] ?? 0) + 1;
    return { ...this.stats, connections: this.conns.size, subscriptions };
  }

  // ---- WebSocket ------------------------------------------------------------------------------------------------

  private topic(c: Conn, stream: string): string {
    return c.combined ? `c:${stream}` : `r:${stream}`;
  }

  private validStream(s: string): boolean {
    const m = STREAM_RE.exec(s);
    if (!m) return false;
    if (m[3] && !isKlineInterval(m[3])) return false;
    return true;
  }

  private wsRoutes(): void {
    const behaviour = (combined: boolean) => ({
      compression: this.uws.DISABLED,
      maxPayloadLength: 64 * 1024,
      idleTimeout: 60,
      sendPingsAutomatically: true,
      maxBackpressure: 16 * 1024 * 1024,
      upgrade: (res: HttpResponse, req: import('uWebSockets.js').HttpRequest, context: import('uWebSockets.js').us_socket_context_t) => {
        const url = req.getUrl();
        const query = new URLSearchParams(req.getQuery() ?? '');
        const raw = combined ? (query.get('streams') ?? '') : url.slice('/ws/'.length);
        const streams = raw.split('/').filter(Boolean);
        const bad = streams.find((s) => !this.validStream(s));
        if (bad || streams.length > this.o.maxStreamsPerConnection) {
          res.writeStatus('400 Bad Request').end(binanceError(-1121, bad ? `Invalid stream name: ${bad}` : 'Too many streams'));
          return;
        }
        const conn: Conn = { id: this.nextConnId++, combined, streams: new Set(streams), openedAt: Date.now(), recent: [], stalled: false, closed: false };
        res.upgrade(conn, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      },
      open: (ws: WebSocket<Conn>) => {
        this.conns.add(ws);
        const c = ws.getUserData();
        for (const s of c.streams) ws.subscribe(this.topic(c, s));
      },
      message: (ws: WebSocket<Conn>, message: ArrayBuffer) => this.onControl(ws, Buffer.from(message).toString('utf8')),
      pong: (ws: WebSocket<Conn>) => this.countIncoming(ws),
      close: (ws: WebSocket<Conn>) => {
        ws.getUserData().closed = true;
        this.conns.delete(ws);
      },
    });
    this.app.ws<Conn>('/stream', behaviour(true));
    this.app.ws<Conn>('/ws/*', behaviour(false));
  }

  /** Binance's limit: more than N incoming messages (pongs included) in a second closes the connection. */
  private countIncoming(ws: WebSocket<Conn>): boolean {
    const c = ws.getUserData();
    const now = Date.now();
    c.recent.push(now);
    while (c.recent.length && now - c.recent[0]! >= 1000) c.recent.shift();
    if (c.recent.length > this.o.maxIncomingPerSecond) {
      ws.end(1008, 'Too many requests');
      return false;
    }
    return true;
  }

  private onControl(ws: WebSocket<Conn>, text: string): void {
    if (!this.countIncoming(ws)) return;
    this.stats.controlMessages++;
    const c = ws.getUserData();
    // A stalled connection is silent in every way: no data and no replies.
    if (c.stalled) return;
    let msg: { method?: unknown; params?: unknown; id?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      ws.send(JSON.stringify({ error: { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' } }), false);
      return;
    }
    const id = typeof msg.id === 'number' || typeof msg.id === 'string' || msg.id === null ? msg.id : null;
    const reply = (body: object) => ws.send(JSON.stringify({ ...body, id }), false);
    const params = Array.isArray(msg.params) ? msg.params : undefined;
    switch (msg.method) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!params || !params.every((p): p is string => typeof p === 'string' && this.validStream(p))) {
          reply({ error: { code: 2, msg: `Invalid request: invalid stream name in ${JSON.stringify(params)?.slice(0, 80)}` } });
          return;
        }
        if (msg.method === 'SUBSCRIBE') {
          const added = params.filter((p) => !c.streams.has(p));
          if (c.streams.size + added.length > this.o.maxStreamsPerConnection) {
            reply({ error: { code: 2, msg: `Invalid request: more than ${this.o.maxStreamsPerConnection} streams on one connection` } });
            return;
          }
          for (const p of added) {
            c.streams.add(p);
            if (!c.stalled) ws.subscribe(this.topic(c, p));
          }
        } else {
          for (const p of params) {
            if (c.streams.delete(p) && !c.stalled) ws.unsubscribe(this.topic(c, p));
          }
        }
        reply({ result: null });
        return;
      }
      case 'LIST_SUBSCRIPTIONS':
        reply({ result: [...c.streams] });
        return;
      case 'SET_PROPERTY':
        if (params?.[0] === 'combined' && typeof params[1] === 'boolean') {
          c.combined = params[1];
          reply({ result: null });
        } else reply({ error: { code: 0, msg: 'Unknown property' } });
        return;
      case 'GET_PROPERTY':
        if (params?.[0] === 'combined') reply({ result: c.combined });
        else reply({ error: { code: 0, msg: 'Unknown property' } });
        return;
      default:
        reply({ error: { code: 2, msg: 'Invalid request: unknown variant, expected one of SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY' } });
    }
  }

  private ageSweep(): void {
    const now = Date.now();
    for (const ws of [...this.conns]) if (now - ws.getUserData().openedAt > this.o.maxConnectionAgeMs) ws.end(1000, 'connection lifetime reached');
  }

  /** Publishes one event to the stream's combined and raw subscribers; serialises the payload once. */
  private emit(stream: string, data: string): void {
    const c = `c:${stream}`;
    const r = `r:${stream}`;
    let sent = 0;
    if (this.app.numSubscribers(c) > 0) {
      this.app.publish(c, `{"stream":"${stream}","data":${data}}`, false);
      sent++;
    }
    if (this.app.numSubscribers(r) > 0) {
      this.app.publish(r, data, false);
      sent++;
    }
    if (sent) {
      this.stats.eventsSent += sent;
      const type = stream.slice(stream.indexOf('@') + 1);
      this.stats.eventsByType[type] = (this.stats.eventsByType[type] ?? 0) + sent;
    }
  }

  private wanted(stream: string): boolean {
    return this.app.numSubscribers(`c:${stream}`) > 0 || this.app.numSubscribers(`r:${stream}`) > 0;
  }

  // ---- market events --------------------------------------------------------------------------------------------

  private tradeTick(): void {
    const now = Date.now();
    this.tradeAcc += (this.o.tradesPerSecond * BASE_TICK_MS) / 1000;
    const count = Math.floor(this.tradeAcc);
    this.tradeAcc -= count;
    if (count === 0) return;
    for (const m of this.markets.values()) {
      if (m.spec.status !== 'TRADING') continue;
      const lower = m.spec.symbol.toLowerCase();
      const stream = `${lower}@trade`;
      const agg = `${lower}@aggTrade`;
      for (let i = 0; i < count; i++) {
        const t = m.trade(now);
        if (this.wanted(stream)) {
          this.emit(stream, JSON.stringify({ e: 'trade', E: now, s: m.spec.symbol, t: t.id, p: m.fmtPrice(t.price), q: m.fmtQty(t.qty), T: t.time, m: t.buyerIsMaker, M: true }));
        }
        if (this.wanted(agg)) {
          this.emit(agg, JSON.stringify({ e: 'aggTrade', E: now, s: m.spec.symbol, a: t.id, p: m.fmtPrice(t.price), q: m.fmtQty(t.qty), f: t.id, l: t.id, T: t.time, m: t.buyerIsMaker, M: true }));
        }
      }
    }
  }

  tickerPayload(m: SymbolMarket, now: number): Record<string, unknown> {
    const top = m.topOfBook(1);
    const change = m.price - m.openPrice;
    return {
      e: '24hrTicker',
      E: now,
      s: m.spec.symbol,
      p: m.fmtPrice(change),
      P: ((change / m.openPrice) * 100).toFixed(3),
      w: m.fmtPrice(m.volume > 0 ? m.quoteVolume / m.volume : m.price),
      x: m.fmtPrice(m.openPrice),
      c: m.fmtPrice(m.price),
      Q: m.fmtQty(m.lastQty),
      b: m.fmtPrice(top.bids[0]?.[0] ?? m.price),
      B: m.fmtQty(top.bids[0]?.[1] ?? 0),
      a: m.fmtPrice(top.asks[0]?.[0] ?? m.price),
      A: m.fmtQty(top.asks[0]?.[1] ?? 0),
      o: m.fmtPrice(m.openPrice),
      h: m.fmtPrice(m.high),
      l: m.fmtPrice(m.low),
      v: m.fmtQty(m.volume),
      q: m.quoteVolume.toFixed(2),
      O: m.openedAt,
      C: now,
      F: m.firstTradeId,
      L: m.nextTradeId - 1,
      n: m.tradeCount,
    };
  }

  private tickerTick(): void {
    const now = Date.now();
    for (const m of this.markets.values()) {
      if (m.spec.status !== 'TRADING') continue;
      const lower = m.spec.symbol.toLowerCase();
      if (this.wanted(`${lower}@ticker`)) this.emit(`${lower}@ticker`, JSON.stringify(this.tickerPayload(m, now)));
      if (this.wanted(`${lower}@miniTicker`)) {
        this.emit(`${lower}@miniTicker`, JSON.stringify({
          e: '24hrMiniTicker', E: now, s: m.spec.symbol, c: m.fmtPrice(m.price), o: m.fmtPrice(m.openPrice),
          h: m.fmtPrice(m.high), l: m.fmtPrice(m.low), v: m.fmtQty(m.volume), q: m.quoteVolume.toFixed(2),
        }));
      }
    }
  }

  klinePayload(m: SymbolMarket, interval: KlineInterval, c: Candle, closed: boolean, now: number): Record<string, unknown> {
    return {
      e: 'kline',
      E: now,
      s: m.spec.symbol,
      k: {
        t: c.openTime, T: c.closeTime, s: m.spec.symbol, i: interval, f: c.firstTradeId, L: c.lastTradeId,
        o: m.fmtPrice(c.open), c: m.fmtPrice(c.close), h: m.fmtPrice(c.high), l: m.fmtPrice(c.low),
        v: m.fmtQty(c.volume), n: c.trades, x: closed, q: c.quoteVolume.toFixed(8),
        V: m.fmtQty(c.takerBuyBase), Q: c.takerBuyQuote.toFixed(8), B: '0',
      },
    };
  }

  private klineTick(): void {
    const now = Date.now();
    for (const m of this.markets.values()) {
      if (m.spec.status !== 'TRADING') continue;
      m.rollCandles(now);
      const lower = m.spec.symbol.toLowerCase();
      for (const interval of KLINE_INTERVALS) {
        const stream = `${lower}@kline_${interval}`;
        const closed = m.takeClosed(interval);
        if (!this.wanted(stream)) continue;
        for (const c of closed) this.emit(stream, JSON.stringify(this.klinePayload(m, interval, c, true, now)));
        this.emit(stream, JSON.stringify(this.klinePayload(m, interval, m.candles.get(interval)!, false, now)));
      }
    }
  }

  private depthTick(): void {
    const now = Date.now();
    this.depthTicks++;
    const flush1s = this.depthTicks % Math.max(1, Math.round(1000 / this.o.depthIntervalMs)) === 0;
    for (const m of this.markets.values()) {
      if (m.spec.status !== 'TRADING') continue;
      const lower = m.spec.symbol.toLowerCase();
      const diff = m.bookStep();
      if (diff) {
        const stream = `${lower}@depth@100ms`;
        if (this.wanted(stream)) this.emit(stream, this.diffPayload(m, diff, now));
        this.accumulate1s(m, diff);
      }
      if (flush1s) this.flush1s(m, now);
      for (const levels of [5, 10, 20]) {
        const fast = `${lower}@depth${levels}@100ms`;
        const slow = `${lower}@depth${levels}`;
        const wantFast = this.wanted(fast);
        const wantSlow = flush1s && this.wanted(slow);
        if (!wantFast && !wantSlow) continue;
        const top = m.topOfBook(levels);
        const data = JSON.stringify({
          lastUpdateId: m.lastUpdateId,
          bids: top.bids.map(([p, q]) => [m.fmtPrice(p), m.fmtQty(q)]),
          asks: top.asks.map(([p, q]) => [m.fmtPrice(p), m.fmtQty(q)]),
        });
        if (wantFast) this.emit(fast, data);
        if (wantSlow) this.emit(slow, data);
      }
    }
  }

  private diffPayload(m: SymbolMarket, diff: BookDiff, now: number): string {
    return JSON.stringify({
      e: 'depthUpdate',
      E: now,
      s: m.spec.symbol,
      U: diff.firstUpdateId,
      u: diff.finalUpdateId,
      b: diff.bids.map(([p, q]) => [m.fmtPrice(p), m.fmtQty(q)]),
      a: diff.asks.map(([p, q]) => [m.fmtPrice(p), m.fmtQty(q)]),
    });
  }

  /** The 1000 ms diff stream carries the merged changes of ten 100 ms updates. */
  private accumulate1s(m: SymbolMarket, diff: BookDiff): void {
    if (!this.wanted(`${m.spec.symbol.toLowerCase()}@depth`)) {
      this.depth1sAcc.delete(m.spec.symbol);
      return;
    }
    let acc = this.depth1sAcc.get(m.spec.symbol);
    if (!acc) {
      acc = { first: diff.firstUpdateId, bids: new Map(), asks: new Map() };
      this.depth1sAcc.set(m.spec.symbol, acc);
    }
    for (const [p, q] of diff.bids) acc.bids.set(p, q);
    for (const [p, q] of diff.asks) acc.asks.set(p, q);
  }

  private flush1s(m: SymbolMarket, now: number): void {
    const acc = this.depth1sAcc.get(m.spec.symbol);
    if (!acc) return;
    this.depth1sAcc.delete(m.spec.symbol);
    const diff: BookDiff = { firstUpdateId: acc.first, finalUpdateId: m.lastUpdateId, bids: [...acc.bids], asks: [...acc.asks] };
    this.emit(`${m.spec.symbol.toLowerCase()}@depth`, this.diffPayload(m, diff, now));
  }

  // ---- REST -----------------------------------------------------------------------------------------------------

  private restRoutes(): void {
    const get = (path: string, weightOf: number | ((q: URLSearchParams) => number), handler: (q: URLSearchParams) => [number, string]) => {
      this.app.get(path, (res, req) => {
        const query = new URLSearchParams(req.getQuery() ?? '');
        this.stats.restRequests++;
        const failure = this.restFailures.shift();
        if (failure) {
          res.cork(() => {
            res.writeStatus(`${failure.status} ${failure.status === 418 ? "I'm a teapot" : 'Too Many Requests'}`);
            res.writeHeader('retry-after', String(failure.retryAfterS));
            res.writeHeader('content-type', 'application/json');
            res.end(binanceError(-1003, 'Too many requests; current limit of IP is 6000 request weight per 1 MINUTE.'));
          });
          return;
        }
        let status: number;
        let body: string;
        try {
          [status, body] = handler(query);
        } catch (err) {
          [status, body] = [500, binanceError(-1000, err instanceof Error ? err.message : 'internal error')];
        }
        res.cork(() => {
          res.writeStatus(status === 200 ? '200 OK' : `${status} Bad Request`);
          res.writeHeader('content-type', 'application/json');
          const minute = Math.floor(Date.now() / 60_000);
          if (this.weight.minute !== minute) this.weight = { minute, used: 0 };
          this.weight.used += typeof weightOf === 'number' ? weightOf : weightOf(query);
          res.writeHeader('x-mbx-used-weight-1m', String(this.weight.used));
          res.end(body);
        });
      });
    };
    const symbolOf = (q: URLSearchParams): SymbolMarket | [number, string] => {
      const s = q.get('symbol');
      if (!s) return [400, binanceError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")];
      if (!/^[A-Z0-9-_.]{1,20}$/.test(s)) return [400, binanceError(-1100, "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.")];
      return this.markets.get(s) ?? [400, binanceError(-1121, 'Invalid symbol.')];
    };
    const limitOf = (q: URLSearchParams, dflt: number, max: number): number | [number, string] => {
      const raw = q.get('limit');
      if (raw === null) return dflt;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1) return [400, binanceError(-1100, "Illegal characters found in parameter 'limit'.")];
      return Math.min(n, max);
    };

    get('/api/v3/ping', 1, () => [200, '{}']);
    get('/api/v3/time', 1, () => [200, JSON.stringify({ serverTime: Date.now() })]);
    get('/api/v3/exchangeInfo', 20, () => [200, JSON.stringify(this.exchangeInfo())]);
    // Binance's depth weight grows with the limit: 5 (≤100), 25 (≤500), 50 (≤1000), 250 (≤5000).
    const depthWeight = (q: URLSearchParams) => {
      const l = Number(q.get('limit') ?? 100);
      return l <= 100 ? 5 : l <= 500 ? 25 : l <= 1000 ? 50 : 250;
    };
    get('/api/v3/depth', depthWeight, (q) => {
      const m = symbolOf(q);
      if (Array.isArray(m)) return m;
      const limit = limitOf(q, 100, 5000);
      if (Array.isArray(limit)) return limit;
      const top = m.topOfBook(limit);
      return [200, JSON.stringify({
        lastUpdateId: m.lastUpdateId,
        bids: top.bids.map(([p, qty]) => [m.fmtPrice(p), m.fmtQty(qty)]),
        asks: top.asks.map(([p, qty]) => [m.fmtPrice(p), m.fmtQty(qty)]),
      })];
    });
    get('/api/v3/trades', 25, (q) => {
      const m = symbolOf(q);
      if (Array.isArray(m)) return m;
      const limit = limitOf(q, 500, 1000);
      if (Array.isArray(limit)) return limit;
      return [200, JSON.stringify(m.recentTrades.slice(-limit).map((t) => ({
        id: t.id, price: m.fmtPrice(t.price), qty: m.fmtQty(t.qty), quoteQty: (t.price * t.qty).toFixed(8), time: t.time, isBuyerMaker: t.buyerIsMaker, isBestMatch: true,
      })))];
    });
    get('/api/v3/klines', 2, (q) => {
      const m = symbolOf(q);
      if (Array.isArray(m)) return m;
      const interval = q.get('interval') ?? '';
      if (!isKlineInterval(interval)) return [400, binanceError(-1120, 'Invalid interval.')];
      const limit = limitOf(q, 500, 1000);
      if (Array.isArray(limit)) return limit;
      const start = q.get('startTime') ? Number(q.get('startTime')) : undefined;
      const end = q.get('endTime') ? Number(q.get('endTime')) : undefined;
      m.rollCandles(Date.now());
      return [200, JSON.stringify(m.klines(interval, limit, start, end).map((c) => [
        c.openTime, m.fmtPrice(c.open), m.fmtPrice(c.high), m.fmtPrice(c.low), m.fmtPrice(c.close), m.fmtQty(c.volume),
        c.closeTime, c.quoteVolume.toFixed(8), c.trades, m.fmtQty(c.takerBuyBase), c.takerBuyQuote.toFixed(8), '0',
      ]))];
    });
    get('/api/v3/ticker/24hr', 2, (q) => {
      const m = symbolOf(q);
      if (Array.isArray(m)) return m;
      const t = this.tickerPayload(m, Date.now());
      return [200, JSON.stringify({
        symbol: t.s, priceChange: t.p, priceChangePercent: t.P, weightedAvgPrice: t.w, prevClosePrice: t.x, lastPrice: t.c, lastQty: t.Q,
        bidPrice: t.b, bidQty: t.B, askPrice: t.a, askQty: t.A, openPrice: t.o, highPrice: t.h, lowPrice: t.l, volume: t.v, quoteVolume: t.q,
        openTime: t.O, closeTime: t.C, firstId: t.F, lastId: t.L, count: t.n,
      })];
    });
  }

  private exchangeInfo(): object {
    return {
      timezone: 'UTC',
      serverTime: Date.now(),
      rateLimits: [
        { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
        { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
      ],
      exchangeFilters: [],
      symbols: [...this.markets.values()].map((m) => ({
        symbol: m.spec.symbol,
        status: m.spec.status,
        baseAsset: m.spec.baseAsset,
        baseAssetPrecision: 8,
        quoteAsset: m.spec.quoteAsset,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
        isSpotTradingAllowed: true,
        filters: [
          { filterType: 'PRICE_FILTER', minPrice: m.fmtPrice(m.spec.tickSize), maxPrice: '1000000.00000000', tickSize: m.fmtPrice(m.spec.tickSize) },
          { filterType: 'LOT_SIZE', minQty: m.fmtQty(m.spec.stepSize), maxQty: '9000.00000000', stepSize: m.fmtQty(m.spec.stepSize) },
          { filterType: 'NOTIONAL', minNotional: '5.00000000', applyMinToMarket: true, maxNotional: '9000000.00000000', applyMaxToMarket: false, avgPriceMins: 5 },
        ],
        permissions: ['SPOT'],
      })),
    };
  }

  // ---- control endpoints (for running the simulator beside a server) ---------------------------------------------

  /**
   * Changes the ticker period while running (a benchmark raises the load step by step without restarting the server or
   * reconnecting its clients). Returns the period in force.
   */
  setTickerInterval(ms: number): number {
    if (!Number.isFinite(ms) || ms < 1 || !this.tickerTimer) return this.o.tickerIntervalMs;
    clearInterval(this.tickerTimer);
    this.timers = this.timers.filter((t) => t !== this.tickerTimer);
    this.o.tickerIntervalMs = Math.round(ms);
    this.tickerTimer = setInterval(() => this.tickerTick(), this.o.tickerIntervalMs);
    this.timers.push(this.tickerTimer);
    return this.o.tickerIntervalMs;
  }

  private controlRoutes(): void {
    const post = (path: string, fn: (q: URLSearchParams) => unknown) => {
      this.app.post(path, (res, req) => {
        const q = new URLSearchParams(req.getQuery() ?? '');
        const result = fn(q);
        res.cork(() => {
          res.writeHeader('content-type', 'application/json').end(JSON.stringify({ ok: true, result }));
        });
      });
    };
    post('/__sim/drop', () => this.dropAll());
    post('/__sim/stall', () => this.stall());
    post('/__sim/resume', () => this.resume());
    post('/__sim/gap', (q) => this.skipSequence(q.get('symbol') ?? undefined, Number(q.get('updates') ?? 5)));
    post('/__sim/shutdown-notice', () => this.announceShutdown());
    post('/__sim/fail-rest', (q) => this.failRest(Number(q.get('count') ?? 1), Number(q.get('status') ?? 429), Number(q.get('retryAfter') ?? 1)));
    post('/__sim/recover-rest', () => this.recoverRest());
    post('/__sim/move', (q) => this.movePrice(q.get('symbol') ?? '', Number(q.get('factor') ?? 1)));
    post('/__sim/rate', (q) => this.setTickerInterval(Number(q.get('tickerIntervalMs'))));
    this.app.get('/__sim/stats', (res) => {
      res.cork(() => {
        res.writeHeader('content-type', 'application/json').end(JSON.stringify(this.getStats()));
      });
    });
    this.app.any('/*', (res) => {
      res.cork(() => {
        res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end(binanceError(-1000, 'Unknown route.'));
      });
    });
  }
}
