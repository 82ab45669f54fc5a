// Conflated and delta channels in a cluster: a late joiner on another gateway gets the delta channel's whole book as its
// snapshot (the ingest node keeps the state, not the last change), and conflated channels cross NATS numbered as one.
import t from 'tap';
import { SimExchange } from '../../../sim/exchange.js';
import { DepthBook } from '../../../client/depth-book.js';
import { TestClient, type Frame } from '../../helpers/ws-client.js';
import { clusterPrefix, getJson, natsForTests, startNode, until, type ClusterNode } from '../../helpers/cluster.js';

t.setTimeout(180_000);
const nats = await natsForTests();
const skip = 'skip' in nats ? nats.skip : false;
const natsUrl = 'url' in nats ? nats.url : '';
if (skip) t.comment(`cluster tests skipped: ${skip}`);

async function ready(gw: ClusterNode): Promise<void> {
  await until(async () => {
    const { body } = await getJson(`http://127.0.0.1:${gw.port}/health`);
    return body.cluster?.ingest.length > 0 && body.upstream.symbolsLoaded && body.cluster.partitionsOwned === body.cluster.partitions ? true : undefined;
  }, `${gw.name} sees the ingest node and the symbol list`);
}

t.test('depthDelta and @RATE channels across gateways', { skip }, async (t) => {
  const sim = await new SimExchange({ port: 0, tickerIntervalMs: 50, depthIntervalMs: 30 }).start();
  t.teardown(() => sim.close());
  const common = { natsUrl, prefix: clusterPrefix(t, natsUrl), upstream: { wsUrl: sim.wsUrl, restUrl: sim.restUrl } };
  await startNode(t, { ...common, role: 'ingest', name: 'ingest-a' });
  const [b, c] = await Promise.all([startNode(t, { ...common, role: 'gateway', name: 'gw-b' }), startNode(t, { ...common, role: 'gateway', name: 'gw-c' })]);
  await Promise.all([ready(b), ready(c)]);
  const onB = await TestClient.connect(`ws://127.0.0.1:${b.port}/ws`);
  const onC = await TestClient.connect(`ws://127.0.0.1:${c.port}/ws`);
  t.teardown(() => {
    onB.close();
    onC.close();
  });
  const ch = 'depthDelta:BTCUSDT';
  onB.subscribe(ch, 'price:BTCUSDT@500ms');
  const book = new DepthBook();
  const held = new Map<number, string>();
  const take = (f: Frame) => {
    t.ok(book.apply(f as never), `B: frame ${String(f.seq)} follows`);
    held.set(f.seq as number, JSON.stringify([book.bids, book.asks]));
  };
  take(await onB.next((f) => f.channel === ch && f.type === 'depth'));
  for (let i = 0; i < 10; i++) take(await onB.next((f) => f.channel === ch && f.type === 'depthDelta'));
  onC.subscribe(ch);
  const snap = await onC.next((f) => f.channel === ch && f.snapshot === true);
  t.equal(snap.type, 'depth', 'the late joiner on gateway C starts from the whole book');
  while (!held.has(snap.seq as number)) take(await onB.next((f) => f.channel === ch && f.type === 'depthDelta'));
  t.equal(JSON.stringify([snap.data.bids, snap.data.asks]), held.get(snap.seq as number), 'and it is the book B holds at that seq');
  const nextOnC = await onC.next((f) => f.channel === ch && f.type === 'depthDelta' && (f.seq as number) > (snap.seq as number));
  t.equal(nextOnC.seq, (snap.seq as number) + 1, 'C\'s changes follow its snapshot without a gap');
  const slow: Frame[] = [];
  while (slow.length < 4) slow.push(await onB.next((f) => f.channel === 'price:BTCUSDT@500ms' && f.type === 'price'));
  t.same(slow.map((f) => f.seq), [slow[0]!.seq, (slow[0]!.seq as number) + 1, (slow[0]!.seq as number) + 2, (slow[0]!.seq as number) + 3], 'the conflated channel is numbered without gaps');
  const gaps = slow.slice(1).map((f, i) => Date.parse(f.timestamp) - Date.parse(slow[i]!.timestamp));
  t.ok(gaps.every((g) => g >= 500), `at most one frame per 500 ms (${gaps.join(', ')})`);
});
