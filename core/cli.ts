// The gateway's command-line start: loads the configuration, starts the server, drains on SIGINT/SIGTERM, reloads
// its TLS certificate on SIGHUP.
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { TickgateServer } from './server.js';
import { NativeBindingError } from './uws-native.js';
import { PluginLoadError } from './plugin-host.js';
import { installShutdown } from './shutdown.js';
import { youngGenerationHint } from './node-flags.js';

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

export async function main(overrides?: Record<string, unknown>): Promise<TickgateServer | undefined> {
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
  const log = createLogger(config.log.level).child({ component: 'acceptor' });
  // SIGHUP: the TLS certificate and key are read again (after a renewal); open connections keep theirs. Installed
  // before the start, so a reload during a slow start does not end the process (Node's default for SIGHUP).
  let started: TickgateServer | undefined;
  process.on('SIGHUP', () => {
    if (started) void started.reloadTls();
    else log.warn('SIGHUP before the gateway finished starting: ignored (send it again once it listens)');
  });
  try {
    const server = await TickgateServer.start(config, log);
    started = server;
    installShutdown(log, () => server.close());
    const hint = youngGenerationHint(process.execArgv, process.env.NODE_OPTIONS);
    if (hint) log.info(hint);
    return server;
  } catch (err) {
    const known = err instanceof NativeBindingError || err instanceof ConfigError || err instanceof PluginLoadError;
    log.fatal({ err: known ? undefined : err }, `tickgate cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = exitCodeFor(err);
    return undefined;
  }
}

/** The exit code for an error that stopped the start. */
export function exitCodeFor(err: unknown): number {
  return err instanceof ConfigError ? EXIT_CODES.CONFIG : err instanceof PluginLoadError ? EXIT_CODES.PLUGIN : EXIT_CODES.FAILED;
}
