// Prometheus metrics (GET /metrics): the gateway's own, read from the state it keeps anyway when scraped, and the
// metrics plugins register through the hook API. Nothing here runs per frame per client.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LoopDelay, ShardStats } from './bus.js';

import type { Logger } from './logger.js';
import type { MetricCounter, MetricGauge, MetricHistogram, PluginMetrics } from './plugin-api.js';

/** Deliveries per channel kind: one per frame per subscriber, added up once per published frame. */
export interface KindCounts {
  frames: number;
  bytes: number;
}

export interface MetricsSources {
  clients(): number;
  authenticated(): number;
  /** Per channel kind: open channels and their subscribers. */
  channels(): Map<string, { channels: number; subscribers: number }>;
  /** Per channel kind: frames and bytes sent to clients since start. */
  sent(): Map<string, KindCounts>;
  queue(): { queuedBytes: number; budgetBytes: number };
  /** The channel history (undefined when it is off). */
  history(): { channels: number; frames: number; bytes: number } | undefined;
  shards(): Array<{ shard: number; state: 'running' | 'down'; restarts: number; stats: ShardStats | undefined }>;
  /** The acceptor's event-loop delay over its last sampling window (read on a timer, not per scrape). */
  acceptorLoop(): LoopDelay;
  /** Cluster mode: this gateway's NATS connection and what it sees of the cluster. */
  cluster?(): { nats: 'connected' | 'disconnected'; partitions: number; partitionsOwned: number; ingest: unknown[] } | undefined;
  log: Logger;
}

