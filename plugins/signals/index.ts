// Built-in signals plugin, acceptor half: the signals: channel family, the model file (checked, watched, reloaded in
// every shard), and the signal REST endpoints with history computed on a piscina pool.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Piscina } from 'piscina';
import { z } from 'zod';
import { definePlugin, jsonText, type RouteRequest } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { okAnswer } from '../../core/openapi.js';
import { choiceParam, countParam, servedSymbol } from '../../core/route-params.js';
import { SIGNALS_ERRORS } from './errors.js';
import { modelPath, signalsConfigSchema, type SignalsConfig } from './config.js';
import type { CheckResult, HistoryResult, HistoryTask } from './history-worker.js';
import type { ModelInfo } from './model.js';
import type { SignalData } from './signal.js';

const HISTORY_MAX = 1000;

/** A signal as the REST routes answer it (signal.ts's SignalData). */
const signalAnswer = z.object({
  symbol: z.string(),
  interval: z.string(),
  action: z.enum(['buy', 'sell', 'hold']),
  confidence: z.number(),
  probabilities: z.object({ down: z.number(), flat: z.number(), up: z.number() }),
  model: z.string().meta({ description: 'name@version of the model that scored the candle' }),
  candleTime: z.number().int().meta({ description: 'Open time of the closed candle the signal scores (ms)' }),
  timestamp: z.number().int().meta({ description: 'When the signal was computed (ms)' }),
});

/** GET /api/v1/signals/model's answer. */
const modelAnswer = z.object({
  model: z.string(), name: z.string(), version: z.string(), features: z.array(z.string()), labels: z.array(z.string()), intervals: z.array(z.string()),
  served: z.array(z.string()).meta({ description: 'The intervals this server serves signals for' }),
  metadata: z.record(z.string(), z.unknown()), sha256: z.string(), loadedAt: z.string(),
  lastRefused: z.object({ at: z.string(), reason: z.string() }).nullable().meta({ description: 'The last model file refused, or null' }),
});
const WATCH_SETTLE_MS = 300;
/** How often the shards' models are compared with this one (a restarted shard is put back on it). */
const SYNC_EVERY_MS = 5000;

interface Current {
  bytes: Uint8Array;
  sha256: string;
  info: ModelInfo;
  loadedAt: number;
}

