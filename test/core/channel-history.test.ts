// Channel history and recovery: a client that resubscribes with `since` gets exactly what it missed, or a snapshot.
import t from 'tap';
import { ChannelHistory, ENTRY_BYTES } from '../../core/channel-history.js';
import { startStack, getJson } from '../helpers/stack.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

const bytes = (s: string) => Buffer.from(s);
const text = (frames: Uint8Array[] | string) => (Array.isArray(frames) ? frames.map((f) => Buffer.from(f).toString()) : frames);

t.test('the ring: frames after a seq, the count cap, a numbering jump, the byte cap and the age cap', async (t) => {
  let now = 1_000;
  const h = new ChannelHistory({ maxFrames: 3, maxAgeMs: 10_000, maxBytes: 1_048_576 }, () => now);
  t.teardown(() => h.close());
  for (let seq = 1; seq <= 5; seq++) h.record('a', seq, bytes(`a${seq}`));
  t.same(text(h.since('a', 2, 5)), ['a3', 'a4', 'a5'], 'the last three are kept');
  t.same(text(h.since('a', 4, 5)), ['a5']);
  t.same(text(h.since('a', 5, 5)), [], 'up to date: nothing missed');
  t.equal(h.since('a', 1, 5), 'expired', 'frame 2 is no longer kept');
  t.equal(h.since('a', 6, 5), 'ahead', 'a seq past the latest is another numbering');
  t.equal(h.since('b', 0, 3), 'expired', 'a channel never kept');
  t.equal(h.since('a', 3, 6), 'expired', 'the ring does not reach the channel\'s latest seq');
  // Numbering jumps (the channel reopened elsewhere in a cluster): the ring starts over, never holed.
  h.record('a', 9, bytes('a9'));
  t.same(text(h.since('a', 8, 9)), ['a9']);
  t.equal(h.since('a', 5, 9), 'expired', 'frames 6..8 were never seen: not recoverable');
  // One frame of 2 bytes kept; the six index entries stay until age or the byte cap evicts them.
  t.same(h.stats(), { channels: 1, frames: 1, bytes: 2 + 6 * ENTRY_BYTES });

  now += 6_000;
  for (let seq = 1; seq <= 2; seq++) h.record('b', seq, bytes(`b${seq}`));
  now += 5_000;
  h.record('b', 3, bytes('b3'));
  t.equal(h.since('a', 8, 9), 'expired', 'a9 is older than maxAgeMs: dropped');
  t.same(text(h.since('b', 0, 3)), ['b1', 'b2', 'b3'], 'b\'s frames are younger');
  t.equal(h.stats().channels, 1, 'a ring left empty is forgotten');

  // Each frame costs its bytes and ENTRY_BYTES: room for two 4-byte frames.
  const cap = 2 * (4 + ENTRY_BYTES) + 50;
  const small = new ChannelHistory({ maxFrames: 100, maxAgeMs: 60_000, maxBytes: cap }, () => now);
  t.teardown(() => small.close());
  small.record('x', 1, bytes('xxxx'));
  small.record('y', 1, bytes('yyyy'));
  small.record('x', 2, bytes('xxxx'));
  t.equal(small.since('x', 0, 2), 'expired', 'the byte cap dropped the oldest frame, x1');
  t.same(text(small.since('x', 1, 2)), ['xxxx']);
  t.same(text(small.since('y', 0, 1)), ['yyyy']);
  t.ok(small.stats().bytes <= cap);

  // Frames the count cap dropped still cost their index entry until it is evicted: the cap holds that too.
  const fast = new ChannelHistory({ maxFrames: 2, maxAgeMs: 3_600_000, maxBytes: 100 * ENTRY_BYTES }, () => now);
  t.teardown(() => fast.close());
  for (let seq = 1; seq <= 10_000; seq++) fast.record('z', seq, bytes('z'));
  t.ok(fast.stats().bytes <= 100 * ENTRY_BYTES, `the index stays within the cap: ${fast.stats().bytes} bytes`);
  t.same(text(fast.since('z', 9_998, 10_000)), ['z', 'z'], 'the newest frames are kept');
});

/** Data frames of one channel a client got, by seq. */
const dataOf = (c: TestClient, channel: string) => c.frames.filter((f) => f.channel === channel && typeof f.seq === 'number' && f.type !== 'status');

