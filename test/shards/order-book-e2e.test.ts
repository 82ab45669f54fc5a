// End to end against the simulated exchange: the local book equals the exchange's; an injected gap goes stale → live.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { startStack } from '../helpers/stack.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

const plugin = fileURLToPath(new URL('../fixtures/bookcheck-plugin/index.js', import.meta.url));

t.test('local book from snapshot + diffs equals the exchange\'s book; a sequence gap resyncs it', async (t) => {
  const { wsUrl, sim } = await startStack(t, { config: { plugins: ['market', { name: 'bookcheck', path: plugin }] }, sim: { recordBookTop: 20 } });
  const market = sim.market('BTCUSDT')!;
  const c = await TestClient.connect(wsUrl);
  c.subscribe('depth:BTCUSDT', 'bookcheck:BTCUSDT', 'depth:BTCUSDT:5');
  const check = (f: Frame) => {
    const want = market.bookHistory.get(f.data.id);
    return want !== undefined && JSON.stringify(want) === JSON.stringify({ bids: f.data.bids, asks: f.data.asks });
  };
  const five = await c.next((f) => f.type === 'depth' && f.channel === 'depth:BTCUSDT:5');
  t.equal(five.data.bids.length, 5, 'depth:SYM:5 has 5 levels a side');
  let matched = 0;
  while (matched < 20) {
    const f = await c.next((x) => x.type === 'bookcheck');
    t.ok(check(f), `book at update ${f.data.id} equals the exchange's`);
    matched++;
  }
  sim.skipSequence('BTCUSDT', 7);
  const stale = await c.next((f) => f.type === 'status' && f.channel === 'depth:BTCUSDT');
  t.equal(stale.data.state, 'stale', 'subscribers told the book is stale');
  const live = await c.next((f) => f.type === 'status' && f.channel === 'depth:BTCUSDT' && f.data.state === 'live');
  const between = c.frames.slice(c.indexOf(stale) + 1, c.indexOf(live)).filter((f) => f.type === 'depth' && f.channel === 'depth:BTCUSDT');
  t.equal(between.length, 0, 'no depth frame published from a book built across the gap');
  let after = 0;
  while (after < 10) {
    const f = await c.next((x) => x.type === 'bookcheck' && c.indexOf(x) > c.indexOf(live));
    t.ok(check(f), `after resync: book at update ${f.data.id} equals the exchange's`);
    after++;
  }
  await c.next((f) => f.type === 'depth' && f.channel === 'depth:BTCUSDT' && c.indexOf(f) > c.indexOf(live));
  c.subscribe('depth:BTCUSDT:7');
  t.equal((await c.next((f) => f.type === 'error')).data.code, 'TG_ERR_INVALID_ARGUMENT');
});
