// The shard's set of Binance stream connections: places streams (≤ 1024 per connection), renews connections before the 24 h cut.
import type { Logger } from '../../../core/logger.js';
import { UpstreamConnection, type ConnectionOptions } from './binance-connection.js';
import { isBinanceStream } from './binance-streams.js';

export interface StreamPoolOptions extends Omit<ConnectionOptions, 'log'> {
  maxStreamsPerConnection: number;
  log: Logger;
  onMessage(stream: string, data: unknown): void;
  /** Streams whose delivery started (live) or stopped (stale). */
  onState(streams: string[], state: 'live' | 'stale'): void;
  onRejected(streams: string[], reason: string): void;
}

const RENEW_RETRY_MS = 60_000;

export class BinanceStreamPool {
  private readonly connections = new Set<UpstreamConnection>();
  private readonly owner = new Map<string, UpstreamConnection>();
  /** Replacement connection → the connection it replaces, while the replacement is not yet live. */
  private readonly successors = new Map<UpstreamConnection, UpstreamConnection>();
  private closing = false;

  constructor(private readonly opts: StreamPoolOptions) {}

  private create(): UpstreamConnection {
    return new UpstreamConnection({ ...this.opts, log: this.opts.log }, {
      message: (conn, stream, data) => {
        // A replacement that is still warming up is not the owner yet: its copy of the data is not delivered twice.
        if (this.owner.get(stream) === conn) this.opts.onMessage(stream, data);
      },
      live: (conn, live) => this.onLive(conn, live),
      rejected: (conn, streams, reason) => {
        if (this.successors.has(conn)) {
          // A replacement's refusal: the old connection still serves these streams; the replacement just lacks them.
          this.opts.log.warn({ streams, reason }, 'the replacement connection was refused streams the current one carries');
          this.dropIfEmpty(conn);
          return;
        }
        for (const s of streams) if (this.owner.get(s) === conn) this.owner.delete(s);
        this.dropIfEmpty(conn);
        this.opts.onRejected(streams, reason);
      },
      renewDue: (conn) => this.renew(conn),
      settled: (conn) => {
        if (this.successors.has(conn)) this.takeOver(conn);
      },
    });
  }

  subscribe(stream: string): void {
    if (this.closing || this.owner.has(stream)) return;
    if (!isBinanceStream(stream)) {
      // Reported asynchronously, like an exchange rejection, once the caller has recorded who wants the stream.
      queueMicrotask(() => this.opts.onRejected([stream], `"${stream}" is not a Binance market stream name`));
      return;
    }
    let target: UpstreamConnection | undefined;
    for (const c of this.connections) {
      if (!c.retired && c.streams.size < this.opts.maxStreamsPerConnection) {
        target = c;
        break;
      }
    }
    if (!target) {
      target = this.create();
      this.connections.add(target);
    }
    this.owner.set(stream, target);
    target.add(stream);
    for (const [next, old] of this.successors) if (old === target) next.add(stream);
  }

  unsubscribe(stream: string): void {
    const conn = this.owner.get(stream);
    if (!conn) return;
    this.owner.delete(stream);
    conn.remove(stream);
    for (const [next, old] of this.successors) if (old === conn) next.remove(stream);
    this.dropIfEmpty(conn);
  }

  private dropIfEmpty(conn: UpstreamConnection): void {
    if (conn.streams.size > 0) return;
    this.connections.delete(conn);
    this.successors.delete(conn);
    for (const [next, old] of this.successors) {
      if (old === conn) {
        this.successors.delete(next);
        void next.close();
      }
    }
    void conn.close();
  }

  private onLive(conn: UpstreamConnection, live: boolean): void {
    const old = this.successors.get(conn);
    if (old) {
      // A replacement takes over once settled (see takeOver); here only its failure matters.
      if (!live) {
        // The replacement failed: keep the old connection, try again later.
        this.successors.delete(conn);
        conn.retire();
        void conn.close();
        const retry = setTimeout(() => this.renew(old), RENEW_RETRY_MS);
        retry.unref();
      }
      return;
    }
    if (!this.connections.has(conn) || conn.retired) return;
    const streams = [...conn.streams];
    if (streams.length) this.opts.onState(streams, live ? 'live' : 'stale');
  }

  /** The replacement delivers every stream: it takes them over and the old connection closes. */
  private takeOver(conn: UpstreamConnection): void {
    const old = this.successors.get(conn)!;
    this.successors.delete(conn);
    this.connections.delete(old);
    this.connections.add(conn);
    for (const s of conn.streams) this.owner.set(s, conn);
    old.retire();
    void old.close();
    this.opts.log.info({ from: old.id, to: conn.id, streams: conn.streams.size }, 'upstream connection renewed');
    // If the old connection died before the handover, its streams were reported stale: they are live again.
    if (conn.streams.size) this.opts.onState([...conn.streams], 'live');
  }

  /** Opens a replacement with the same streams; the swap happens when it delivers its first message. */
  private renew(conn: UpstreamConnection): void {
    if (this.closing || !this.connections.has(conn) || conn.retired) return;
    for (const old of this.successors.values()) if (old === conn) return;
    const next = this.create();
    this.successors.set(next, conn);
    this.opts.log.info({ conn: conn.id, streams: conn.streams.size }, 'renewing upstream connection before its time limit');
    for (const s of conn.streams) next.add(s);
  }

  /** Whether the stream's connection has failed and waits to reconnect. */
  isDown(stream: string): boolean {
    return this.owner.get(stream)?.down ?? false;
  }

  /** Whether the stream's connection is delivering data. */
  isLive(stream: string): boolean {
    return this.owner.get(stream)?.live ?? false;
  }

  /** Current upstream streams, sorted. */
  streams(): string[] {
    return [...this.owner.keys()].sort();
  }

  info(): ReturnType<UpstreamConnection['info']>[] {
    return [...this.connections].map((c) => c.info());
  }



  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.connections, ...this.successors.keys()];
    this.connections.clear();
    this.successors.clear();
    this.owner.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
