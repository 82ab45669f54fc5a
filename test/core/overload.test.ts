// An acceptor thread slower than its shard: the shard sends its next batch of frames only once the acceptor took in
// the last one, so the gateway keeps answering HTTP and its own clients, whole-state channels send their latest value
// (numbered without a gap, counted), and numbered events are all delivered, in order.
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { testConfig, getJson, until } from '../helpers/stack.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';
import { TickgateServer } from '../../core/server.js';
import { SimExchange } from '../../sim/exchange.js';

const surge = fileURLToPath(new URL('../fixtures/surge-plugin/index.js', import.meta.url));

async function surgeServer(t: Test, config: Record<string, number | boolean>, conflateAfterMs = 0) {
  const sim = await new SimExchange({ port: 0 }).start();
  t.teardown(() => sim.close());
  const server = await TickgateServer.start(testConfig({ plugins: ['market', { name: 'surge', path: surge, config }], limits: { conflateAfterMs } }, { wsUrl: sim.wsUrl, restUrl: sim.restUrl }));
  t.teardown(() => server.close());
  await until(() => server.symbols.loaded, 'symbols');
  return { wsUrl: `ws://127.0.0.1:${server.port}/ws`, httpUrl: `http://127.0.0.1:${server.port}` };
}

/** Starts the channel's surge, with the slow watcher, once `client` is subscribed to it. */
async function start(t: Test, httpUrl: string, client: TestClient, channel: string): Promise<void> {
  client.subscribe(channel);
  await client.next((f) => f.type === 'subscribed' && f.channel === channel);
  const res = await fetch(`${httpUrl}/api/v1/surge/start?channel=${channel}`, { method: 'POST' });
  t.equal(res.status, 200, await res.text());
}

const data = (c: TestClient, channel: string): Frame[] => c.frames.filter((f) => f.channel === channel && typeof f.seq === 'number');
const isFinal = (c: TestClient, channel: string) => data(c, channel).some((f) => f.data?.final === true);

/** A client's book over surgedelta frames: a change applies to the state it follows; a whole state replaces it. */
function applyAll(frames: Frame[]): { held: number; misapplied: number } {
  let held = 0;
  let misapplied = 0;
  for (const f of frames) {
    if (f.type === 'surgechange' && f.data.after !== held) misapplied++;
    held = f.data.n;
  }
  return { held, misapplied };
}

/** GET answered while the surge still runs: the client has not yet had its final value. */
async function answeredDuring(t: Test, c: TestClient, channel: string, url: string): Promise<string> {
  const res = await fetch(url);
  const body = await res.text();
  // /health may say 503 (no exchange stream is open in these tests): an answer is what counts here.
  t.ok(res.status === 200 || (url.endsWith('/health') && res.status === 503), `${url} answered (${res.status})`);
  t.notOk(isFinal(c, channel), `${url} answered while the acceptor was behind, not after`);
  return body;
}

