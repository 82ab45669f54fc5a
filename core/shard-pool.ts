// The thread transport of the bus: starts the shard workers, routes by symbol hash, restarts a shard that dies.
import { Worker } from 'node:worker_threads';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { EachAnswer, FrameBatch, FromShard, ShardInfo, ShardPool, ShardStats, ToShard } from './bus.js';
import { shardFor } from './shard-hash.js';
import { TickgateError, type ErrorRegistry } from './errors.js';
import { PluginLoadError } from './plugin-host.js';
import type { ShardPluginRef } from '../shards/worker.js';
import type { SymbolInfo } from './symbol-registry.js';
import { CREDIT } from '../shards/frame-batcher.js';

export interface ShardPoolEvents {
  /** A batch of frames; the shard sends its next batch once this returns, or once the promise it returns settles. */
  frames(batch: FrameBatch): void | Promise<void>;
  stats(stats: ShardStats): void;
  symbols(symbols: SymbolInfo[]): void;
  symbolsFailed(message: string): void;
  /** A plugin's shard half reported something to its acceptor half. */
  report(shard: number, plugin: string, event: string, data: unknown): void;
  /** A shard died: its channels have no producer until `up`. */
  down(shard: number): void;
  /** A shard (re)started after `down`: its channels must be opened again. */
  up(shard: number): void;
  /** A shard is ready, on its first start or a restart (before `up`): what every shard must know is sent now. */
  ready(shard: number): void;
}

export type { ShardPluginRef };

const START_TIMEOUT_MS = 30_000;
const WORKER_URL = new URL('../shards/worker.js', import.meta.url);

interface Slot {
  worker: Worker | undefined;
  ready: boolean;
  /** Restarts since the gateway started (health, metrics). */
  restarts: number;
  /** Restarts since the shard last ran for `stableAfterMs`: what the restart delay grows with. */
  failures: number;
  startedAt: number;
  /** When it last became ready: how long it has run, for the backoff. */
  readyAt: number;
  lastStats: ShardStats | undefined;
  /** A batch being published in slices, and those queued behind it (see publish). */
  publishing: Promise<void> | undefined;
}

export class ShardStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardStartError';
  }
}

