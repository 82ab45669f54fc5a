// Signals plugin, shard half: per (symbol, interval) an incremental feature vector over closed candles, the model run
// on each close in this shard, signal frames to the channel's subscribers; reloads, latest signals, candles for history.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Emitter, KlineEvent, ShardApi } from '../../shards/shard-api.js';
import { TickgateError } from '../../core/errors.js';
import { FEATURE_NAMES, FeaturePipeline, WARMUP_CANDLES, bookImbalance, intervalMs, type FeatureName } from './features.js';
import { SignalModel, checkModelServes } from './model.js';
import { signalData, type SignalData } from './signal.js';
import { LatencyWindow } from './latency-window.js';
import { ClosedCandles } from './closed-candles.js';
import { modelPath, type SignalsConfig } from './config.js';

const STATUS_EVERY_MS = 5000;

/** Candles from the exchange's REST API; a failure (the exchange down, its request budget spent) becomes a coded error. */
async function history(api: ShardApi<SignalsConfig>, symbol: string, interval: string, limit: number, endTime?: number): Promise<KlineEvent[]> {
  try {
    return await api.exchange.klines(symbol, interval, limit, endTime === undefined ? {} : { endTime });
  } catch (err) {
    if (err instanceof TickgateError) throw err;
    throw new TickgateError('TG_ERR_DATA_UNAVAILABLE', `Candle history could not be loaded from the exchange (${err instanceof Error ? err.message : String(err)}): retry in a few seconds`);
  }
}

/** The model this shard serves, with the columns of the full feature vector it takes. */
interface Loaded {
  model: SignalModel;
  columns: Int32Array;
  usesBook: boolean;
}

function prepare(model: SignalModel): Loaded {
  return {
    model,
    columns: Int32Array.from(model.info.features, (f) => FEATURE_NAMES.indexOf(f)),
    usesBook: model.info.features.includes('book_imbalance' as FeatureName),
  };
}