t.test('a whole-state channel faster than the acceptor: HTTP still answers, the latest value goes out numbered without a gap, the rest is counted', async (t) => {
  const { wsUrl, httpUrl } = await surgeServer(t, { perTick: 20, forMs: 3000, slowMs: 2 });
  const c = await TestClient.connect(wsUrl);
  const channel = 'surge:BTCUSDT';
  await start(t, httpUrl, c, channel);
  await until(() => data(c, channel).length >= 5, 'the surge is on');
  const health = JSON.parse(await answeredDuring(t, c, channel, `${httpUrl}/health`)) as { shards: Array<{ behindMs: number; framesConflated: number }> };
  t.ok(health.shards.every((s) => Number.isInteger(s.behindMs) && Number.isInteger(s.framesConflated)), 'each shard says how far behind it is and what it conflated');
  await answeredDuring(t, c, channel, `${httpUrl}/metrics`);
  // The client's own connection answers too: its ping goes through the same thread.
  await c.ping();
  t.notOk(isFinal(c, channel), 'a ping answered while the acceptor was behind');

  await until(() => isFinal(c, channel), 'the final value', 60_000);
  const frames = data(c, channel);
  const last = frames.at(-1)!;
  t.equal(last.data.final, true, 'the last value is the final one: never dropped');
  t.same(frames.map((f) => f.seq), frames.map((_, i) => i + 1), 'numbered 1, 2, 3, …: no gap, no repeat');
  t.ok(frames.every((f, i) => i === 0 || f.data.n > frames[i - 1]!.data.n), 'values only move forward');
  const produced = last.data.n as number;
  const sent = frames.length;
  t.ok(sent < produced, `values were replaced while the acceptor was behind (${sent} of ${produced} sent)`);
  // Every value produced was either sent or counted as replaced; the shards report on their 2 s timer.
  let conflated = -1;
  let numbered = -1;
  await until(async () => {
    const h = (await getJson(`${httpUrl}/health`)).body as { shards: Array<{ framesConflated: number; dataFrames: number }> };
    conflated = h.shards.reduce((n, s) => n + s.framesConflated, 0);
    numbered = h.shards.reduce((n, s) => n + s.dataFrames, 0);
    return conflated === produced - sent && numbered === sent;
  }, 'the replaced values counted in /health', 10_000).catch(() => {});
  t.equal(conflated, produced - sent, '/health counts every replaced value');
  t.equal(numbered, sent, 'and every value sent');
  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  const counted = [...metrics.matchAll(/^tickgate_frames_conflated_total\{shard="\d+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  t.equal(counted, produced - sent, 'and /metrics');
  t.match(metrics, /^tickgate_shard_behind_seconds\{shard="0"\} [\d.e-]+$/m);
  c.close();
});

t.test('numbered events faster than the acceptor: every one delivered, in order, and HTTP still answers', async (t) => {
  // At least twice what the acceptor can take, however coarse the shard's millisecond timer runs on a busy machine.
  const { wsUrl, httpUrl } = await surgeServer(t, { logPerTick: 2, forMs: 1000, slowMs: 4 });
  const c = await TestClient.connect(wsUrl);
  const channel = 'surgelog:ETHUSDT';
  await start(t, httpUrl, c, channel);
  await until(() => data(c, channel).length >= 5, 'the surge is on');
  const during = JSON.parse(await answeredDuring(t, c, channel, `${httpUrl}/health`)) as { shards: Array<{ behindMs: number }> };
  let behind = Math.max(...during.shards.map((s) => s.behindMs));
  // The shards report every 2 s: the next report (still before the end) shows the wait.
  await until(async () => {
    const h = (await getJson(`${httpUrl}/health`)).body as { shards: Array<{ behindMs: number }> };
    behind = Math.max(behind, ...h.shards.map((s) => s.behindMs));
    return behind > 0 || isFinal(c, channel);
  }, 'a report of the wait', 10_000);
  t.ok(behind > 0, `the acceptor was behind (frames waited ${behind} ms)`);
  await until(() => isFinal(c, channel), 'the final event', 60_000);
  const frames = data(c, channel);
  t.equal(frames.length, frames.at(-1)!.data.n, 'none left out');
  t.same(frames.map((f) => f.seq), frames.map((_, i) => i + 1), 'numbered without a gap');
  t.same(frames.map((f) => f.data.n), frames.map((_, i) => i + 1), 'in the order produced');
  const health = await getJson(`${httpUrl}/health`);
  t.equal(health.body.shards.reduce((n: number, s: { framesConflated: number }) => n + s.framesConflated, 0), 0, 'events are never conflated');
  c.close();
});

t.test('a delta channel faster than the acceptor: a change whose predecessor was replaced goes out as the whole state, so a client applying changes never skips one', async (t) => {
  const { wsUrl, httpUrl } = await surgeServer(t, { perTick: 20, forMs: 2000, slowMs: 2 });
  const c = await TestClient.connect(wsUrl);
  const channel = 'surgedelta:SOLUSDT';
  await start(t, httpUrl, c, channel);
  await until(() => isFinal(c, channel), 'the final value', 60_000);
  const frames = data(c, channel);
  t.same(frames.map((f) => f.seq), frames.map((_, i) => i + 1), 'numbered without a gap');
  const book = applyAll(frames);
  t.equal(book.misapplied, 0, 'every change follows the state it was made from');
  t.equal(book.held, frames.at(-1)!.data.n, 'the client ends on the final state');
  t.equal(frames.at(-1)!.data.final, true);
  t.ok(frames.some((f) => f.type === 'surgestate'), 'whole states went out in place of replaced changes');
  t.ok(frames.some((f) => f.type === 'surgechange'), 'changes still went out');
  c.close();
});

t.test('below limits.conflateAfterMs, a whole-state channel behind the acceptor still sends every value, late', async (t) => {
  const { wsUrl, httpUrl } = await surgeServer(t, { perTick: 1, forMs: 1000, slowMs: 2 }, 60_000);
  const c = await TestClient.connect(wsUrl);
  const channel = 'surge:BNBUSDT';
  await start(t, httpUrl, c, channel);
  await until(() => isFinal(c, channel), 'the final value', 60_000);
  const frames = data(c, channel);
  t.equal(frames.length, frames.at(-1)!.data.n, 'every value sent');
  t.same(frames.map((f) => f.data.n), frames.map((_, i) => i + 1));
  c.close();
});

t.test('a value that cannot be serialised, waiting or not, fails alone: an error frame on its channel, no gap, and the shard goes on', async (t) => {
  const { wsUrl, httpUrl } = await surgeServer(t, { perTick: 20, forMs: 500, slowMs: 2, badFinal: true });
  const c = await TestClient.connect(wsUrl);
  const channel = 'surge:XRPUSDT';
  await start(t, httpUrl, c, channel);
  const error = await c.next((f) => f.type === 'error' && f.channel === channel, 60_000);
  t.equal(error.data.code, 'TG_ERR_CHANNEL_FAILED', 'the channel\'s subscribers are told');
  const frames = data(c, channel);
  t.same(frames.map((f) => f.seq), frames.map((_, i) => i + 1), 'the value that failed took no number: no gap');
  // The same shard (same symbol) still sends: a second channel's surge arrives whole.
  const log = 'surgelog:XRPUSDT';
  await start(t, httpUrl, c, log);
  await until(() => isFinal(c, log), 'the second channel\'s final event', 60_000);
  t.equal(data(c, log).length, data(c, log).at(-1)!.data.n, 'every event of the second channel');
  c.close();
});

t.test('a change that cannot be serialised takes no number, and the next goes out as the whole state', async (t) => {
  // Not conflating: the value fails as it is emitted.
  const { wsUrl, httpUrl } = await surgeServer(t, { perTick: 1, forMs: 300, slowMs: 0, badAt: 50 }, 60_000);
  const c = await TestClient.connect(wsUrl);
  const channel = 'surgedelta:ADAUSDT';
  await start(t, httpUrl, c, channel);
  await until(() => isFinal(c, channel), 'the final value', 60_000);
  const frames = data(c, channel);
  t.ok(c.frames.some((f) => f.type === 'error' && f.channel === channel && f.data?.code === 'TG_ERR_CHANNEL_FAILED'), 'its subscribers are told');
  t.same(frames.map((f) => f.seq), frames.map((_, i) => i + 1), 'no gap: the failed value took no number');
  t.notOk(frames.some((f) => f.data.n === 50), 'the failed value is not sent');
  const after = frames.find((f) => f.data.n === 51)!;
  t.equal(after.type, 'surgestate', 'the change after it goes out as the whole state');
  t.equal(applyAll(frames).misapplied, 0, 'a client applying changes never applies one to a state it lacks');
  c.close();
});
