// The gateway's command-line start: loads the configuration, starts the server, drains on SIGINT/SIGTERM.
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { TickgateServer } from './server.js';
import { NativeBindingError } from './uws-native.js';
import { PluginLoadError } from './plugin-host.js';
import { installShutdown } from './shutdown.js';
import { youngGenerationHint } from './node-flags.js';

export async function main(overrides?: Record<string, unknown>): Promise<TickgateServer | undefined> {
  let config;
  try {
    config = loadConfig(overrides ? { overrides } : {});
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tickgate: ${err.message}\n`);
      process.exitCode = 2;
      return undefined;
    }
    throw err;
  }
  const log = createLogger(config.log.level).child({ component: 'acceptor' });
  try {
    const server = await TickgateServer.start(config, log);
    installShutdown(log, () => server.close());
    const hint = youngGenerationHint(process.execArgv, process.env.NODE_OPTIONS);
    if (hint) log.info(hint);
    return server;
  } catch (err) {
    const known = err instanceof NativeBindingError || err instanceof ConfigError || err instanceof PluginLoadError;
    log.fatal({ err: known ? undefined : err }, `tickgate cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
    return undefined;
  }
}
