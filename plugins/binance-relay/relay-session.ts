// Binance's WebSocket stream protocol on one connection: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, properties, limits.
import type { PluginSocket } from '../../core/plugin-api.js';
import type { RelayConfig } from './config.js';
import { checkStream, type RelayStream } from './stream-names.js';
import { topicOf, type StreamHub } from './stream-hub.js';

/** A relay connection's state. */
export interface RelayConn {
  /** Payloads wrapped as `{"stream","data"}` (connected on /stream, or SET_PROPERTY combined true). */
  combined: boolean;
  /** The streams held, in the order they were subscribed (LIST_SUBSCRIPTIONS lists them so). */
  streams: Map<string, RelayStream>;
  /** Times of the last `messagesPerSecond` messages, oldest first: one more within a second is over the limit. */
  recent: number[];
  /** Streams named in the URL, held once the connection is open. */
  initial: RelayStream[];
}

/** Binance closes a connection over its message rate; 1008 (policy violation) says so. */
export const RATE_CLOSE_CODE = 1008;

const METHODS = '`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`';
/** Binance's accepted ids: a 64-bit integer, an alphanumeric string of up to 36 characters, or null. */
const ID_STRING_RE = /^[A-Za-z0-9]{1,36}$/;

type Id = number | string | null;

export class RelaySessions {
  constructor(
    private readonly hub: StreamHub,
    private readonly cfg: RelayConfig,
    private readonly serves: (symbol: string) => boolean,
  ) {}

  /** The connection opened: the URL's streams are held. */
  opened(socket: PluginSocket<RelayConn>): void {
    const c = socket.state;
    for (const s of c.initial) this.add(socket, s);
    c.initial = [];
  }

  closed(socket: PluginSocket<RelayConn>): void {
    const c = socket.state;
    for (const name of c.streams.keys()) this.hub.leave(name, c.combined);
    c.streams.clear();
  }

  /**
   * Counts a message, a ping or a pong against the connection's rate; closes the connection and returns false when it
   * is over (Binance: more than 5 a second).
   */
  allow(socket: PluginSocket<RelayConn>, now = Date.now()): boolean {
    const recent = socket.state.recent;
    if (recent.length >= this.cfg.messagesPerSecond && now - recent[0]! < 1000) {
      socket.end(RATE_CLOSE_CODE, 'Too many requests');
      return false;
    }
    recent.push(now);
    if (recent.length > this.cfg.messagesPerSecond) recent.shift();
    return true;
  }

  message(socket: PluginSocket<RelayConn>, data: Buffer, isBinary: boolean): void {
    if (!this.allow(socket)) return;
    const text = data.toString('utf8');
    let msg: unknown;
    try {
      if (isBinary) throw new SyntaxError('binary frame');
      msg = JSON.parse(text);
    } catch (err) {
      const { line, column } = errorPosition(text, err);
      return this.send(socket, { error: { code: 3, msg: `Invalid JSON: expected value at line ${line} column ${column}` } });
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      return this.reply(socket, null, { error: { code: 2, msg: `Invalid request: expected a request object, e.g. {"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}` } });
    }
    const m = msg as { method?: unknown; params?: unknown; id?: unknown };
    const id = m.id;
    if (!validId(id)) return this.reply(socket, null, { error: { code: 2, msg: 'Invalid request: request ID must be an unsigned integer' } });
    if (m.method === undefined) return this.reply(socket, id, { error: { code: 2, msg: `Invalid request: missing field \`method\` at line 1 column ${text.length}` } });
    switch (m.method) {
      case 'SUBSCRIBE':
        return this.subscribe(socket, id, m.params);
      case 'UNSUBSCRIBE':
        return this.unsubscribe(socket, id, m.params);
      case 'LIST_SUBSCRIPTIONS':
        if (m.params !== undefined && !(Array.isArray(m.params) && m.params.length === 0)) return this.reply(socket, id, { error: { code: 2, msg: 'Invalid request: too many parameters' } });
        return this.reply(socket, id, { result: [...socket.state.streams.keys()] });
      case 'SET_PROPERTY':
        return this.setProperty(socket, id, m.params);
      case 'GET_PROPERTY': {
        const name = Array.isArray(m.params) ? m.params[0] : undefined;
        if (typeof name !== 'string') return this.reply(socket, id, { error: { code: 2, msg: 'Invalid request: property name must be a string' } });
        if (name !== 'combined') return this.reply(socket, id, { error: { code: 0, msg: 'Unknown property' } });
        return this.reply(socket, id, { result: socket.state.combined });
      }
      default: {
        const shown = typeof m.method === 'string' ? m.method.slice(0, 40) : JSON.stringify(m.method)?.slice(0, 40);
        const at = text.indexOf(typeof m.method === 'string' ? JSON.stringify(m.method) : 'method');
        return this.reply(socket, id, { error: { code: 2, msg: `Invalid request: unknown variant \`${shown}\`, expected one of ${METHODS} at line 1 column ${at < 0 ? 1 : at + (typeof m.method === 'string' ? JSON.stringify(m.method).length : 1)}` } });
      }
    }
  }

