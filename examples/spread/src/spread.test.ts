// The plugin's own test: tickgate/testing starts a gateway with this plugin against the simulated exchange.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startTestGateway } from 'tickgate/testing';

test('GET /api/v1/spread/:symbol answers from the local book, with the plugin\'s own error codes', async (t) => {
  const gateway = await startTestGateway({ plugins: ['market', { path: fileURLToPath(new URL('./index.js', import.meta.url)), config: { waitMs: 5000 } }] });
  t.after(() => gateway.close());
  const res = await fetch(`${gateway.httpUrl}/api/v1/spread/BTCUSDT?levels=3`);
  assert.equal(res.status, 200);
  const { data } = (await res.json()) as { data: { bid: number; ask: number; levels: number } };
  assert.ok(data.ask > data.bid, 'best ask above best bid');
  assert.equal(data.levels, 3);
  const bad = await fetch(`${gateway.httpUrl}/api/v1/spread/BTCUSDT?levels=0`);
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'SPREAD_BAD_LEVELS');
});
