// `npm run stripe:sim`: the simulated Stripe on its own, for running tickgate's payments offline (STRIPE_API_BASE).
import { parseArgs } from 'node:util';
import { StripeSim } from './stripe-sim.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '12111' },
    'secret-key': { type: 'string', default: 'sk_test_tickgate_sim' },
    price: { type: 'string', multiple: true, default: ['price_pro_monthly:2000'] },
    'webhook-url': { type: 'string', default: 'http://127.0.0.1:3000/api/v1/payments/webhook' },
    'webhook-secret': { type: 'string', default: 'whsec_tickgate_sim' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`Usage: npm run stripe:sim -- [--host 127.0.0.1] [--port 12111] [--secret-key sk_test_tickgate_sim]
       [--price price_pro_monthly:2000]... [--webhook-url http://127.0.0.1:3000/api/v1/payments/webhook]
       [--webhook-secret whsec_tickgate_sim]
Serves the Stripe API endpoints tickgate calls at http://HOST:PORT/v1/..., checkout and billing-portal pages to click
through, and delivers signed webhook events (with retries) to --webhook-url. Controls for renewals and failures:
POST /_sim/subscriptions/:id/{renew,fail-payment,cancel}; deliveries so far: GET /_sim/deliveries.
`);
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`stripe:sim: --port must be a port number, got ${values.port}\n`);
  process.exit(2);
}
const prices = values.price!.map((spec) => {
  const [id, amount = '2000'] = spec.split(':');
  if (!id || !/^price_[A-Za-z0-9_]+$/.test(id) || !/^\d+$/.test(amount)) {
    process.stderr.write(`stripe:sim: --price takes price_<id>[:<amount in cents>], got ${spec}\n`);
    process.exit(2);
  }
  return { id, unitAmount: Number(amount) };
});
const sim = await new StripeSim({
  host: values.host!,
  port,
  secretKey: values['secret-key']!,
  prices,
  webhooks: values['webhook-url'] ? [{ url: values['webhook-url'], secret: values['webhook-secret']! }] : [],
}).start();
process.stdout.write(`simulated Stripe: ${sim.url}  (webhooks to ${values['webhook-url'] || 'nowhere'})
Run tickgate with:
  STRIPE_API_BASE=${sim.url} STRIPE_SECRET_KEY=${values['secret-key']} STRIPE_WEBHOOK_SECRET=${values['webhook-secret']} \\
  STRIPE_PRICE_PRO=${prices[0]!.id} npm start
`);
const stop = () => void sim.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
