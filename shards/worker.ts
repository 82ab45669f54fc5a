// Shard worker entry: loads the plugins' shard halves into a ShardHost and speaks the bus protocol with the acceptor.
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../core/config.js';
import type { FromShard, ToShard } from '../core/bus.js';
import { createLogger } from '../core/logger.js';
import { ErrorRegistry, type ErrorTable } from '../core/errors.js';
import { ShardHost } from './shard-host.js';
import type { ShardPluginMain } from './shard-api.js';

export interface ShardPluginRef {
  name: string;
  /** URL of the shard half's module; undefined for a plugin with an acceptor half only. */
  shardUrl: string | undefined;
  config: Record<string, unknown>;
  errors: ErrorTable | undefined;
  builtIn: boolean;
  /**
   * The symbol-keyed channel kinds its acceptor half declared: the only ones its shard half may produce. null on an
   * ingest node, where acceptor halves do not run (the gateways refuse undeclared channels before they reach it).
   */
  kinds: string[] | null;
  /** Of those, the kinds declared `conflate` (every frame the whole state); null on an ingest node. */
  latestKinds: string[] | null;
}

export interface ShardWorkerData {
  shardId: number;
  config: Config;
  plugins: ShardPluginRef[];
  /** Shared with the acceptor (CREDIT slots): it counts the frame batches it took in. */
  credit?: Int32Array;
}

const data = workerData as ShardWorkerData;
const port = parentPort!;
const log = createLogger(data.config.log.level, { shard: data.shardId });
const post = (msg: FromShard, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer ?? []);
// Every plugin's codes, so that a coded error thrown in this thread crosses to the client as it was thrown.
const errors = new ErrorRegistry();
for (const p of data.plugins) if (p.errors) errors.register(p.name, p.errors, p.builtIn);
const latestKinds = data.plugins.flatMap((p) => p.latestKinds ?? []);
const host = new ShardHost({ shardId: data.shardId, config: data.config, log, errors, post, credit: data.credit, latestKinds });

// A plugin's asynchronous throw must not take the shard's books and connections down with it.
process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception in shard (contained)'));
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection in shard (contained)'));

let loaded = true;
for (const p of data.plugins) {
  if (!p.shardUrl) continue;
  try {
    const mod = (await import(p.shardUrl)) as { default?: ShardPluginMain };
    if (typeof mod.default !== 'function') throw new Error(`${p.shardUrl} has no default export function (export default function (api: ShardApi) { … })`);
    await mod.default(host.apiFor(p.name, p.config, p.kinds));
  } catch (err) {
    // The acceptor stops the start and names the plugin; the thread ends once it has said so.
    post({ t: 'pluginFailed', shard: data.shardId, plugin: p.name, message: err instanceof Error ? err.message : String(err) });
    loaded = false;
    break;
  }
}
// The plugins set up before the one that failed are torn down as at any stop.
if (!loaded) await host.stop();

if (loaded) {
  port.on('message', (msg: ToShard) => {
    switch (msg.t) {
      case 'symbols':
        host.setSymbols(msg.symbols);
        break;
      case 'open':
        host.open(msg.channel, msg.seq, msg.stale ?? false);
        break;
      case 'close':
        host.close(msg.channel);
        break;
      case 'ask':
        host.ask(msg.id, msg.plugin, msg.question, msg.params, msg.symbol);
        break;
      case 'credit':
        host.resume();
        break;
      case 'release':
        host.release(msg.partitions, msg.of);
        break;
      case 'stop':
        void host.stop().then(() => {
          post({ t: 'stopped', shard: data.shardId });
          port.close();
        });
        break;
    }
  });
  host.start();
  post({ t: 'ready', shard: data.shardId });
} else {
  port.close();
}
