// Shard worker entry: loads the plugins' shard halves into a ShardHost and speaks the bus protocol with the acceptor.
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../core/config.js';
import type { FromShard, ToShard } from '../core/bus.js';
import { createLogger } from '../core/logger.js';
import { ShardHost } from './shard-host.js';
import type { ShardPluginMain } from './shard-api.js';

export interface ShardWorkerData {
  shardId: number;
  config: Config;
  plugins: Array<{ name: string; shardUrl: string; config: Record<string, unknown> }>;
}

const data = workerData as ShardWorkerData;
const port = parentPort!;
const log = createLogger(data.config.log.level, { shard: data.shardId });
const post = (msg: FromShard, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer ?? []);
const host = new ShardHost({ shardId: data.shardId, config: data.config, log, post });

// A plugin's asynchronous throw must not take the shard's books and connections down with it.
process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception in shard (contained)'));
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection in shard (contained)'));

for (const p of data.plugins) {
  const mod = (await import(p.shardUrl)) as { default?: ShardPluginMain };
  if (typeof mod.default !== 'function') throw new Error(`plugin "${p.name}": ${p.shardUrl} has no default export function`);
  await mod.default(host.apiFor(p.name, p.config));
}

port.on('message', (msg: ToShard) => {
  switch (msg.t) {
    case 'open':
      host.open(msg.channel, msg.seq, msg.stale ?? false);
      break;
    case 'close':
      host.close(msg.channel);
      break;
    case 'ask':
      host.ask(msg.id, msg.plugin, msg.question, msg.params);
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
