// Configuration: defaults, the shipped config.yaml, environment overrides, validation messages naming the key.
import t from 'tap';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { applyEnv, loadConfig, validateConfig, ConfigError, PACKAGE_ROOT } from '../../core/config.js';

t.test('the shipped config.yaml is valid and equals the built-in defaults', async (t) => {
  const shipped = loadConfig({ file: join(PACKAGE_ROOT, 'config.yaml'), env: {} });
  const defaults = validateConfig({}, 'defaults');
  // The shipped plans are written out in config.yaml (people edit them there); they are the payments plugin's own
  // defaults, which its schema fills in when the entry has no config.
  const { paymentsConfigSchema } = await import('../../plugins/payments/config.js');
  const payments = (c: typeof shipped) => paymentsConfigSchema.parse(c.plugins.find((p) => p.name === 'payments')!.config);
  t.same(payments(shipped), payments(defaults), 'the shipped plans are the payments plugin\'s defaults');
  const withoutPlans = (c: typeof shipped) => ({ ...c, source: '', plugins: c.plugins.map((p) => (p.name === 'payments' ? { ...p, config: {} } : p)) });
  t.same(withoutPlans(shipped), withoutPlans(defaults), 'config.yaml documents exactly the defaults');
  t.equal(shipped.server.port, 3000);
  t.equal(shipped.limits.maxChannelsPerClient, 50);
  t.equal(shipped.upstream.wsUrl, 'wss://stream.binance.com:9443');
  t.same(shipped.plugins.map((p) => p.name), ['market', 'db', 'users', 'auth', 'signals', 'payments', 'trading', 'binance-relay', 'dashboard'], 'market data, accounts, signals, payments, paper trading, the Binance relay and the dashboard');
  t.equal(shipped.shards, Math.max(1, availableParallelism() - 1), 'shards: auto = cores - 1, at least 1');
});

t.test('environment overrides: short names and TICKGATE__SECTION__KEY, typed as YAML scalars', async (t) => {
  const c = loadConfig({
    file: join(PACKAGE_ROOT, 'config.yaml'),
    env: { PORT: '3100', SHARDS: '3', LOG_LEVEL: 'warn', BINANCE_WS_URL: 'ws://127.0.0.1:9443', BINANCE_REST_URL: 'http://127.0.0.1:9443', TICKGATE__LIMITS__MAX_CHANNELS_PER_CLIENT: '100', TICKGATE__UPSTREAM__STALE_AFTER_MS: '2000', UNRELATED: 'x' },
  });
  t.equal(c.server.port, 3100);
  t.equal(c.shards, 3);
  t.equal(c.log.level, 'warn');
  t.equal(c.upstream.wsUrl, 'ws://127.0.0.1:9443');
  t.equal(c.upstream.restUrl, 'http://127.0.0.1:9443');
  t.equal(c.limits.maxChannelsPerClient, 100);
  t.equal(c.upstream.staleAfterMs, 2000);
  t.match(c.source, /env .*PORT/);
  t.same(applyEnv({ a: 1 }, { SHARDS: 'auto' }).config, { a: 1, shards: 'auto' });
});

t.test('plugin settings from the environment: DATABASE_URL, JWT_SECRET, TICKGATE__PLUGINS__<PLUGIN>__<KEY>', async (t) => {
  const c = loadConfig({
    file: join(PACKAGE_ROOT, 'config.yaml'),
    env: {
      DATABASE_URL: 'postgres://u:p@db:5432/tg',
      JWT_SECRET: '12345678901234567890123456789012345',
      TICKGATE_DATA_DIR: '/var/lib/tickgate',
      TICKGATE__PLUGINS__AUTH__REGISTRATION: 'closed',
      TICKGATE__PLUGINS__AUTH__LIMITS__LOGINS_PER_IP_PER_MINUTE: '5',
      TICKGATE__PLUGINS__BILLING__SECRET_KEY: 'sk_test_x',
    },
  });
  const byName = Object.fromEntries(c.plugins.map((p) => [p.name, p.config]));
  t.same(byName.db, { url: 'postgres://u:p@db:5432/tg', dataDir: '/var/lib/tickgate' });
  t.same(byName.auth, { jwtSecret: '12345678901234567890123456789012345', registration: 'closed', limits: { loginsPerIpPerMinute: 5 } }, 'a secret of digits stays a string; other values are YAML scalars');
  t.same(byName.market, {}, 'other plugins are untouched');
  t.match(c.source, /\(ignored: TICKGATE__PLUGINS__BILLING__SECRET_KEY \(no plugin "billing" is listed\)\)/);
  t.notMatch(c.source, /sk_test_x|12345678901234567890/, 'values never reach the source label');
  const plain = validateConfig(applyEnv({}, { DATABASE_URL: 'postgres://x@h/d' }).config, 'test');
  t.same(plain.plugins.find((p) => p.name === 'db')?.config, { url: 'postgres://x@h/d' }, 'the built-in default plugin list takes them too');
});