const METRIC_NAME = /^[a-z_][a-z0-9_]*$/;
const LABEL_NAME = /^[a-z_][a-z0-9_]*$/;

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly http: Counter<'route' | 'method' | 'status'>;
  private readonly httpChildren = new Map<string, { inc(): void }>();
  private readonly slowClosed: Counter<'reason'>;
  private readonly resyncs: Counter<'shard'>;
  /** The last bookResyncs each shard reported (a restarted shard counts from 0 again). */
  private readonly lastResyncs = new Map<number, number>();
  private readonly conflated: Counter<'shard'>;
  private readonly lastConflated = new Map<number, number>();

  private readonly log: Logger;

  constructor(src: MetricsSources) {
    this.log = src.log;
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'tickgate_' });
    new Gauge({
      name: 'tickgate_connections', help: 'Open /ws connections', registers: [r], labelNames: ['authenticated'],
      collect() {
        const all = src.clients();
        const signedIn = src.authenticated();
        this.set({ authenticated: 'true' }, signedIn);
        this.set({ authenticated: 'false' }, all - signedIn);
      },
    });
    new Gauge({
      name: 'tickgate_channels', help: 'Open channels, by channel kind', registers: [r], labelNames: ['kind'],
      collect() {
        this.reset();
        for (const [kind, c] of src.channels()) this.set({ kind }, c.channels);
      },
    });
    new Gauge({
      name: 'tickgate_subscriptions', help: 'Subscriptions (a client holding a channel), by channel kind', registers: [r], labelNames: ['kind'],
      collect() {
        this.reset();
        for (const [kind, c] of src.channels()) this.set({ kind }, c.subscribers);
      },
    });
    // Totals kept by the fan-out as plain numbers: a counter's value is set from them when scraped.
    const fromTotals = (name: string, help: string, pick: (c: KindCounts) => number) => {
      const seen = new Map<string, number>();
      return new Counter({
        name, help, registers: [r], labelNames: ['kind'],
        collect() {
          for (const [kind, c] of src.sent()) {
            const now = pick(c);
            const before = seen.get(kind) ?? 0;
            if (now > before) this.inc({ kind }, now - before);
            seen.set(kind, now);
          }
        },
      });
    };
    fromTotals('tickgate_frames_sent_total', 'Frames sent to clients (one per frame per subscriber), by channel kind', (c) => c.frames);
    fromTotals('tickgate_bytes_sent_total', 'Bytes of frames sent to clients (WebSocket payload), by channel kind', (c) => c.bytes);
    new Gauge({
      name: 'tickgate_send_queue_bytes', help: 'Bytes queued to clients (all of them) at the last check', registers: [r],
      collect() {
        this.set(src.queue().queuedBytes);
      },
    });
    new Gauge({
      name: 'tickgate_history_frames', help: 'Data frames kept for clients that resubscribe with since (history.*)', registers: [r],
      collect() {
        this.set(src.history()?.frames ?? 0);
      },
    });
    new Gauge({
      name: 'tickgate_history_bytes', help: 'Bytes of the data frames kept for clients that resubscribe with since', registers: [r],
      collect() {
        this.set(src.history()?.bytes ?? 0);
      },
    });
    new Gauge({
      name: 'tickgate_send_queue_budget_bytes', help: 'limits.maxQueuedBytes', registers: [r],
      collect() {
        this.set(src.queue().budgetBytes);
      },
    });
    this.slowClosed = new Counter({ name: 'tickgate_slow_clients_closed_total', help: 'Clients closed with 4507: over their own queue limit ("client") or the slowest when all queues passed the budget ("total")', registers: [r], labelNames: ['reason'] });
    this.slowClosed.inc({ reason: 'client' }, 0);
    this.slowClosed.inc({ reason: 'total' }, 0);
    new Gauge({
      name: 'tickgate_upstream_connections', help: 'Exchange connections, by shard and state (live: delivering data now)', registers: [r], labelNames: ['shard', 'state'],
      collect() {
        this.reset();
        for (const s of src.shards()) {
          const counts = new Map<string, number>([['live', 0]]);
          for (const c of s.stats?.connections ?? []) {
            const state = c.live ? 'live' : c.state;
            counts.set(state, (counts.get(state) ?? 0) + 1);
          }
          for (const [state, n] of counts) this.set({ shard: String(s.shard), state }, n);
        }
      },
    });
    new Gauge({
      name: 'tickgate_upstream_streams', help: 'Exchange streams open, by shard', registers: [r], labelNames: ['shard'],
      collect() {
        for (const s of src.shards()) this.set({ shard: String(s.shard) }, s.stats?.streams.length ?? 0);
      },
    });
    new Gauge({
      name: 'tickgate_upstream_reconnects', help: 'Reconnects of the exchange connections open now, by shard', registers: [r], labelNames: ['shard'],
      collect() {
        for (const s of src.shards()) this.set({ shard: String(s.shard) }, (s.stats?.connections ?? []).reduce((n, c) => n + c.reconnects, 0));
      },
    });
    this.resyncs = new Counter({ name: 'tickgate_book_resyncs_total', help: 'Local order books thrown away and rebuilt from a snapshot (a gap, a crossed book, a reconnect), by shard', registers: [r], labelNames: ['shard'] });
    this.conflated = new Counter({
      name: 'tickgate_frames_conflated_total', registers: [r], labelNames: ['shard'],
      help: 'Values of whole-state channels (price, ticker, depth, depthDelta, kinds declared conflate) replaced by a newer value, never sent, while the acceptor thread was behind the shard, by shard',
    });
    new Gauge({
      name: 'tickgate_shard_behind_seconds', registers: [r], labelNames: ['shard'],
      help: 'The longest time the shard\'s frames waited for the acceptor thread over its last report\'s window (about 2 s; 0: the acceptor keeps up), by shard',
      collect() {
        this.reset();
        for (const s of src.shards()) if (s.stats) this.set({ shard: String(s.shard) }, (s.stats.behindMs ?? 0) / 1000);
      },
    });
    // Cluster mode only: a standalone gateway has no NATS connection to report as lost.
    if (src.cluster) {
      new Gauge({
        name: 'tickgate_cluster_nats_connected', help: 'Cluster mode: 1 while this gateway is connected to NATS', registers: [r],
        collect() {
          const c = src.cluster?.();
          if (c) this.set(c.nats === 'connected' ? 1 : 0);
        },
      });
      new Gauge({
        name: 'tickgate_cluster_partitions', help: 'Cluster mode: partitions of the symbols, by whether an ingest node serves them', registers: [r], labelNames: ['owned'],
        collect() {
          const c = src.cluster?.();
          if (!c) return;
          this.set({ owned: 'true' }, c.partitionsOwned);
          this.set({ owned: 'false' }, c.partitions - c.partitionsOwned);
        },
      });
      new Gauge({
        name: 'tickgate_cluster_ingest_nodes', help: 'Cluster mode: ingest nodes this gateway hears', registers: [r],
        collect() {
          const c = src.cluster?.();
          if (c) this.set(c.ingest.length);
        },
      });
    }
    new Gauge({
      name: 'tickgate_shard_up', help: '1 while the shard runs, 0 while it restarts', registers: [r], labelNames: ['shard'],
      collect() {
        for (const s of src.shards()) this.set({ shard: String(s.shard) }, s.state === 'running' ? 1 : 0);
      },
    });
    const restartsSeen = new Map<number, number>();
    new Counter({
      name: 'tickgate_shard_restarts_total', help: 'Shard threads restarted after they died, by shard', registers: [r], labelNames: ['shard'],
      collect() {
        for (const s of src.shards()) {
          const before = restartsSeen.get(s.shard) ?? 0;
          this.inc({ shard: String(s.shard) }, Math.max(0, s.restarts - before));
          restartsSeen.set(s.shard, Math.max(before, s.restarts));
        }
      },
    });
    new Gauge({
      name: 'tickgate_event_loop_delay_seconds', help: 'Event-loop delay per thread over its last 2 s window', registers: [r], labelNames: ['thread', 'quantile'],
      collect() {
        const put = (thread: string, d: { p50: number; p99: number; max: number }) => {
          this.set({ thread, quantile: '0.5' }, d.p50);
          this.set({ thread, quantile: '0.99' }, d.p99);
          this.set({ thread, quantile: '1' }, d.max);
        };
        put('acceptor', src.acceptorLoop());
        for (const s of src.shards()) if (s.stats) put(`shard-${s.shard}`, s.stats.loopDelay);
      },
    });
    this.http = new Counter({ name: 'tickgate_http_requests_total', help: 'HTTP requests answered, by route (its registered path), method and status', registers: [r], labelNames: ['route', 'method', 'status'] });
  }

  /** An HTTP answer (the route as registered, e.g. /api/v1/orders/:id, or "unmatched"). */
  httpRequest(route: string, method: string, status: number): void {
    const key = `${route} ${method} ${status}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.http.labels(route, method, String(status));
      this.httpChildren.set(key, child);
    }
    child.inc();
  }

  slowClientClosed(reason: 'client' | 'total'): void {
    this.slowClosed.inc({ reason });
  }

  /** A shard's stats message: counters it keeps since its start become deltas here. */
  shardStats(stats: ShardStats): void {
    const last = this.lastResyncs.get(stats.shard) ?? 0;
    const delta = stats.bookResyncs >= last ? stats.bookResyncs - last : stats.bookResyncs;
    this.lastResyncs.set(stats.shard, stats.bookResyncs);
    this.resyncs.inc({ shard: String(stats.shard) }, delta);
    // An ingest node of an older release reports no such count.
    const conflated = stats.conflated ?? 0;
    const before = this.lastConflated.get(stats.shard) ?? 0;
    this.lastConflated.set(stats.shard, conflated);
    this.conflated.inc({ shard: String(stats.shard) }, conflated >= before ? conflated - before : conflated);
  }

  /** The registration API one plugin gets: its metrics are named tickgate_<plugin>_<name>. */
  forPlugin(plugin: string): PluginMetrics {
    const prefix = `tickgate_${plugin.replace(/-/g, '_')}_`;
    const log = this.log;
    const check = (name: string, labelNames: readonly string[] | undefined) => {
      if (!METRIC_NAME.test(name)) throw new Error(`plugin "${plugin}": metric name "${name}" must be lowercase letters, digits and _ (it is registered as ${prefix}<name>)`);
      for (const l of labelNames ?? []) {
        if (!LABEL_NAME.test(l) || l === 'quantile' || l === 'le') throw new Error(`plugin "${plugin}": metric ${name}: label "${l}" must be lowercase letters, digits and _, and not "le" or "quantile"`);
      }
      if (this.registry.getSingleMetric(prefix + name)) throw new Error(`plugin "${plugin}": metric ${prefix + name} is registered already`);
      return prefix + name;
    };
    return {
      counter: (name, help, labelNames = []) => new Counter({ name: check(name, labelNames), help, labelNames, registers: [this.registry] }) as MetricCounter,
      gauge: (name, help, labelNames = [], collect) => new Gauge({
        name: check(name, labelNames), help, labelNames, registers: [this.registry],
        // A plugin's collect that throws (or rejects) is logged: it never fails the scrape, nor the process.
        ...(collect ? {
          collect(this: Gauge) {
            const failed = (err: unknown) => log.error({ plugin, metric: `${prefix}${name}`, err }, 'a plugin metric\'s collect failed (contained)');
            try {
              const r = collect(this as MetricGauge) as unknown;
              if (r instanceof Promise) r.catch(failed);
            } catch (err) {
              failed(err);
            }
          },
        } : {}),
      }) as MetricGauge,
      histogram: (name, help, labelNames = [], buckets) => new Histogram({ name: check(name, labelNames), help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) }) as MetricHistogram,
    };
  }

  /** The exposition text, and its content type. */
  async text(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
