// Smoke run of the fan-out harness: it counts every frame exactly once (checked against each channel's seq numbers).
import t from 'tap';
import { rmSync } from 'node:fs';
import { runFanout } from '../../bench/fanout/fanout.js';
import { embeddedTemplate, seededDataDir } from '../helpers/database.js';

t.test('the fan-out harness connects, subscribes and counts frames exactly', async (t) => {
  // The test suite's copy of a created database: the harness would otherwise create its own template first (a start
  // and a stop of tickgate, most of this file's time), which `npm run bench` does.
  const dataDir = seededDataDir(await embeddedTemplate(), 'tickgate-smoke-data-');
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const r = await runFanout({ clients: 20, symbols: ['BTCUSDT', 'ETHUSDT'], kinds: ['price'], rate: 10, warmupSeconds: 1, seconds: 2, workers: 2, sampleEvery: 1, env: { TICKGATE_DATA_DIR: dataDir } });
  t.equal(r.connected, 20, 'all clients connected');
  t.equal(r.errors, 0);
  t.ok(r.frames > 0, `${r.frames} frames counted`);
  t.equal(r.missing, 0, 'no frame missing inside any client\'s seq range');
  t.equal(r.duplicated, 0, 'no frame counted twice');
  t.equal(r.silentChannels, 0, 'every subscribed channel delivered in the window');
  t.ok(r.latencyMs.samples > 0, 'latency sampled from the frames\' event times');
  t.ok(r.server.rssMbLoaded > 0 && r.server.cpuPercent >= 0, 'server usage read');
  t.equal(r.expectedFramesPerSecond, 20 * 2 * 10);
  t.same(Object.keys(r.sizeByType), ['price'], 'frame sizes counted by type');
  t.equal(r.sizeByType.price!.frames, r.frames, 'every data frame counted in its type');
  t.ok(r.sizeByType.price!.bytesPerFrame > 100, `${r.sizeByType.price!.bytesPerFrame} bytes per price frame`);
  // At this trivial load every target keeps up, so the count must match the exchange's rate: a harness that counted
  // half the frames, or each twice, fails here (the window may hold one ticker round more or less: 10 %).
  t.ok(Math.abs(r.framesPerSecond / r.expectedFramesPerSecond - 1) < 0.15, `${r.framesPerSecond} frames/s counted of ${r.expectedFramesPerSecond} sent`);
});

t.test('the ceiling peer relays every kind it serves, each channel in order', async (t) => {
  const r = await runFanout({
    target: 'uws-ceiling', clients: 8, symbols: ['BTCUSDT', 'ETHUSDT'], kinds: ['price'], focusKinds: ['ticker', 'trades', 'depth', 'klines:1m'],
    rate: 10, warmupSeconds: 1, seconds: 3, workers: 1, sampleEvery: 1,
  });
  t.equal(r.connected, 8);
  t.equal(r.errors, 0);
  t.equal(r.missing + r.duplicated, 0, 'no frame missing or repeated');
  t.equal(r.silentChannels, 0, 'every channel of every kind delivered in the window');
  t.same(Object.keys(r.latencyByType).sort(), ['depth', 'kline', 'price', 'ticker', 'trade'], 'frames of every kind arrived');
});