export default definePlugin<SignalsConfig>({
  name: 'signals',
  configSchema: signalsConfigSchema,
  errors: SIGNALS_ERRORS,
  async acceptor(api) {
    const cfg = api.config;
    const path = resolve(modelPath(cfg));
    const pool = new Piscina<HistoryTask, CheckResult | HistoryResult>({
      filename: new URL('./history-worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: cfg.historyThreads,
      maxQueue: cfg.historyQueue,
      idleTimeout: 60_000,
    });
    // Model files are checked on a thread of their own: a reload never waits behind (or is refused by) history work.
    const checker = new Piscina<HistoryTask, CheckResult | HistoryResult>({
      filename: new URL('./history-worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: 10_000,
    });
    api.onClose(() => Promise.all([pool.destroy(), checker.destroy()]).then(() => undefined));

    /** Reads and checks a model file off this thread; throws TG_ERR_MODEL_INVALID naming what is wrong. */
    async function check(): Promise<Current> {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(path));
      } catch (err) {
        throw SIGNALS_ERRORS.error('TG_ERR_MODEL_INVALID', `The model file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); the model loaded before keeps serving`);
      }
      const result = (await checker.run({ op: 'check', bytes, intervals: cfg.intervals })) as CheckResult;
      if (!result.ok) throw SIGNALS_ERRORS.error('TG_ERR_MODEL_INVALID', `The model file ${path} was refused: ${result.message}. The model loaded before keeps serving`);
      return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), info: result.info, loadedAt: Date.now() };
    }

    let current: Current;
    try {
      current = await check();
    } catch (err) {
      if (!(err instanceof TickgateError)) throw err;
      throw new Error(`${err.message.replace(/; the model loaded before keeps serving|\. The model loaded before keeps serving/, '')}. Set plugins.signals.model to an ONNX file that meets the model contract (README, "Signals"), or leave it empty for the shipped model`);
    }
    api.log.info({ model: `${current.info.name}@${current.info.version}`, file: path, intervals: cfg.intervals }, 'signal model loaded');

    /** The last file refused (by the watcher or the route), for GET /api/v1/signals/model. */
    let lastRefused: { at: string; reason: string } | null = null;

    /** Hands a model to the shards; resolves with how many shards there are and those that did not take it. */
    async function toShards(model: Current): Promise<{ shards: number; failed: Array<{ shard: number; error: string }> }> {
      const answers = await api.askEach('reload', { bytes: model.bytes, sha256: model.sha256 }, 30_000);
      return { shards: answers.length, failed: answers.flatMap((a) => (a.ok ? [] : [{ shard: a.shard, error: a.error.message }])) };
    }

    /** One reload at a time (the watcher's, the route's, the shard sync's); a request during one waits for it. */
    let reloading: Promise<unknown> = Promise.resolve();
    function serially<T>(fn: () => Promise<T>): Promise<T> {
      const run = reloading.then(fn);
      reloading = run.catch(() => undefined);
      return run;
    }

    function reload(trigger: string): Promise<{ model: string; previous: string; sha256: string; changed: boolean; failedShards: Array<{ shard: number; error: string }> }> {
      return serially(async () => {
        let next: Current;
        try {
          next = await check();
        } catch (err) {
          lastRefused = { at: new Date().toISOString(), reason: err instanceof Error ? err.message : String(err) };
          throw err;
        }
        const previous = `${current.info.name}@${current.info.version}`;
        const model = `${next.info.name}@${next.info.version}`;
        // The same bytes (a touched file, a second reload): nothing to swap, no frame sent again.
        if (next.sha256 === current.sha256) return { model, previous, sha256: next.sha256, changed: false, failedShards: [] };
        const { shards, failed: failedShards } = await toShards(next);
        if (failedShards.length === shards) {
          const reason = `No shard took the model: ${failedShards.map((f) => `shard ${f.shard}: ${f.error}`).join('; ')}. The model loaded before keeps serving`;
          lastRefused = { at: new Date().toISOString(), reason };
          throw SIGNALS_ERRORS.error('TG_ERR_MODEL_INVALID', reason);
        }
        if (failedShards.length) api.log.error({ failedShards }, 'some shards did not take the new model: they are offered it again every few seconds');
        current = next;
        api.log.info({ model, previous, sha256: next.sha256, trigger, shards: shards - failedShards.length }, 'signal model reloaded');
        return { model, previous, sha256: next.sha256, changed: true, failedShards };
      });
    }

    // A shard that restarted read the file again; if that is not the model the others serve (the file was refused
    // since, or changed while not watched), it is handed this one.
    const sync = setInterval(() => {
      void serially(async () => {
        const answers = await api.askEach<{ sha256: string | null }>('model', {}, 5000);
        const behind = answers.filter((a) => a.ok && a.data.sha256 !== current.sha256);
        if (behind.length === 0) return;
        const { failed } = await toShards(current);
        api.log.warn({ shards: behind.map((a) => a.shard), model: `${current.info.name}@${current.info.version}`, failed }, 'shards served another model (restarted onto the file): handed the current one');
      }).catch((err: unknown) => api.log.error({ err: err instanceof Error ? err.message : String(err) }, 'model sync with the shards failed'));
    }, SYNC_EVERY_MS);
    sync.unref();
    api.onClose(() => clearInterval(sync));

    if (cfg.watch) {
      // The directory is watched, not the file: editors and deploy tools replace a file by renaming a new one over it.
      let settle: NodeJS.Timeout | undefined;
      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(dirname(path), (_event, name) => {
          if (name !== basename(path)) return;
          clearTimeout(settle);
          settle = setTimeout(() => {
            reload('file changed').catch((err: unknown) => api.log.error({ err: err instanceof Error ? err.message : String(err) }, 'the changed model file was refused'));
          }, WATCH_SETTLE_MS);
        });
        watcher.on('error', (err) => api.log.warn({ err: err.message }, 'model file watch failed: reload with POST /api/v1/admin/models/reload'));
      } catch (err) {
        api.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'model file not watched: reload with POST /api/v1/admin/models/reload');
      }
      api.onClose(() => {
        clearTimeout(settle);
        watcher?.close();
      });
    }

    const defaultInterval = cfg.intervals[0]!;
    api.channel('signals', {
      key: 'symbol',
      argName: 'interval',
      args: cfg.intervals,
      argRequired: false,
      argErrorCode: 'TG_ERR_INVALID_INTERVAL',
      description: `model signals on each closed candle: signals:SYM (${defaultInterval}) or signals:SYM:INTERVAL (${cfg.intervals.join(', ')})`,
    });

    const { symbols } = api;
    const TAGS = ['signals'];
    const params = z.object({ symbol: servedSymbol(symbols) });
    // Absent or empty: the first configured interval.
    const interval = choiceParam(cfg.intervals, 'TG_ERR_INVALID_INTERVAL', `interval must be one of the intervals signals are served for: ${cfg.intervals.join(', ')}`, defaultInterval);
    const ok = (data: unknown) => ({ body: { success: true, data } });

    api.route('get', '/api/v1/signals/model', () => ok({
      model: `${current.info.name}@${current.info.version}`,
      name: current.info.name,
      version: current.info.version,
      features: current.info.features,
      labels: current.info.labels,
      intervals: current.info.intervals,
      served: cfg.intervals,
      metadata: current.info.extra,
      sha256: current.sha256,
      loadedAt: new Date(current.loadedAt).toISOString(),
      lastRefused,
    }), { schema: { tags: TAGS, summary: 'The loaded model: its name, version, features, labels and intervals', response: { 200: okAnswer(modelAnswer) } } });

    // The REST twins of signals:SYM[:INTERVAL]: whoever may not hold the channel (a plan) may not read it here either.
    const channelOf = (req: RouteRequest): string | undefined => {
      let symbol: string;
      try {
        symbol = symbols.validate(req.params.symbol ?? '').symbol;
      } catch {
        return undefined; // the route's own check says why
      }
      const interval = req.query.get('interval');
      return `signals:${symbol}${interval ? `:${interval}` : ''}`;
    };
    api.route('get', '/api/v1/signals/:symbol', async (req) => ok(await api.ask<SignalData>(req.params.symbol, 'latest', { interval: req.query.interval }, 15_000)), {
      channel: channelOf,
      schema: {
        tags: TAGS, summary: 'The latest signal: the open channel\'s, or one computed now from history', params,
        query: z.object({ interval }), response: { 200: okAnswer(signalAnswer) },
      },
    });

    let historyInFlight = 0;
    api.route('get', '/api/v1/signals/:symbol/history', async (req) => {
      const { symbol } = req.params;
      const { interval, limit } = req.query;
      const model = current;
      if (model.info.features.includes('book_imbalance')) {
        throw SIGNALS_ERRORS.error('TG_ERR_HISTORY_UNSUPPORTED', `The loaded model ${model.info.name}@${model.info.version} takes book_imbalance, which candle history does not carry: use the live channel, or load a model without that feature`);
      }
      // Refused before the exchange is asked (each request costs exchange weight) when the pool is full.
      if (historyInFlight >= cfg.historyThreads + cfg.historyQueue) throw SIGNALS_ERRORS.error('TG_ERR_HISTORY_BUSY');
      historyInFlight++;
      try {
        return await historyOf(symbol, interval, limit, model);
      } finally {
        historyInFlight--;
      }
    }, {
      channel: channelOf,
      schema: {
        tags: TAGS, summary: 'The signals of the last closed candles, oldest first, computed in one batch on a worker pool', params,
        query: z.object({ interval, limit: countParam('limit', 100, HISTORY_MAX) }),
        response: {
          200: okAnswer(z.object({ symbol: z.string(), interval: z.string(), model: z.string(), count: z.number().int(), signals: z.array(signalAnswer) })),
        },
      },
    });

    async function historyOf(symbol: string, interval: string, limit: number, model: Current) {
      const candles = await api.ask<Float64Array>(symbol, 'candles', { interval, limit }, 30_000);
      let signals: HistoryResult;
      try {
        // The candles move to the pool's thread (no copy); the signals come back as JSON text, sent as it is.
        signals = (await pool.run({ op: 'history', model: { sha256: model.sha256, bytes: model.bytes }, symbol, interval, candles, limit, minConfidence: cfg.minConfidence }, { transferList: [candles.buffer as ArrayBuffer] })) as HistoryResult;
      } catch (err) {
        if (err instanceof Error && /queue is at limit/i.test(err.message)) throw SIGNALS_ERRORS.error('TG_ERR_HISTORY_BUSY');
        api.log.error({ err: err instanceof Error ? err.message : String(err), symbol, interval, model: `${model.info.name}@${model.info.version}` }, 'signal history failed');
        throw SIGNALS_ERRORS.error('TG_ERR_INFERENCE_FAILED', 'The signal model failed on this history: the operator finds the cause in the log');
      }
      const head = JSON.stringify({ symbol, interval, model: `${model.info.name}@${model.info.version}`, count: signals.count });
      return { body: jsonText(`{"success":true,"data":${head.slice(0, -1)},"signals":${signals.json}}}`) };
    }

    if (api.authenticates()) {
      api.route('post', '/api/v1/admin/models/reload', async () => ok(await reload('admin request')), {
        auth: 'admin', outsideNamespace: true, maxBodyBytes: 1024,
        schema: {
          tags: TAGS, summary: 'Reloads the model file in every shard (422 TG_ERR_MODEL_INVALID and the old model keeps serving when it breaks the contract)',
          response: {
            200: okAnswer(z.object({
              model: z.string(), previous: z.string(), sha256: z.string(),
              changed: z.boolean().meta({ description: 'false for the same bytes: nothing was swapped' }),
              failedShards: z.array(z.object({ shard: z.number().int(), error: z.string() })),
            })),
          },
        },
      });
    } else {
      api.log.info('no plugin authenticates clients (auth), so POST /api/v1/admin/models/reload is not served: a replaced model file is still reloaded (watch)');
    }
  },
  shard: new URL('./shard.js', import.meta.url),
});
