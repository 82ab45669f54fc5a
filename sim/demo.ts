// `npm run demo`: the simulated exchange in-process and tickgate pointed at it, fully offline.
import { loadConfig, ConfigError, runtimeEnv } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { TickgateServer } from '../core/server.js';
import { installShutdown } from '../core/shutdown.js';
import { EXIT_CODES, exitCodeFor } from '../core/cli.js';
import { SimExchange } from './exchange.js';

let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`tickgate demo: ${err.message}\n`);
  process.exit(EXIT_CODES.CONFIG);
}
const root = createLogger(config.log.level);
const log = root.child({ component: 'demo' });
const sim = await new SimExchange({ port: runtimeEnv().simPort ?? 0 }).start();
log.info({ ws: sim.wsUrl, rest: sim.restUrl }, 'simulated exchange started');
config.upstream.wsUrl = sim.wsUrl;
config.upstream.restUrl = sim.restUrl;
let server: TickgateServer;
try {
  server = await TickgateServer.start(config, root.child({ component: 'acceptor' }));
} catch (err) {
  log.fatal(`tickgate cannot start: ${err instanceof Error ? err.message : String(err)}`);
  await sim.close();
  process.exit(exitCodeFor(err));
}
const shown = config.server.host === '0.0.0.0' ? 'localhost' : config.server.host;
process.stdout.write(`
tickgate demo is running against the simulated exchange (offline).
  WebSocket: ws://${shown}:${server.port}/ws
  Stats:     http://${shown}:${server.port}/api/v1/ws/stats
  Health:    http://${shown}:${server.port}/health
Try: npx wscat -c ws://${shown}:${server.port}/ws   then   {"type":"subscribe","channels":["price:BTCUSDT"]}
Symbols: BTCUSDT ETHUSDT BNBUSDT SOLUSDT XRPUSDT DOGEUSDT ADAUSDT AVAXUSDT and more. Ctrl-C stops.
${config.plugins.some((p) => p.name === 'signals') ? `Signals: {"type":"subscribe","channels":["signals:BTCUSDT"]}, or curl http://${shown}:${server.port}/api/v1/signals/BTCUSDT
  (the shipped model was trained on this simulator's data only: README, "Signals").
` : ''}${config.plugins.some((p) => p.name === 'auth') ? `Accounts: POST http://${shown}:${server.port}/api/v1/auth/register {"email","password"}, then
  ws://${shown}:${server.port}/ws?token=<accessToken> and subscribe to account:<your user id> (README, "Accounts").
` : ''}

`);
installShutdown(log, async () => {
  await server.close();
  await sim.close();
});
