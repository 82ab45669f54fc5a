// The client SDK against a real server: typed frames, reconnect after a restart, recovery after a drop, dead links.
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { TickgateClient, type DataFrame, type PriceData } from '../../client/index.js';
import { startStack, testConfig, until } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { TestClient } from '../helpers/ws-client.js';
import { TickgateServer } from '../../core/server.js';
import { createLogger } from '../../core/logger.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const fast = { reconnectMinMs: 50, reconnectMaxMs: 200 };

t.test('typed frames: each channel family\'s data has the server\'s fields and types', async (t) => {
  const { wsUrl } = await startStack(t);
  const client = new TickgateClient({ url: wsUrl, WebSocket, ...fast });
  t.teardown(() => client.close());
  const prices: PriceData[] = [];
  const klines: number[] = [];
  const depths: Array<[number, number]> = [];
  client.subscribe('price:BTCUSDT', (p) => prices.push(p));
  client.subscribe('klines:ETHUSDT:1m', (k) => {
    const close: number = k.close;
    klines.push(close);
  });
  client.subscribe('depth:BNBUSDT:5', (d) => {
    const best: [number, number] | undefined = d.bids[0];
    if (best) depths.push(best);
    // @ts-expect-error a depth frame has no price: the SDK's types are the server's own
    void d.price;
  });
  await until(() => prices.length > 0 && klines.length > 0 && depths.length > 0, 'a frame on each channel');
  t.equal(prices[0]!.symbol, 'BTCUSDT');
  t.equal(typeof prices[0]!.price, 'number');
  t.ok(prices[0]!.low24h <= prices[0]!.price && prices[0]!.price <= prices[0]!.high24h);
  t.ok(klines[0]! > 0);
  t.ok(depths[0]![0] > 0 && depths[0]![1] > 0);
  t.equal(client.connectionState, 'open');
});

t.test('a refused channel ends its subscription with the server\'s code; the others go on', async (t) => {
  const { wsUrl } = await startStack(t);
  const client = new TickgateClient({ url: wsUrl, WebSocket, ...fast });
  t.teardown(() => client.close());
  const errors: Array<{ code: string; channel?: string }> = [];
  client.subscribe('price:NOPEUSDT', { data: () => t.fail('no data for an unknown symbol'), error: (e) => errors.push(e) });
  let got = 0;
  client.subscribe('price:BTCUSDT', () => got++);
  await until(() => errors.length === 1 && got > 0, 'the refusal and a price');
  t.equal(errors[0]!.code, 'TG_ERR_UNKNOWN_SYMBOL');
  t.equal(errors[0]!.channel, 'price:NOPEUSDT');
});

/**
 * A client subscribed to price:BTCUSDT through a proxy, with its frames, recoveries and states recorded; `replace()`
 * closes the server and starts another behind the same address (its seqs are another epoch's).
 */
async function behindProxy(t: Test, WebSocketClass: typeof WebSocket = WebSocket) {
  const stack = await startStack(t);
  // The address the client knows stays the same while the server behind it is replaced.
  const proxy = await new TcpProxy({ host: '127.0.0.1', port: stack.server.port }).start();
  t.teardown(() => proxy.close());
  const client = new TickgateClient({ url: proxy.wsUrl(), WebSocket: WebSocketClass, ...fast });
  t.teardown(() => client.close());
  const frames: Array<DataFrame<PriceData>> = [];
  const recoveries: Array<{ recovered: boolean; reason?: string }> = [];
  const states: string[] = [];
  client.on('recovery', (_c, r) => recoveries.push(r));
  client.on('state', (s) => states.push(s));
  client.subscribe('price:BTCUSDT', (_d, f) => frames.push(f));
  await until(() => frames.length > 1, 'prices before the restart');
  const replace = async (beforeRetarget: () => void = () => {}) => {
    await stack.server.close();
    await until(() => states.includes('reconnecting'), 'the client noticed');
    const second = await TickgateServer.start(testConfig({}, { wsUrl: stack.sim.wsUrl, restUrl: stack.sim.restUrl }), createLogger('silent'));
    t.teardown(() => second.close());
    beforeRetarget();
    proxy.retarget({ host: '127.0.0.1', port: second.port });
  };
  return { frames, recoveries, states, replace };
}

t.test('after the server restarts the client reconnects, resubscribes and starts over in the new numbering', async (t) => {
  const { frames, recoveries, states, replace } = await behindProxy(t);
  await replace();
  const before = frames.length;
  await until(() => frames.length > before + 1, 'prices from the restarted server');
  t.same(recoveries, [{ recovered: false, reason: 'epoch' }], 'the old seqs are another epoch\'s: not recovered');
  // The new server numbers from 1: frames with seqs below the old ones are delivered, not taken for repeats.
  t.ok(frames[before - 1]!.seq > 1);
  t.equal(frames[before]!.seq, 1, 'the first frame after the restart is the new server\'s first');
  const after = frames.slice(before);
  t.same(after.map((f) => f.seq), after.map((_, i) => after[0]!.seq + i), 'then consecutive frames');
  t.equal(states.at(-1), 'open');
});