export class ThreadShardPool implements ShardPool {
  private readonly slots: Slot[];
  private stopping = false;
  private nextAskId = 1;
  private readonly asks = new Map<number, { shard: number; resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();

  constructor(
    private readonly opts: {
      config: Config; plugins: ShardPluginRef[]; log: Logger; events: ShardPoolEvents; errors: ErrorRegistry;
      /** A shard that ran this long before it died restarts after the shortest delay again (default 60 s). */
      stableAfterMs?: number;
    },
  ) {
    this.slots = Array.from({ length: opts.config.shards }, () => ({ worker: undefined, ready: false, restarts: 0, failures: 0, startedAt: 0, readyAt: 0, lastStats: undefined, publishing: undefined }));
  }

  get count(): number {
    return this.slots.length;
  }

  shardFor(routeKey: string): number {
    return shardFor(routeKey, this.slots.length);
  }

  async start(): Promise<void> {
    await Promise.all(this.slots.map((_, i) => this.spawn(i)));
  }

  private spawn(id: number): Promise<void> {
    const slot = this.slots[id]!;
    // Shared with the thread: the frame batches taken in, and whether it waits to hear of it. A shard sends its next
    // batch only once the last one is taken in, so the port never holds a queue of batches: Node works through a
    // port's queue (at least 1,000 messages at a time, those arriving meanwhile included) without giving the event
    // loop a turn, and sockets, timers and HTTP requests would wait for as long as the shard stayed ahead.
    const credit = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
    const worker = new Worker(WORKER_URL, {
      workerData: { shardId: id, config: this.opts.config, plugins: this.opts.plugins, credit },
      name: `tickgate-shard-${id}`,
    });
    slot.worker = worker;
    slot.ready = false;
    slot.startedAt = Date.now();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        void worker.terminate();
        reject(new ShardStartError(`shard ${id} did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      worker.on('message', (msg: FromShard) => {
        if (msg.t === 'frames') {
          this.publish(slot, id, msg, () => {
            Atomics.add(credit, CREDIT.TAKEN, 1);
            if (Atomics.exchange(credit, CREDIT.WAITING, 0) === 1) worker.postMessage({ t: 'credit' } satisfies ToShard);
          });
          return;
        }
        if (msg.t === 'ready' && !settled) {
          settled = true;
          clearTimeout(timer);
          slot.ready = true;
          slot.readyAt = Date.now();
          this.opts.events.ready(id);
          resolve();
          return;
        }
        if (msg.t === 'pluginFailed' && !settled) {
          settled = true;
          clearTimeout(timer);
          reject(new PluginLoadError(`plugin "${msg.plugin}": its shard half failed to load: ${msg.message}`));
          return;
        }
        this.onMessage(id, msg);
      });
      worker.on('error', (err) => {
        this.opts.log.error({ err, shard: id }, 'shard worker error');
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new ShardStartError(`shard ${id} failed to start: ${err.message}`));
        }
      });
      worker.on('exit', (code) => {
        if (slot.worker !== worker) return;
        const wasReady = slot.ready;
        slot.worker = undefined;
        slot.ready = false;
        slot.lastStats = undefined;
        this.failAsks(id);
        // A worker that never became ready failed its start: whoever awaited spawn() handles that (once).
        if (this.stopping || !wasReady) return;
        // A crash after a long stable run starts the backoff over: one crash a month never waits 30 s.
        if (Date.now() - slot.readyAt >= (this.opts.stableAfterMs ?? 60_000)) slot.failures = 0;
        const down = () => {
          const delay = this.restart(id);
          this.opts.log.error({ shard: id, code, restartInMs: delay }, 'shard worker exited unexpectedly: restarting it');
          this.opts.events.down(id);
        };
        // What it sent before it died goes out first, then its channels go stale.
        if (slot.publishing) void slot.publishing.then(down);
        else down();
      });
    });
  }

  /**
   * Publishes a batch, then counts it taken (the shard sends its next). A batch published in slices (it returned a
   * promise) holds back the slot's later batches until it is out, those of a restarted thread (and the shard's
   * `down`) included: a channel's frames never overtake each other. An error is logged and the batch counted taken.
   */
  private publish(slot: Slot, id: number, batch: FrameBatch, taken: () => void): void {
    const run = () => {
      let out: void | Promise<void>;
      try {
        out = this.opts.events.frames(batch);
      } catch (err) {
        this.failedBatch(err, id);
        taken();
        return undefined;
      }
      if (!out) {
        taken();
        return undefined;
      }
      return out.then(taken, (err: unknown) => {
        this.failedBatch(err, id);
        taken();
      });
    };
    if (!slot.publishing) {
      const out = run();
      if (!out) return;
      slot.publishing = out;
    } else slot.publishing = slot.publishing.then(run);
    const mine = slot.publishing;
    void mine.then(() => {
      if (slot.publishing === mine) slot.publishing = undefined;
    });
  }

  private failedBatch(err: unknown, shard: number): void {
    this.opts.log.error({ err, shard }, 'publishing a shard\'s frames failed: the batch\'s remaining frames are lost');
  }

  /** Schedules a restart: 250 ms after the first failure, doubling with each failure since the last stable run. */
  private restart(id: number): number {
    const slot = this.slots[id]!;
    slot.restarts++;
    slot.failures++;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(slot.failures - 1, 7));
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn(id).then(
        () => this.opts.events.up(id),
        (err: Error) => {
          this.opts.log.error({ err: err.message, shard: id }, 'shard restart failed');
          this.restart(id);
        },
      );
    }, delay).unref();
    return delay;
  }

  private onMessage(id: number, msg: FromShard): void {
    switch (msg.t) {
      case 'frames':
        break;
      case 'stats':
        this.slots[id]!.lastStats = msg;
        this.opts.events.stats(msg);
        break;
      case 'symbols':
        this.opts.events.symbols(msg.symbols);
        break;
      case 'symbolsFailed':
        this.opts.events.symbolsFailed(msg.message);
        break;
      case 'answer': {
        const pending = this.asks.get(msg.id);
        if (!pending) break;
        this.asks.delete(msg.id);
        clearTimeout(pending.timer);
        if (msg.ok) pending.resolve(msg.data);
        else if (this.opts.errors.get(msg.error.code)) pending.reject(new TickgateError(msg.error.code, msg.error.message, msg.error.hint));
        else pending.reject(new TickgateError('TG_ERR_INTERNAL'));
        break;
      }
      case 'report':
        this.opts.events.report(msg.shard, msg.plugin, msg.event, msg.data);
        break;
      case 'pluginFailed':
        // After a restart: the start succeeded once, so the restart logic retries.
        this.opts.log.error({ shard: id, plugin: msg.plugin, err: msg.message }, 'a plugin\'s shard half failed to load in a restarted shard');
        break;
      case 'ready':
      case 'stopped':
        break;
    }
  }

  /** Asks a plugin's shard half a question; rejects with a TickgateError (timeout, shard down, or the answer's error). */
  ask(shard: number, plugin: string, question: string, params: unknown, symbol: string, timeoutMs: number): Promise<unknown> {
    const slot = this.slots[shard];
    if (!slot?.worker || !slot.ready) return Promise.reject(new TickgateError('TG_ERR_DATA_UNAVAILABLE', 'The shard for this symbol is restarting: retry in a few seconds'));
    const id = this.nextAskId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.asks.delete(id);
        reject(new TickgateError('TG_ERR_DATA_UNAVAILABLE'));
      }, timeoutMs);
      this.asks.set(id, { shard, resolve, reject, timer });
      slot.worker!.postMessage({ t: 'ask', id, plugin, question, params, symbol } satisfies ToShard);
    });
  }

  private failAsks(shard: number): void {
    for (const [id, a] of this.asks) {
      if (a.shard !== shard) continue;
      clearTimeout(a.timer);
      this.asks.delete(id);
      a.reject(new TickgateError('TG_ERR_DATA_UNAVAILABLE', 'The shard for this symbol stopped: retry in a few seconds'));
    }
  }

  send(shard: number, msg: ToShard): void {
    const slot = this.slots[shard];
    if (slot?.worker && slot.ready) slot.worker.postMessage(msg);
  }

  /** Sends to every running shard. */
  broadcast(msg: ToShard): void {
    for (let i = 0; i < this.slots.length; i++) this.send(i, msg);
  }

  isReady(shard: number): boolean {
    return this.slots[shard]?.ready ?? false;
  }

  /** Asks every shard the same question; each answer or error is in the list, in shard order. */
  askEach(plugin: string, question: string, params: unknown, timeoutMs: number): Promise<EachAnswer[]> {
    return Promise.all(this.slots.map((_, shard) =>
      this.ask(shard, plugin, question, params, '', timeoutMs).then(
        (data): EachAnswer => ({ shard, ok: true, data }),
        (error: TickgateError): EachAnswer => ({ shard, ok: false, error }),
      )));
  }

  info(): ShardInfo[] {
    const now = Date.now();
    return this.slots.map((s, shard) => ({
      shard,
      state: s.ready ? 'running' : 'down',
      restarts: s.restarts,
      uptimeMs: s.ready ? now - s.startedAt : 0,
      stats: s.lastStats,
    }));
  }

  /** Asks every shard to close its channels and upstreams, then waits for the threads to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (slot, id) => {
        const worker = slot.worker;
        if (!worker) return;
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({ t: 'stop' } satisfies ToShard);
        const timer = setTimeout(() => {
          this.opts.log.warn({ shard: id }, 'shard did not stop in time: terminating it');
          void worker.terminate();
        }, this.opts.config.server.drainTimeoutMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