export default async function signals(api: ShardApi<SignalsConfig>): Promise<void> {
  const cfg = api.config;
  const defaultInterval = cfg.intervals[0]!;
  const timings = new LatencyWindow();
  let current: Loaded | undefined;
  let loadError: string | undefined;
  let loadedAt = 0;
  const streams = new Map<string, SignalStream>();
  // Closed candles for warm-ups, latest signals and history, kept between requests (HISTORY_LIMIT + the warm-up).
  const candles = new ClosedCandles((symbol, interval, limit, endTime) => history(api, symbol, interval, limit, endTime), 1100);

  const status = () => {
    api.setStatus({
      model: current ? current.model.id : null,
      sha256: current ? current.model.info.sha256 : null,
      loadedAt: current ? new Date(loadedAt).toISOString() : null,
      error: loadError ?? null,
      streams: streams.size,
      inference: timings.summary(),
    });
  };

  async function load(bytes: Uint8Array): Promise<SignalModel> {
    const model = await SignalModel.load(bytes);
    try {
      checkModelServes(model.info, cfg.intervals);
    } catch (err) {
      await model.release();
      throw err;
    }
    return model;
  }

  // The acceptor half checked the file before the shards started. A shard restarted later reads it again; if that
  // fails (or gives another model), the acceptor hands it the model the gateway serves within seconds, and until
  // then its channels stay open with an error frame per candle.
  try {
    current = prepare(await load(await readFile(resolve(modelPath(cfg)))));
    loadedAt = Date.now();
  } catch (err) {
    loadError = err instanceof Error ? err.message : String(err);
    api.log.error({ err: loadError, model: modelPath(cfg) }, 'signal model not loaded from the file: channels get TG_ERR_MODEL_UNAVAILABLE until the gateway hands this shard its model');
  }
  status();
  const statusTimer = setInterval(status, STATUS_EVERY_MS);
  statusTimer.unref();
  /** After inference: the status (its timings) within a second, at most once a second. */
  let statusDue: NodeJS.Timeout | undefined;
  const statusSoon = () => {
    statusDue ??= setTimeout(() => {
      statusDue = undefined;
      status();
    }, 1000).unref();
  };

  /** One (symbol, interval): shared by signals:SYM and signals:SYM:INTERVAL when the interval is the default. */
  class SignalStream {
    readonly emitters = new Set<Emitter>();
    last: SignalData | undefined;
    private pipe: FeaturePipeline;
    /** The last candle's full feature vector and time: rescored when the model changes. */
    private features: Float32Array | undefined;
    private candleTime = 0;
    private queue: Promise<void> = Promise.resolve();
    private readonly offKline: () => void;
    private offBook: (() => void) | undefined;
    private closed = false;
    private readonly stepMs: number | undefined;

    constructor(readonly symbol: string, readonly interval: string) {
      this.pipe = new FeaturePipeline(FEATURE_NAMES, interval);
      this.stepMs = intervalMs(interval);
      this.enqueue(() => this.warm());
      this.offKline = api.market.on('kline', symbol, (k) => {
        if (k.isFinal) this.enqueue(() => this.onClose(k));
      }, interval);
      this.syncBook();
    }

    /** Opens the book while the model reads its imbalance. */
    syncBook(): void {
      const wants = current?.usesBook ?? false;
      if (wants && !this.offBook) this.offBook = api.market.on('book', this.symbol, () => undefined);
      if (!wants && this.offBook) {
        this.offBook();
        this.offBook = undefined;
      }
    }

    private enqueue(step: () => Promise<void>): void {
      this.queue = this.queue.then(step).catch((err: unknown) => {
        api.log.error({ err, symbol: this.symbol, interval: this.interval }, 'signal step failed');
        for (const out of this.emitters) out.error('TG_ERR_DATA_UNAVAILABLE', 'The signal could not be computed for this candle (the log has the cause): the next candle close tries again');
      });
    }

    /**
     * Features from REST history: a new subscriber gets the signal of the last closed candle at once. When the
     * exchange cannot give it, the subscribers are told, and the next candle close tries again.
     */
    private async warm(): Promise<void> {
      if (this.closed) return;
      let rows: KlineEvent[];
      try {
        rows = await candles.last(this.symbol, this.interval, WARMUP_CANDLES + 1);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        api.log.warn({ symbol: this.symbol, interval: this.interval, err: message }, 'signal warm-up failed: tried again at the next candle close');
        for (const out of this.emitters) out.error('TG_ERR_DATA_UNAVAILABLE', `${message.replace(/: retry in a few seconds$/, '')}: the signal starts after a later candle close`);
        return;
      }
      const pipe = new FeaturePipeline(FEATURE_NAMES, this.interval);
      let features: Float32Array | undefined;
      let time = 0;
      for (const k of rows) {
        features = pipe.push(k);
        time = k.openTime;
      }
      this.pipe = pipe;
      if (features) await this.score(features, time);
      else api.log.warn({ symbol: this.symbol, interval: this.interval, candles: rows.length }, 'not enough candle history for a signal yet: the first comes after enough candles close');
    }

    private async onClose(k: KlineEvent): Promise<void> {
      if (this.closed || k.openTime <= this.pipe.lastCandleTime) return;
      // Never warmed (the exchange failed): warm now, the closed candle included.
      if (this.pipe.count === 0) return this.warm();
      // A missed candle (a reconnect) would stretch the windows: warm again from REST instead.
      if (this.pipe.count > 0 && this.stepMs !== undefined && k.openTime - this.pipe.lastCandleTime !== this.stepMs) {
        api.log.info({ symbol: this.symbol, interval: this.interval, after: this.pipe.lastCandleTime, got: k.openTime }, 'candles missed: features warmed again from history');
        return this.warm();
      }
      const book = current?.usesBook ? api.market.latest('book', this.symbol) : undefined;
      const features = this.pipe.push(k, book ? { bookImbalance: bookImbalance(book.bids, book.asks) } : {});
      if (features) await this.score(features, k.openTime);
    }

    /** Runs the model on one candle's features and sends the signal; a failure reaches the subscribers as an error frame. */
    async score(features: Float32Array, candleTime: number): Promise<void> {
      this.features = features;
      this.candleTime = candleTime;
      const loaded = current;
      if (!loaded) {
        for (const out of this.emitters) out.error('TG_ERR_MODEL_UNAVAILABLE');
        return;
      }
      const x = new Float32Array(loaded.columns.length);
      for (let i = 0; i < x.length; i++) x[i] = features[loaded.columns[i]!]!;
      let probs: Float32Array;
      const t0 = performance.now();
      try {
        probs = await loaded.model.predict(x, 1);
      } catch (err) {
        api.log.error({ err: err instanceof Error ? err.message : String(err), symbol: this.symbol, interval: this.interval, candleTime, model: loaded.model.id }, 'signal inference failed: the subscribers got an error frame');
        for (const out of this.emitters) out.error('TG_ERR_INFERENCE_FAILED');
        return;
      }
      timings.add((performance.now() - t0) * 1000);
      statusSoon();
      if (this.closed) return;
      this.last = signalData(probs, 0, { symbol: this.symbol, interval: this.interval, model: loaded.model.id, candleTime, timestamp: Date.now(), minConfidence: cfg.minConfidence });
      for (const out of this.emitters) out.emit('signal', this.last);
    }

    /** After a model change: the last candle scored again, so subscribers see the new model's view at once. */
    rescore(): void {
      this.syncBook();
      const features = this.features;
      if (features) this.enqueue(() => this.score(features, this.candleTime));
    }

    close(): void {
      this.closed = true;
      this.offKline();
      this.offBook?.();
    }
  }

  api.produce('signals', {
    needs: (ch) => [`kline:${ch.arg ?? defaultInterval}`],
    open: (ch, out) => {
      // Without a model (this shard restarted onto an unreadable file) the channel opens anyway: its subscribers get
      // TG_ERR_MODEL_UNAVAILABLE per candle until the acceptor hands this shard the model the others serve.
      const interval = ch.arg ?? defaultInterval;
      const key = `${ch.symbol}|${interval}`;
      let s = streams.get(key);
      if (!s) {
        s = new SignalStream(ch.symbol, interval);
        streams.set(key, s);
        status();
      }
      const stream = s;
      stream.emitters.add(out);
      if (stream.last) out.emit('signal', stream.last);
      return () => {
        stream.emitters.delete(out);
        if (stream.emitters.size === 0) {
          stream.close();
          streams.delete(key);
          status();
        }
      };
    },
  });

  /** Which model this shard serves (the acceptor puts a restarted shard back on the model the others serve). */
  api.answer('model', () => ({ model: current?.model.id ?? null, sha256: current?.model.info.sha256 ?? null }));

  /** A new model from the acceptor (hot reload): checked here too, swapped in only when it loads. */
  api.answer('reload', async (params) => {
    const { bytes, sha256 } = params as { bytes: Uint8Array; sha256: string };
    // The same file again (touched, or reloaded twice): nothing changes, and no frame is sent again.
    if (current && current.model.info.sha256 === sha256) return { model: current.model.id, sha256, changed: false };
    const model = await load(bytes);
    const old = current;
    current = prepare(model);
    loadedAt = Date.now();
    loadError = undefined;
    for (const s of streams.values()) s.rescore();
    status();
    // The old session finishes what it runs now before it is released.
    if (old) setTimeout(() => void old.model.release().catch(() => undefined), 5000).unref();
    api.log.info({ model: model.id, sha256: model.info.sha256 }, 'signal model reloaded');
    return { model: model.id, sha256: model.info.sha256, changed: true };
  });

  /** The latest signal of an open stream, or one computed now from history. */
  api.answer('latest', async (params, ctx) => {
    const { interval } = params as { interval: string };
    const open = streams.get(`${ctx.symbol}|${interval}`);
    if (open?.last) return open.last;
    const rows = await candles.last(ctx.symbol, interval, WARMUP_CANDLES + 1);
    // Read after the exchange answered: a reload meanwhile has released the model before.
    if (!current) throw new TickgateError('TG_ERR_MODEL_UNAVAILABLE');
    const loaded = current;
    const pipe = new FeaturePipeline(FEATURE_NAMES, interval);
    let features: Float32Array | undefined;
    let time = 0;
    for (const k of rows) {
      features = pipe.push(k);
      time = k.openTime;
    }
    if (!features) throw new TickgateError('TG_ERR_DATA_UNAVAILABLE', `The exchange has fewer than ${WARMUP_CANDLES} closed ${interval} candles of ${ctx.symbol}: no signal yet`);
    const x = Float32Array.from(loaded.columns, (c) => features[c]!);
    let probs: Float32Array;
    try {
      probs = await loaded.model.predict(x, 1);
    } catch (err) {
      api.log.error({ err: err instanceof Error ? err.message : String(err), symbol: ctx.symbol, interval, model: loaded.model.id }, 'signal inference failed');
      throw new TickgateError('TG_ERR_INFERENCE_FAILED');
    }
    return signalData(probs, 0, { symbol: ctx.symbol, interval, model: loaded.model.id, candleTime: time, timestamp: Date.now(), minConfidence: cfg.minConfidence });
  });

  /**
   * Closed candles for a history request: `limit` of them plus the warm-up before, oldest first (from the kept
   * candles, and new pages from the exchange as needed), packed as [openTime, open, high, low, close, volume] × n
   * in one Float64Array, which crosses threads as one copy.
   */
  api.answer('candles', async (params, ctx) => {
    const { interval, limit } = params as { interval: string; limit: number };
    const rows = await candles.last(ctx.symbol, interval, limit + WARMUP_CANDLES - 1);
    const packed = new Float64Array(rows.length * 6);
    rows.forEach((k, i) => packed.set([k.openTime, k.open, k.high, k.low, k.close, k.volume], i * 6));
    return packed;
  });

  api.onClose(async () => {
    clearInterval(statusTimer);
    clearTimeout(statusDue);
    for (const s of streams.values()) s.close();
    await current?.model.release().catch(() => undefined);
  });
}
