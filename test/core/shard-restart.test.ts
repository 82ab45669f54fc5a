// A shard that dies restarts after a delay that doubles with each failure, and starts over once it has run stably.
import t from 'tap';
import { Writable } from 'node:stream';
import pino from 'pino';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { ThreadShardPool } from '../../core/shard-pool.js';
import { ErrorRegistry } from '../../core/errors.js';
import { SimExchange } from '../../sim/exchange.js';
import { testConfig, until } from '../helpers/stack.js';

t.test('restart delays: 250 ms, then 500 ms for a crash right after, then 250 ms again after a stable run', async (t) => {
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  const lines: Array<{ msg?: string; restartInMs?: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as { msg?: string; restartInMs?: number });
      cb();
    },
  });
  let ups = 0;
  const pool = new ThreadShardPool({
    config: testConfig({ shards: 1 }, { wsUrl: sim.wsUrl, restUrl: sim.restUrl }),
    plugins: [{ name: 'chaos', shardUrl: pathToFileURL(fileURLToPath(new URL('../fixtures/chaos-plugin/shard.js', import.meta.url))).href, config: {}, errors: undefined, builtIn: false, kinds: [], latestKinds: [] }],
    log: pino({ level: 'info' }, sink),
    events: { frames() {}, stats() {}, symbols() {}, symbolsFailed() {}, report() {}, down() {}, ready() {}, up: () => ups++ },
    errors: new ErrorRegistry(),
    stableAfterMs: 2000,
  });
  t.teardown(() => pool.stop());
  await pool.start();
  const crash = async (n: number) => {
    await pool.ask(0, 'chaos', 'crash', {}, 'BTCUSDT', 5000);
    await until(() => ups === n, `restart ${n}`, 20_000);
  };
  await crash(1);
  await crash(2);
  // Stable for longer than stableAfterMs: the next crash is a first failure again.
  await new Promise((r) => setTimeout(r, 2200));
  await crash(3);
  const delays = lines.filter((l) => l.msg === 'shard worker exited unexpectedly: restarting it').map((l) => l.restartInMs);
  t.same(delays, [250, 500, 250]);
  t.equal(pool.info()[0]!.restarts, 3, 'every restart still counts for health and metrics');
});