t.test('a client that resubscribes with since gets exactly the frames it missed, in order, once, then live ones', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { sim: { tradesPerSecond: 40 } });
  const ch = 'trades:BTCUSDT';
  // The watcher holds the channel open all along and sees every frame.
  const watcher = await TestClient.connect(wsUrl);
  t.teardown(() => watcher.close());
  watcher.subscribe(ch);
  const first = await TestClient.connect(wsUrl);
  const epoch = first.frames[0]!.data.epoch as string;
  t.match(epoch, /^[A-Za-z0-9_-]{8}$/, 'the connected frame names the seq numbering');
  first.subscribe(ch);
  await first.next((f) => f.type === 'trade' && !f.snapshot);
  await first.next((f) => f.type === 'trade' && !f.snapshot);
  const lastSeen = Math.max(...dataOf(first, ch).map((f) => f.seq as number));
  first.close();
  await first.waitClose();
  // Frames go by while the client is away.
  await watcher.next((f) => f.type === 'trade' && (f.seq as number) >= lastSeen + 5);

  const back = await TestClient.connect(wsUrl);
  t.teardown(() => back.close());
  back.send({ type: 'subscribe', channels: [ch], since: { [ch]: lastSeen }, epoch });
  const subscribed = await back.next((f) => f.type === 'subscribed');
  t.equal(subscribed.data.recovered, true);
  t.ok(subscribed.data.missed >= 5, `missed ${subscribed.data.missed} frames`);
  // Then live frames: wait for a few past the recovered ones.
  const recoveredTo = lastSeen + subscribed.data.missed;
  await back.next((f) => f.type === 'trade' && (f.seq as number) >= recoveredTo + 3);
  const got = dataOf(back, ch);
  t.same(got.map((f) => f.seq), got.map((_, i) => lastSeen + 1 + i), 'every seq after the last one seen, once, in order');
  t.ok(got.slice(0, subscribed.data.missed).every((f) => f.recovered === true), 'the missed frames are marked recovered');
  t.ok(got.slice(subscribed.data.missed).every((f) => f.recovered === undefined), 'the live ones are not');
  t.notOk(got.some((f) => f.snapshot), 'no snapshot: the recovered frames bring the client up to date');
  // The recovered frames are the very frames the watcher got live.
  const live = new Map(dataOf(watcher, ch).map((f) => [f.seq, f]));
  for (const f of got.slice(0, subscribed.data.missed)) {
    const { recovered: _r, ...frame } = f;
    t.same(frame, live.get(f.seq), `frame ${f.seq as number} as it was sent live`);
  }
  t.equal(back.frames.indexOf(subscribed) < back.frames.indexOf(got[0]!), true, 'subscribed comes first');

  const health = await getJson(`${httpUrl}/health`);
  t.ok(health.body.history.frames > 0 && health.body.history.bytes > 0, '/health shows what the history keeps');
});

t.test('a client up to date gets no frame; one past the history, from another epoch, or ahead gets a fresh snapshot', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { tradesPerSecond: 40 }, config: { history: { maxFrames: 3 } } });
  const ch = 'trades:ETHUSDT';
  const watcher = await TestClient.connect(wsUrl);
  t.teardown(() => watcher.close());
  const epoch = watcher.frames[0]!.data.epoch as string;
  watcher.subscribe(ch);
  const early = await watcher.next((f) => f.type === 'trade' && !f.snapshot);
  await watcher.next((f) => f.type === 'trade' && (f.seq as number) >= (early.seq as number) + 6);

  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['older than the 3 frames kept', { since: { [ch]: early.seq }, epoch }, 'expired'],
    ['another epoch', { since: { [ch]: early.seq }, epoch: 'AAAAAAAA' }, 'epoch'],
    ['a seq this server has not reached', { since: { [ch]: 1e9 } }, 'ahead'],
  ];
  for (const [what, extra, reason] of cases) {
    const c = await TestClient.connect(wsUrl);
    c.send({ type: 'subscribe', channels: [ch], ...extra });
    const sub = await c.next((f) => f.type === 'subscribed');
    t.same(sub.data, { recovered: false, reason }, what);
    const snap = await c.next((f) => f.channel === ch && f.type === 'trade');
    t.equal(snap.snapshot, true, `${what}: then the latest frame, as a snapshot`);
    c.close();
  }

  // Up to date: recovered with nothing missed, and the next frame is live.
  const latest = Math.max(...dataOf(watcher, ch).map((f) => f.seq as number));
  const c = await TestClient.connect(wsUrl);
  t.teardown(() => c.close());
  c.send({ type: 'subscribe', channels: [ch, 'price:ETHUSDT'], since: { [ch]: latest }, epoch });
  const sub = await c.next((f) => f.type === 'subscribed' && f.channel === ch);
  const other = await c.next((f) => f.type === 'subscribed' && f.channel === 'price:ETHUSDT');
  t.equal(other.data, undefined, 'a channel without a since is subscribed as usual');
  const next = await c.next((f) => f.channel === ch && f.type === 'trade');
  t.equal(sub.data.recovered, true);
  t.equal(next.seq, latest + 1, 'the next frame follows the last one seen, without a snapshot');
  t.equal(next.snapshot, undefined);
  // A trade may have gone by between the watcher's read and the subscribe: then it came recovered.
  t.equal(next.recovered === true, sub.data.missed > 0);
});

