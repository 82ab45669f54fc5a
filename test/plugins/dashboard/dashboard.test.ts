// The dashboard in a real browser: it connects, draws candles, the book and trades, shows stats, survives a restart.
import t from 'tap';
import { request } from 'node:http';
import { browserForTests, browserSkip } from '../../helpers/browser.js';
import { startStack, testConfig, getJson } from '../../helpers/stack.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';
import { TickgateServer } from '../../../core/server.js';
import { createLogger } from '../../../core/logger.js';

/** The page's document, inside page.evaluate (this project compiles without the DOM's types). */
declare const document: { getElementById(id: string): any; querySelectorAll(sel: string): { length: number } };

const plugins = ['market', 'dashboard'];
const skip = browserSkip();
if (skip) t.comment(`page tests skipped: ${skip}`);

t.test('the page serves its files with a policy that lets only them run', async (t) => {
  const { httpUrl } = await startStack(t, { config: { plugins } });
  for (const path of ['/dashboard', '/dashboard/app.js', '/dashboard/style.css', '/dashboard/vendor/lightweight-charts.mjs', '/dashboard/sdk/index.js', '/dashboard/sdk/tickgate-client.js']) {
    const res = await fetch(httpUrl + path);
    t.equal(res.status, 200, path);
    t.match(res.headers.get('content-security-policy'), /script-src 'self'/, `${path}: the page's own policy replaces the API's default-src 'none'`);
    t.equal(res.headers.get('x-frame-options'), 'DENY');
  }
  const api = await getJson(`${httpUrl}/health`);
  t.match(api.headers.get('content-security-policy'), /^default-src 'none'/, 'the API keeps its policy');
  // Sent as it is (fetch would resolve the dots first): no path from a request reaches the disk.
  const port = new URL(httpUrl).port;
  const status = await new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/dashboard/../../config.yaml' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject).end();
  });
  t.equal(status, 404, 'a path with dots is not a file');
});

t.test('in Chromium: candles, book levels, trades and stats; after a server restart it reconnects and goes on', { skip }, async (t) => {
  const browser = await browserForTests(t);
  const stack = await startStack(t, { config: { plugins }, sim: { tradesPerSecond: 10 } });
  // The page's address stays while the server behind it is replaced.
  const proxy = await new TcpProxy({ host: '127.0.0.1', port: stack.server.port }).start();
  t.teardown(() => proxy.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(`http://127.0.0.1:${proxy.port}/dashboard?symbol=ETHUSDT&interval=1m`);
  const read = () => page.evaluate(() => ({
    candles: Number(document.getElementById('chart')!.dataset.candles),
    levels: Number(document.getElementById('book')!.dataset.levels),
    trades: Number(document.getElementById('tape')!.dataset.trades),
    state: document.getElementById('state')!.textContent,
    connections: document.getElementById('stat-connections')!.textContent,
    status: document.getElementById('stat-status')!.textContent,
    canvases: document.querySelectorAll('#chart canvas').length,
    signalHidden: document.getElementById('signal')!.hidden,
  }));
  await page.waitForFunction(() => Number(document.getElementById('chart')!.dataset.candles) > 1 && Number(document.getElementById('book')!.dataset.levels) > 0 && Number(document.getElementById('tape')!.dataset.trades) > 0 && document.getElementById('stat-connections')!.textContent !== '–'
    // The stats refresh every 2 s: the first may predate the upstream connection (status "down" then).
    && document.getElementById('stat-status')!.textContent === 'ok', undefined, { timeout: 20_000 });
  const before = await read();
  t.equal(before.state, 'open');
  t.ok(before.canvases > 0, 'the chart drew on its canvases');
  t.ok(Number(before.connections) >= 1, 'the stats count the page\'s own connection');
  t.equal(before.signalHidden, true, 'no signals plugin here: no signal panel');
  const bookRows = await page.locator('#bids tr').count();
  t.ok(bookRows > 0 && bookRows <= 12, `bid levels shown: ${bookRows}`);

  await stack.server.close();
  await page.waitForFunction(() => document.getElementById('state')!.textContent === 'reconnecting', undefined, { timeout: 10_000 });
  const config = testConfig({ plugins }, { wsUrl: stack.sim.wsUrl, restUrl: stack.sim.restUrl });
  const second = await TickgateServer.start(config, createLogger('silent'));
  t.teardown(() => second.close());
  proxy.retarget({ host: '127.0.0.1', port: second.port });
  const tradesAtRestart = (await read()).trades;
  await page.waitForFunction((n) => document.getElementById('state')!.textContent === 'open' && Number(document.getElementById('tape')!.dataset.trades) > n + 2, tradesAtRestart, { timeout: 20_000 });
  t.pass('reconnected: trades flow again');
  t.same(problems.filter((p) => !/Failed to load resource|ERR_CONNECTION|WebSocket connection/.test(p)), [], 'no script errors and no blocked content');
});
