// Both roles in one process (cluster.role: both) over the real NATS server: the gateway reaches its own ingest half
// through NATS like any other gateway, REST questions cross as requests, and an ingest node that goes away and
// another that comes make channels stale, then live again, without a restart.
import t from 'tap';
import { SimExchange } from '../../../sim/exchange.js';
import { TickgateServer } from '../../../core/server.js';
import { IngestNode } from '../../../core/cluster/ingest-node.js';
import { createLogger } from '../../../core/logger.js';
import { validateConfig } from '../../../core/config.js';
import { TestClient } from '../../helpers/ws-client.js';
import { clusterPrefix, getJson, natsForTests, until } from '../../helpers/cluster.js';

const nats = await natsForTests();
const skip = 'skip' in nats ? nats.skip : false;
if (skip) t.comment(`cluster tests skipped: ${skip}`);

t.test('both roles in one process: frames, REST questions and a replaced ingest node, all through NATS', { skip }, async (t) => {
  const natsUrl = 'url' in nats ? nats.url : '';
  const sim = await new SimExchange({ port: 0, tickerIntervalMs: 200, klineIntervalMs: 200 }).start();
  t.teardown(() => sim.close());
  const prefix = clusterPrefix(t, natsUrl);
  const config = validateConfig({
    plugins: ['market'],
    shards: 2,
    server: { host: '127.0.0.1', port: 0 },
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    upstream: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, heartbeatStream: '', unsubscribeGraceMs: 0 },
    cluster: { natsUrl, subjectPrefix: prefix, nodeName: 'both-1', partitions: 8 },
  }, 'test');
  t.equal(config.cluster.role, 'both', 'with a NATS URL and no role, a node runs both');
  const log = createLogger(config.log.level);
  let ingest = await IngestNode.start(config, log);
  const server = await TickgateServer.start(config, log);
  t.teardown(async () => {
    await server.close();
    await ingest.stop();
  });
  const http = `http://127.0.0.1:${server.port}`;
  await until(async () => {
    const { body } = await getJson(`${http}/health`);
    return body.cluster.partitionsOwned === 8 && body.cluster.ingest.length === 1 && body.upstream.symbolsLoaded ? true : undefined;
  }, 'every partition owned, the ingest node heard, the symbol list loaded');
  const { body: health } = await getJson(`${http}/health`);
  t.equal(health.role, 'both');
  t.same(health.cluster.ingest.map((i: { node: string }) => i.node), ['both-1']);
  t.same(ingest.status().partitions, [0, 1, 2, 3, 4, 5, 6, 7], 'the ingest half owns every partition');

  const metrics = await (await fetch(`${http}/metrics`)).text();
  t.match(metrics, /^tickgate_cluster_nats_connected 1$/m, 'metrics: connected to NATS');
  t.match(metrics, /^tickgate_cluster_partitions\{owned="true"\} 8$/m, 'metrics: every partition served');
  t.match(metrics, /^tickgate_cluster_ingest_nodes 1$/m, 'metrics: one ingest node');

  const ticker = await getJson(`${http}/api/v1/market/ticker/BTCUSDT`);
  t.equal(ticker.status, 200, 'a REST question crosses NATS to the symbol\'s shard and back');
  t.equal(ticker.body.data.symbol, 'BTCUSDT');
  const bad = await getJson(`${http}/api/v1/market/klines/BTCUSDT?interval=7m`);
  t.equal(bad.body.error.code, 'TG_ERR_INVALID_INTERVAL', 'coded errors answer as in one process');

  const client = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`);
  t.teardown(() => client.close());
  client.subscribe('price:BTCUSDT', 'trades:BTCUSDT');
  await client.next((f) => f.type === 'price');
  await client.next((f) => f.type === 'trade');

  // The ingest half stops (its partitions are given up): stale, and REST answers 503, until another node serves them.
  await ingest.stop();
  await client.next((f) => f.type === 'status' && f.channel === 'price:BTCUSDT' && f.data.state === 'stale');
  const unavailable = await getJson(`${http}/api/v1/market/ticker/BTCUSDT`);
  t.equal(unavailable.status, 503, 'no ingest node: REST answers 503');
  t.equal(unavailable.body.error.code, 'TG_ERR_DATA_UNAVAILABLE');
  const lonely = await until(async () => {
    const h = await getJson(`${http}/health`);
    return h.status === 503 ? h.body : undefined;
  }, 'health 503 without an ingest node');
  t.match(lonely.problems.join(' '), /no ingest node/);

  ingest = await IngestNode.start({ ...config, cluster: { ...config.cluster, nodeName: 'both-2' } }, log);
  await client.next((f) => f.type === 'status' && f.channel === 'price:BTCUSDT' && f.data.state === 'live', 15_000);
  const before = client.frames.filter((f) => f.channel === 'price:BTCUSDT' && typeof f.seq === 'number').map((f) => f.seq as number);
  const next = await client.next((f) => f.type === 'price' && (f.seq as number) > Math.max(...before));
  t.ok(next, 'price frames resume from the new ingest node, numbering on');
  const all = client.frames.filter((f) => f.channel === 'price:BTCUSDT' && typeof f.seq === 'number').map((f) => f.seq as number);
  t.ok(all.every((s, i) => i === 0 || s > all[i - 1]!), 'seq never repeats');
  const stats = await getJson(`${http}/api/v1/ws/stats`);
  t.equal(stats.body.data.cluster.partitionsOwned, 8);
});