t.test('a bad since is refused with a message that says what to send', async (t) => {
  const { wsUrl } = await startStack(t);
  const c = await TestClient.connect(wsUrl);
  t.teardown(() => c.close());
  const bad: Array<[unknown, unknown, RegExp]> = [
    [[412], undefined, /"since" must be an object/],
    [{ 'price:ETHUSDT': 1 }, undefined, /not in "channels"/],
    [{ 'price:BTCUSDT': -1 }, undefined, /integer of 0 or more/],
    [{ 'price:BTCUSDT': '412' }, undefined, /integer of 0 or more/],
    [{ 'price:BTCUSDT': 1 }, 7, /"epoch" must be the string/],
  ];
  for (const [since, epoch, message] of bad) {
    c.send({ type: 'subscribe', channels: ['price:BTCUSDT'], since, ...(epoch === undefined ? {} : { epoch }) });
    const e = await c.next((f) => f.type === 'error');
    t.equal(e.data.code, 'TG_ERR_INVALID_MESSAGE');
    t.match(e.data.message, message);
  }
  await c.ping();
  t.notOk(c.frames.some((f) => f.type === 'subscribed'), 'nothing was subscribed by a refused message');
});

t.test('with history off, a since gets a snapshot and says why', async (t) => {
  const { wsUrl, httpUrl } = await startStack(t, { config: { history: { enabled: false } } });
  const c = await TestClient.connect(wsUrl);
  t.teardown(() => c.close());
  c.subscribe('price:BTCUSDT');
  const first: Frame = await c.next((f) => f.type === 'price');
  const d = await TestClient.connect(wsUrl);
  t.teardown(() => d.close());
  d.send({ type: 'subscribe', channels: ['price:BTCUSDT'], since: { 'price:BTCUSDT': (first.seq as number) - 1 } });
  const sub = await d.next((f) => f.type === 'subscribed');
  t.same(sub.data, { recovered: false, reason: 'disabled' });
  t.equal((await d.next((f) => f.type === 'price')).snapshot, true);
  const health = await getJson(`${httpUrl}/health`);
  t.equal(health.body.history, null);
});

t.test('a sole subscriber that drops and comes back within history.keepOpenMs misses nothing; after it, it is told', async (t) => {
  const { wsUrl } = await startStack(t, { sim: { tradesPerSecond: 40 }, config: { history: { keepOpenMs: 3000 } } });
  const ch = 'trades:SOLUSDT';
  const first = await TestClient.connect(wsUrl);
  const epoch = first.frames[0]!.data.epoch as string;
  first.subscribe(ch);
  await first.next((f) => f.type === 'trade' && (f.seq as number) >= 3);
  const seen = Math.max(...dataOf(first, ch).map((f) => f.seq as number));
  first.close();
  await first.waitClose();
  // Away for a while, but less than keepOpenMs: the channel stayed open and kept its frames.
  await new Promise((r) => setTimeout(r, 1000));
  const back = await TestClient.connect(wsUrl);
  t.teardown(() => back.close());
  back.send({ type: 'subscribe', channels: [ch], since: { [ch]: seen }, epoch });
  const sub = await back.next((f) => f.type === 'subscribed');
  t.equal(sub.data.recovered, true);
  t.ok(sub.data.missed > 0, `${sub.data.missed} trades made while away came back`);
  await back.next((f) => f.type === 'trade' && (f.seq as number) > seen + sub.data.missed);
  const got = dataOf(back, ch);
  t.same(got.map((f) => f.seq), got.map((_, i) => seen + 1 + i), 'every seq once, in order');

  // Away longer than keepOpenMs: the channel closed and trades went unrecorded, so recovery is refused.
  const last = Math.max(...got.map((f) => f.seq as number));
  back.close();
  await back.waitClose();
  await new Promise((r) => setTimeout(r, 4000));
  const late = await TestClient.connect(wsUrl);
  t.teardown(() => late.close());
  late.send({ type: 'subscribe', channels: [ch], since: { [ch]: last }, epoch });
  const refused = await late.next((f) => f.type === 'subscribed');
  t.same(refused.data, { recovered: false, reason: 'closed' }, 'not "nothing missed": the channel was closed meanwhile');
  const next = await late.next((f) => f.type === 'trade');
  t.ok((next.seq as number) > last, 'then live frames');
});