  /** Checks a SUBSCRIBE/UNSUBSCRIBE's params: the streams, or the error to answer with. */
  private streamsOf(params: unknown): { ok: true; streams: RelayStream[] } | { ok: false; msg: string } {
    if (!Array.isArray(params)) return { ok: false, msg: 'Invalid request: params must be a list of stream names, e.g. ["btcusdt@trade"]' };
    const streams: RelayStream[] = [];
    for (const p of params) {
      const check = checkStream(p, this.serves);
      if (!check.ok) return { ok: false, msg: check.message };
      streams.push(check.stream);
    }
    return { ok: true, streams };
  }

  private subscribe(socket: PluginSocket<RelayConn>, id: Id, params: unknown): void {
    const parsed = this.streamsOf(params);
    if (!parsed.ok) return this.reply(socket, id, { error: { code: 2, msg: parsed.msg } });
    const c = socket.state;
    const added = new Map<string, RelayStream>();
    for (const s of parsed.streams) if (!c.streams.has(s.name)) added.set(s.name, s);
    if (c.streams.size + added.size > this.cfg.maxStreamsPerConnection) {
      return this.reply(socket, id, { error: { code: 2, msg: `Invalid request: a connection may listen to at most ${this.cfg.maxStreamsPerConnection} streams (it has ${c.streams.size}, the request adds ${added.size})` } });
    }
    // All or nothing: a stream that cannot be held (the server's active-symbol cap) undoes the ones before it.
    const done: RelayStream[] = [];
    for (const s of added.values()) {
      try {
        this.add(socket, s);
        done.push(s);
      } catch (err) {
        for (const d of done) this.remove(socket, d.name);
        return this.reply(socket, id, { error: { code: 2, msg: `Invalid request: ${s.name} cannot be served now: ${(err as Error).message}` } });
      }
    }
    this.reply(socket, id, { result: null });
  }

  private unsubscribe(socket: PluginSocket<RelayConn>, id: Id, params: unknown): void {
    const parsed = this.streamsOf(params);
    if (!parsed.ok) return this.reply(socket, id, { error: { code: 2, msg: parsed.msg } });
    for (const s of parsed.streams) this.remove(socket, s.name);
    this.reply(socket, id, { result: null });
  }

  private setProperty(socket: PluginSocket<RelayConn>, id: Id, params: unknown): void {
    const name = Array.isArray(params) ? params[0] : undefined;
    if (typeof name !== 'string') return this.reply(socket, id, { error: { code: 2, msg: 'Invalid request: property name must be a string' } });
    if (name !== 'combined') return this.reply(socket, id, { error: { code: 0, msg: 'Unknown property' } });
    const value = (params as unknown[])[1];
    if (typeof value !== 'boolean') return this.reply(socket, id, { error: { code: 1, msg: 'Invalid value type: expected Boolean' } });
    const c = socket.state;
    if (value !== c.combined) {
      // Every stream moves to the other payload form; each stays held throughout (joined in the new form first).
      for (const name of c.streams.keys()) {
        this.hub.join(c.streams.get(name)!, value);
        socket.subscribe(topicOf(name, value));
        socket.unsubscribe(topicOf(name, c.combined));
        this.hub.leave(name, c.combined);
      }
      c.combined = value;
    }
    this.reply(socket, id, { result: null });
  }

  private add(socket: PluginSocket<RelayConn>, s: RelayStream): void {
    const c = socket.state;
    if (c.streams.has(s.name)) return;
    this.hub.join(s, c.combined);
    c.streams.set(s.name, s);
    socket.subscribe(topicOf(s.name, c.combined));
  }

  private remove(socket: PluginSocket<RelayConn>, name: string): void {
    const c = socket.state;
    if (!c.streams.delete(name)) return;
    socket.unsubscribe(topicOf(name, c.combined));
    this.hub.leave(name, c.combined);
  }

  private reply(socket: PluginSocket<RelayConn>, id: Id, body: { result: unknown } | { error: { code: number; msg: string } }): void {
    this.send(socket, { ...body, id: id ?? null });
  }

  private send(socket: PluginSocket<RelayConn>, body: object): void {
    socket.send(JSON.stringify(body));
  }
}

function validId(id: unknown): id is Id {
  if (id === undefined || id === null) return true;
  if (typeof id === 'number') return Number.isInteger(id) && Math.abs(id) <= 2 ** 63;
  return typeof id === 'string' && ID_STRING_RE.test(id);
}

/** Where JSON.parse stopped, as Binance words it (line and column, from 1). */
function errorPosition(text: string, err: unknown): { line: number; column: number } {
  const at = /position (\d+)/.exec(err instanceof Error ? err.message : '');
  const pos = at ? Number(at[1]) : text.length;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return { line, column: pos - before.lastIndexOf('\n') };
}
