// Built-in signals plugin, acceptor half: the signals: channel family, the model file (checked, watched, reloaded in
// every shard), and the signal REST endpoints with history computed on a piscina pool.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Piscina } from 'piscina';
import { definePlugin, jsonText } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { SIGNALS_ERRORS } from './errors.js';
import { modelPath, signalsConfigSchema, type SignalsConfig } from './config.js';
import type { CheckResult, HistoryResult, HistoryTask } from './history-worker.js';
import type { ModelInfo } from './model.js';
import type { SignalData } from './signal.js';

const HISTORY_MAX = 1000;
const WATCH_SETTLE_MS = 300;

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
    api.onClose(() => pool.destroy());

    /** Reads and checks a model file in the pool; throws TG_ERR_MODEL_INVALID naming what is wrong. */
    async function check(): Promise<Current> {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(path));
      } catch (err) {
        throw SIGNALS_ERRORS.error('TG_ERR_MODEL_INVALID', `The model file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); the model loaded before keeps serving`);
      }
      const result = (await pool.run({ op: 'check', bytes, intervals: cfg.intervals })) as CheckResult;
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

    /** One reload at a time; a request during one waits for it and then runs its own. */
    let reloading: Promise<unknown> = Promise.resolve();
    function reload(trigger: string): Promise<{ model: string; previous: string; sha256: string; changed: boolean }> {
      const run = reloading.then(async () => {
        const next = await check();
        const previous = `${current.info.name}@${current.info.version}`;
        const answers = await api.askEach<{ model: string }>('reload', { bytes: next.bytes }, 30_000);
        const failed = answers.filter((a) => !a.ok);
        if (failed.length === answers.length) {
          throw SIGNALS_ERRORS.error('TG_ERR_MODEL_INVALID', `No shard took the model: ${failed.map((a) => `shard ${a.shard}: ${a.ok ? '' : a.error.message}`).join('; ')}. The model loaded before keeps serving`);
        }
        if (failed.length) api.log.error({ failed: failed.map((a) => ({ shard: a.shard, err: a.ok ? '' : a.error.message })) }, 'some shards did not take the new model: they keep the one before until the next reload');
        const changed = next.sha256 !== current.sha256;
        current = next;
        const model = `${next.info.name}@${next.info.version}`;
        api.log.info({ model, previous, sha256: next.sha256, trigger, shards: answers.length - failed.length }, 'signal model reloaded');
        return { model, previous, sha256: next.sha256, changed };
      });
      reloading = run.catch(() => undefined);
      return run;
    }

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
    const intervalOf = (q: URLSearchParams): string => {
      const raw = q.get('interval');
      if (raw === null || raw === '') return defaultInterval;
      if (!cfg.intervals.includes(raw as never)) throw new TickgateError('TG_ERR_INVALID_INTERVAL', `interval must be one of the intervals signals are served for: ${cfg.intervals.join(', ')}`);
      return raw;
    };
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
    }));

    api.route('get', '/api/v1/signals/:symbol', async (req) => {
      const symbol = symbols.validate(req.params.symbol ?? '').symbol;
      return ok(await api.ask<SignalData>(symbol, 'latest', { interval: intervalOf(req.query) }, 15_000));
    });

    api.route('get', '/api/v1/signals/:symbol/history', async (req) => {
      const symbol = symbols.validate(req.params.symbol ?? '').symbol;
      const interval = intervalOf(req.query);
      const raw = req.query.get('limit');
      const limit = raw === null ? 100 : Number(raw);
      if (raw !== null && (!/^\d+$/.test(raw) || limit < 1 || limit > HISTORY_MAX)) throw new TickgateError('TG_ERR_INVALID_ARGUMENT', `limit must be an integer from 1 to ${HISTORY_MAX}`);
      const model = current;
      if (model.info.features.includes('book_imbalance')) {
        throw SIGNALS_ERRORS.error('TG_ERR_HISTORY_UNSUPPORTED', `The loaded model ${model.info.name}@${model.info.version} takes book_imbalance, which candle history does not carry: its signals exist live only`);
      }
      // Refused before the exchange is asked, when the pool could not take it anyway.
      if (pool.queueSize >= cfg.historyQueue && pool.utilization >= 1) throw SIGNALS_ERRORS.error('TG_ERR_HISTORY_BUSY');
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
    });

    if (api.authenticates()) {
      api.route('post', '/api/v1/admin/models/reload', async () => ok(await reload('admin request')), { auth: 'admin', outsideNamespace: true, maxBodyBytes: 1024 });
    } else {
      api.log.info('no plugin authenticates clients (auth), so POST /api/v1/admin/models/reload is not served: a replaced model file is still reloaded (watch)');
    }
  },
  shard: new URL('./shard.js', import.meta.url),
});
