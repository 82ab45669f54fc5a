// The gateway's command-line start: loads the configuration, starts the server, drains on SIGINT/SIGTERM, reloads
// its TLS certificate on SIGHUP.
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { TickgateServer } from './server.js';
import { NativeBindingError } from './uws-native.js';
import { PluginLoadError } from './plugin-host.js';
import { installShutdown } from './shutdown.js';
import { youngGenerationHint } from './node-flags.js';
import { IngestNode } from './cluster/ingest-node.js';
import { NatsUnavailableError } from './cluster/nats-connection.js';
import { startIngestHealth } from './cluster/ingest-health.js';
import type { Server } from 'node:http';

/** Exit codes of `npm start`, documented in the README. */
export const EXIT_CODES = {
  /** Stopped by SIGINT/SIGTERM after draining. */
  OK: 0,
  /** Could not start (the port is taken, the native binding did not load, a shard did not start) or failed later. */
  FAILED: 1,
  /** config.yaml, an environment override or a plugin's config section is invalid. */
  CONFIG: 2,
  /** A plugin could not be loaded (missing module, bad definition, a name or route clash, its setup threw). */
  PLUGIN: 3,
} as const;

/** What main() started: the gateway (standalone, gateway, both) and the ingest node (ingest, both). */
export interface StartedNode {
  server: TickgateServer | undefined;
  ingest: IngestNode | undefined;
  close(): Promise<void>;
}

export async function main(overrides?: Record<string, unknown>): Promise<StartedNode | undefined> {
  let config;
  try {
    config = loadConfig(overrides ? { overrides } : {});
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tickgate: ${err.message}\n`);
      process.exitCode = EXIT_CODES.CONFIG;
      return undefined;
    }
    throw err;
  }
  const root = createLogger(config.log.level);
  const log = root.child({ component: config.cluster.role === 'ingest' ? 'ingest' : 'acceptor' });
  // SIGHUP: the TLS certificate and key are read again (after a renewal); open connections keep theirs. Installed
  // before the start, so a reload during a slow start does not end the process (Node's default for SIGHUP).
  let started: TickgateServer | undefined;
  process.on('SIGHUP', () => {
    if (started) void started.reloadTls();
    else log.warn('SIGHUP before the gateway finished starting: ignored (send it again once it listens)');
  });
  // SIGINT/SIGTERM are taken from the start on: one that comes while the gateway starts (it creates its embedded
  // database, connects upstream) lets the start finish, then drains and exits as it would later, instead of ending
  // the process half-way with the signal's default action.
  let node: StartedNode | undefined;
  let startDone!: () => void;
  const started$ = new Promise<void>((resolve) => (startDone = resolve));
  installShutdown(log, async () => {
    await started$;
    await node?.close();
  });
  const role = config.cluster.role;
  let ingest: IngestNode | undefined;
  let health: Server | undefined;
  try {
    // Ingest first: with both roles in one process, the gateway finds the partitions served already.
    if (role === 'ingest' || role === 'both') ingest = await IngestNode.start(config, root.child({ component: 'ingest' }));
    if (role === 'ingest') {
      const listening = await startIngestHealth(ingest!, config.server.host, config.server.port);
      health = listening.server;
      log.info({ port: listening.port, node: config.cluster.nodeName }, `tickgate ingest node listening on ${config.server.host}:${listening.port} (/health)`);
    }
    const server = role === 'ingest' ? undefined : await TickgateServer.start(config, log);
    started = server;
    node = {
      server,
      ingest,
      close: async () => {
        await server?.close();
        await ingest?.stop();
        await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
      },
    };
    startDone();
    const hint = youngGenerationHint(process.execArgv, process.env.NODE_OPTIONS);
    if (hint) log.info(hint);
    return node;
  } catch (err) {
    await ingest?.stop().catch(() => undefined);
    health?.close();
    const known = err instanceof NativeBindingError || err instanceof ConfigError || err instanceof PluginLoadError || err instanceof NatsUnavailableError;
    log.fatal({ err: known ? undefined : err }, `tickgate cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = exitCodeFor(err);
    startDone();
    return undefined;
  }
}

/** The exit code for an error that stopped the start. */
export function exitCodeFor(err: unknown): number {
  return err instanceof ConfigError ? EXIT_CODES.CONFIG : err instanceof PluginLoadError ? EXIT_CODES.PLUGIN : EXIT_CODES.FAILED;
}