t.test('after a dropped connection the client gets exactly the frames it missed, once, in order', async (t) => {
  const { wsUrl, server } = await startStack(t, { sim: { tradesPerSecond: 40 } });
  const watcher = await TestClient.connect(wsUrl);
  t.teardown(() => watcher.close());
  watcher.subscribe('trades:BTCUSDT');
  const proxy = await new TcpProxy({ host: '127.0.0.1', port: server.port }).start();
  t.teardown(() => proxy.close());
  const client = new TickgateClient({ url: proxy.wsUrl(), WebSocket, reconnectMinMs: 400, reconnectMaxMs: 800 });
  t.teardown(() => client.close());
  const seqs: number[] = [];
  const flags: Array<'snapshot' | 'recovered' | 'live'> = [];
  const recoveries: Array<{ recovered: boolean; missed?: number }> = [];
  client.on('recovery', (_c, r) => recoveries.push(r));
  client.subscribe('trades:BTCUSDT', (_d, f) => {
    seqs.push(f.seq);
    flags.push(f.snapshot ? 'snapshot' : f.recovered ? 'recovered' : 'live');
  });
  await until(() => seqs.length >= 3, 'trades before the drop');
  proxy.cut();
  const cutAt = seqs.at(-1)!;
  // Trades go by while the client is away (the watcher sees them), then the network is back.
  await watcher.next((f) => f.type === 'trade' && (f.seq as number) >= cutAt + 5);
  proxy.restore();
  await until(() => recoveries.length === 1 && seqs.at(-1)! >= cutAt + 10, 'recovery and live trades after it');
  t.equal(recoveries[0]!.recovered, true);
  t.ok(recoveries[0]!.missed! >= 5, `${recoveries[0]!.missed} missed frames came back`);
  t.same(seqs, seqs.map((_, i) => seqs[0]! + i), 'every seq once, in order, across the drop');
  t.ok(flags.includes('recovered'), 'the missed frames are marked recovered');
});

t.test('a connection that goes silent is found dead by the keepalive and replaced', async (t) => {
  const { server } = await startStack(t);
  const proxy = await new TcpProxy({ host: '127.0.0.1', port: server.port }).start();
  t.teardown(() => proxy.close());
  const client = new TickgateClient({ url: proxy.wsUrl(), WebSocket, ...fast, pingIntervalMs: 300, pongTimeoutMs: 300 });
  t.teardown(() => client.close());
  const errors: string[] = [];
  client.on('error', (e) => errors.push(e.code));
  let prices = 0;
  client.subscribe('price:ETHUSDT', () => prices++);
  await until(() => prices > 0, 'a price');
  proxy.stall();
  await until(() => errors.includes('CLIENT_CONNECTION_DEAD'), 'the dead connection noticed');
  const before = prices;
  await until(() => prices > before, 'prices on the new connection');
  t.pass('reconnected through a fresh connection');
});

t.test('Node 20\'s own WebSocket (--experimental-websocket) serves without passing a class', async (t) => {
  const { wsUrl } = await startStack(t);
  const sdk = new URL('../../client/index.js', import.meta.url).href;
  const script = `import { TickgateClient } from ${JSON.stringify(sdk)};
const c = new TickgateClient({ url: ${JSON.stringify(wsUrl)} });
c.subscribe('price:BTCUSDT', (p) => { console.log(JSON.stringify(p)); c.close(); });`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--experimental-websocket', '--no-warnings', '--input-type=module', '-e', script], { timeout: 30_000 });
  const price = JSON.parse(stdout.trim()) as PriceData;
  t.equal(price.symbol, 'BTCUSDT');
  t.equal(typeof price.price, 'number');
});

t.test('a connection lost before the server answered a resubscribe: the next one still names the epoch the seqs came from', async (t) => {
  // The first resubscribe to the new server is lost with its connection, as if the line dropped right after sending.
  let loseNextSubscribe = false;
  class LossyWebSocket extends WebSocket {
    override send(data: any, ...rest: any[]): void {
      if (loseNextSubscribe && String(data).includes('"subscribe"')) {
        loseNextSubscribe = false;
        this.terminate();
        return;
      }
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  }
  const { frames, recoveries, replace } = await behindProxy(t, LossyWebSocket as unknown as typeof WebSocket);
  await replace(() => {
    loseNextSubscribe = true;
  });
  const before = frames.length;
  await until(() => frames.length > before + 1, 'prices from the restarted server');
  t.equal(loseNextSubscribe, false, 'the first resubscribe was lost');
  t.same(recoveries, [{ recovered: false, reason: 'epoch' }], 'the seqs were sent as the old server\'s (reason epoch, not ahead)');
  t.equal(frames[before]!.seq, 1, 'and numbering starts over');
});
