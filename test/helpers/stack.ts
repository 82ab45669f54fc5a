// Test harness: a simulated exchange and a tickgate server on free ports, both closed when the test ends.
import type { Test } from 'tap';
import { validateConfig, type ConfigInput } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { TickgateServer } from '../../core/server.js';
import { SimExchange, type SimOptions } from '../../sim/exchange.js';

export interface Stack {
  sim: SimExchange;
  server: TickgateServer;
  wsUrl: string;
  httpUrl: string;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

export interface StackOptions {
  config?: DeepPartial<ConfigInput>;
  sim?: SimOptions;
  /** Wait for the symbol list (default true). */
  waitSymbols?: boolean;
}

export function testConfig(overrides: DeepPartial<ConfigInput> = {}, upstream: { wsUrl: string; restUrl: string }) {
  const o = overrides as Record<string, Record<string, unknown> | unknown>;
  return validateConfig({
    // Market data only, unless a test asks for more: the account plugins need a database.
    plugins: ['market'],
    ...o,
    server: { host: '127.0.0.1', port: 0, ...(o.server as object) },
    shards: o.shards ?? 1,
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent', ...(o.log as object) },
    // No heartbeat stream by default, so tests can count streams exactly; the health tests turn it on.
    upstream: { unsubscribeGraceMs: 0, heartbeatStream: '', ...upstream, ...(o.upstream as object) },
    // Channels close with their last subscriber, so tests can count them exactly; the recovery tests keep them open.
    history: { keepOpenMs: 0, ...(o.history as object) },
  }, 'test');
}

export async function startStack(t: Test, opts: StackOptions = {}): Promise<Stack> {
  const sim = await new SimExchange({ port: 0, tickerIntervalMs: 200, klineIntervalMs: 200, ...opts.sim }).start();
  const config = testConfig(opts.config, { wsUrl: sim.wsUrl, restUrl: sim.restUrl });
  let server: TickgateServer;
  try {
    server = await TickgateServer.start(config, createLogger(config.log.level));
  } catch (err) {
    await sim.close();
    throw err;
  }
  t.teardown(async () => {
    await server.close();
    await sim.close();
  });
  if (opts.waitSymbols !== false) await until(() => server.symbols.loaded, 'symbol list loaded');
  return { sim, server, wsUrl: `ws://127.0.0.1:${server.port}/ws`, httpUrl: `http://127.0.0.1:${server.port}` };
}

/** Polls a condition (every 10 ms) until it holds; fails with what was awaited. Not a speed check: the limit only bounds a hang. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json(), headers: res.headers };
}