t.test('invalid values are refused with the key named', async (t) => {
  const bad = (input: unknown, key: RegExp) => {
    const err = (() => {
      try {
        validateConfig(input, 'test');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    t.ok(err instanceof ConfigError, `refused: ${JSON.stringify(input)}`);
    t.match((err as Error).message, key);
  };
  bad({ server: { port: 70000 } }, /server\.port/);
  bad({ server: { port: 'x' } }, /server\.port/);
  bad({ shards: 0 }, /shards/);
  bad({ shards: 'many' }, /shards/);
  bad({ upstream: { wsUrl: 'http://example' } }, /upstream\.wsUrl: must be a URL starting with ws:\/\/ or wss:\/\//);
  bad({ upstream: { controlMessagesPerSecond: 5 } }, /upstream\.controlMessagesPerSecond/);
  bad({ limits: { idleTimeoutSeconds: 4 } }, /limits\.idleTimeoutSeconds/);
  bad({ log: { level: 'loud' } }, /log\.level/);
  bad({ surprise: true }, /surprise/);
  bad({ upstream: { heartbeatStream: 'btcusdt@foo' } }, /upstream\.heartbeatStream/);
  bad({ upstream: { reconnectBaseMs: 60_000, reconnectMaxMs: 30_000 } }, /reconnectBaseMs must not exceed/);
  bad({ plugins: ['market', 'market'] }, /listed twice/);
  bad({ plugins: [{ name: 'x', nope: 1 }] }, /plugins\.0/);
});

t.test('plugin entries: names, relative paths resolved from the config file, disabled entries skipped', async (t) => {
  const c = validateConfig({ plugins: ['market', { name: 'vwap', path: './extra/vwap.js', config: { window: 5 } }, { name: 'off', enabled: false }] }, 'test', '/etc/tickgate');
  t.same(c.plugins, [
    { name: 'market', path: undefined, config: {} },
    { name: 'vwap', path: '/etc/tickgate/extra/vwap.js', config: { window: 5 } },
  ]);
});

t.test('cluster roles: standalone without NATS, both with a NATS URL, ROLE and NATS_URL from the environment, clear errors', async (t) => {
  t.equal(validateConfig({}, 'test').cluster.role, 'standalone', 'no NATS URL: standalone');
  const both = validateConfig({ cluster: { natsUrl: 'nats://127.0.0.1:4222, nats://10.0.0.2:4222' } }, 'test');
  t.equal(both.cluster.role, 'both', 'a NATS URL and no role: both roles in one process');
  t.same(both.cluster.natsServers, ['nats://127.0.0.1:4222', 'nats://10.0.0.2:4222'], 'servers split on commas');
  t.match(both.cluster.nodeName, /^[A-Za-z0-9_-]+-\d+$/, 'node name: host and process id');
  const env = loadConfig({ file: join(PACKAGE_ROOT, 'config.yaml'), env: { ROLE: 'gateway', NATS_URL: 'nats://nats.internal:4222' } });
  t.equal(env.cluster.role, 'gateway');
  t.same(env.cluster.natsServers, ['nats://nats.internal:4222']);
  t.throws(() => validateConfig({ cluster: { role: 'ingest' } }, 'test'), { name: 'ConfigError', message: /cluster.role: "ingest" runs on NATS: set cluster.natsUrl \(or NATS_URL\)/ });
  t.throws(() => validateConfig({ cluster: { role: 'standalone', natsUrl: 'nats://127.0.0.1:4222' } }, 'test'), { message: /a standalone node does not use NATS/ });
  t.throws(() => validateConfig({ cluster: { natsUrl: 'http://127.0.0.1:4222' } }, 'test'), { message: /cluster.natsUrl: must be one or more NATS URLs/ });
  t.throws(() => validateConfig({ cluster: { role: 'leader', natsUrl: 'nats://x:1' } }, 'test'), { message: /cluster.role/ });
  t.throws(() => validateConfig({ cluster: { subjectPrefix: 'a.b' } }, 'test'), { message: /cluster.subjectPrefix/ });
});
