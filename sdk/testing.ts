// `tickgate/testing`: a gateway with your plugins and the simulated exchange on free ports, for a plugin's own tests.
import { validateConfig, type ConfigInput } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { TickgateServer } from '../core/server.js';
import { SimExchange, type SimOptions } from '../sim/exchange.js';

export { SimExchange, type SimOptions };
export { TickgateServer };

export interface TestGatewayOptions {
  /** As in config.yaml: built-in names, or `{ path, name?, config? }` (a relative path is taken from the current directory). */
  plugins: ConfigInput['plugins'];
  /** Any other configuration sections (server, limits, symbols, upstream …), over the test defaults. */
  config?: Omit<ConfigInput, 'plugins'>;
  /** Options of the simulated exchange (rates, symbols). */
  sim?: SimOptions;
  /** pino level of the gateway's logs (default "warn"). */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export interface TestGateway {
  server: TickgateServer;
  sim: SimExchange;
  port: number;
  /** ws://127.0.0.1:PORT/ws */
  wsUrl: string;
  /** http://127.0.0.1:PORT */
  httpUrl: string;
  /** Stops the gateway (running the plugins' teardowns), then the exchange. */
  close(): Promise<void>;
}

/**
 * Starts the simulated exchange and a gateway pointed at it, on 127.0.0.1 and free ports, with one shard; resolves
 * once the exchange's symbol list is loaded, so channels and routes can be used at once.
 */
export async function startTestGateway(opts: TestGatewayOptions): Promise<TestGateway> {
  const sim = await new SimExchange({ port: 0, ...opts.sim }).start();
  const c = (opts.config ?? {}) as Record<string, Record<string, unknown> | undefined>;
  let server: TickgateServer;
  try {
    const config = validateConfig({
      shards: 1,
      ...c,
      server: { host: '127.0.0.1', port: 0, ...c.server },
      log: { level: opts.logLevel ?? 'warn', ...c.log },
      upstream: { ...c.upstream, wsUrl: sim.wsUrl, restUrl: sim.restUrl },
      plugins: opts.plugins,
    }, 'tickgate/testing', process.cwd());
    server = await TickgateServer.start(config, createLogger(config.log.level));
  } catch (err) {
    await sim.close();
    throw err;
  }
  const close = async () => {
    await server.close();
    await sim.close();
  };
  const deadline = Date.now() + 15_000;
  while (!server.symbols.loaded) {
    if (Date.now() > deadline) {
      await close();
      throw new Error('tickgate/testing: the simulated exchange\'s symbol list did not load within 15 s');
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { server, sim, port: server.port, wsUrl: `ws://127.0.0.1:${server.port}/ws`, httpUrl: `http://127.0.0.1:${server.port}`, close };
}
