// `npm run demo`: the simulated exchange in-process and tickgate pointed at it, fully offline. `npm run demo:payments`
// adds the simulated Stripe, with payments on.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError, runtimeEnv } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { TickgateServer } from '../core/server.js';
import { installShutdown } from '../core/shutdown.js';
import { EXIT_CODES, exitCodeFor } from '../core/cli.js';
import { SimExchange } from './exchange.js';
import { StripeSim } from './stripe/stripe-sim.js';

const { values: args } = parseArgs({ options: { payments: { type: 'boolean', default: false } } });

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
let stripe: StripeSim | undefined;
const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;
if (args.payments) {
  const secretKey = `sk_test_${randomBytes(24).toString('base64url')}`;
  stripe = await new StripeSim({ secretKey, prices: [{ id: 'price_pro_monthly', unitAmount: 2000, nickname: 'tickgate Pro, monthly' }] }).start();
  log.info({ url: stripe.url }, 'simulated Stripe started');
  let entry = config.plugins.find((p) => p.name === 'payments');
  if (!entry) config.plugins.push((entry = { name: 'payments', path: undefined, config: {} }));
  // Checkout and the portal return to the simulated Stripe's own page of the session: the demo has no website.
  entry.config = {
    ...entry.config, secretKey, webhookSecret, apiBase: stripe.url, prices: { pro: 'price_pro_monthly' },
    successUrl: `${stripe.url}/checkout/{CHECKOUT_SESSION_ID}`, cancelUrl: `${stripe.url}/`, portalReturnUrl: `${stripe.url}/`,
  };
}
let server: TickgateServer;
try {
  server = await TickgateServer.start(config, root.child({ component: 'acceptor' }));
} catch (err) {
  log.fatal(`tickgate cannot start: ${err instanceof Error ? err.message : String(err)}`);
  await sim.close();
  await stripe?.close();
  process.exit(exitCodeFor(err));
}
const shown = config.server.host === '0.0.0.0' ? 'localhost' : config.server.host;
const base = `http://${shown}:${server.port}`;
stripe?.addWebhook(`http://127.0.0.1:${server.port}/api/v1/payments/webhook`, webhookSecret);
process.stdout.write(`
tickgate demo is running against the simulated exchange (offline).
  WebSocket: ws://${shown}:${server.port}/ws
  Stats:     http://${shown}:${server.port}/api/v1/ws/stats
  Health:    http://${shown}:${server.port}/health
Try: npx wscat -c ws://${shown}:${server.port}/ws   then   {"type":"subscribe","channels":["price:BTCUSDT"]}
Symbols: BTCUSDT ETHUSDT BNBUSDT SOLUSDT XRPUSDT DOGEUSDT ADAUSDT AVAXUSDT and more. Ctrl-C stops.
${config.plugins.some((p) => p.name === 'signals') ? `Signals${stripe ? ' (pro plan)' : ''}: {"type":"subscribe","channels":["signals:BTCUSDT"]}, or curl http://${shown}:${server.port}/api/v1/signals/BTCUSDT
  (the shipped model was trained on this simulator's data only: README, "Signals").
` : ''}${config.plugins.some((p) => p.name === 'auth') ? `Accounts: POST http://${shown}:${server.port}/api/v1/auth/register {"email","password"}, then
  ws://${shown}:${server.port}/ws?token=<accessToken> and subscribe to account:<your user id> (README, "Accounts").
` : ''}${config.plugins.some((p) => p.name === 'trading') ? `Paper trading (README, "Paper trading"): with an access token in TOKEN,
  curl -s -X POST ${base}/api/v1/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"0.01"}'
  and watch orders:<your user id> and portfolio:<your user id> on ws://${shown}:${server.port}/ws?token=$TOKEN
` : ''}${stripe ? `Payments are on, against the simulated Stripe at ${stripe.url} (README, "Payments"). signals: and depth:SYM:100
  are pro-only. With an access token from register or login in TOKEN:
  curl -s -X POST ${base}/api/v1/payments/checkout -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"plan":"pro"}'
  then open data.url and press Pay (or: curl -X POST <data.url>/pay). Cancel: POST ${base}/api/v1/payments/portal, open its url.
` : `Payments are off (every channel is open): npm run demo:payments runs them against a simulated Stripe.
`}
`);
installShutdown(log, async () => {
  await server.close();
  await sim.close();
  await stripe?.close();
});
