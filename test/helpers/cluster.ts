// Cluster test harness: the NATS server to use (or why the test is skipped), cluster nodes as child processes (the
// compiled `npm start` entry with ROLE and NATS_URL), and a TCP proxy that can cut a node off NATS.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';

const MAIN = fileURLToPath(new URL('../../core/main.js', import.meta.url));
export const fixturePlugin = (name: string) => fileURLToPath(new URL(`../fixtures/${name}/index.js`, import.meta.url));

/**
 * The NATS server for cluster tests: TEST_NATS_URL (CI sets it: then it must answer), else a local server on the
 * default port if one answers. undefined, with the reason, when there is none.
 */
export async function natsForTests(): Promise<{ url: string } | { skip: string }> {
  const explicit = process.env.TEST_NATS_URL;
  const url = explicit || 'nats://127.0.0.1:4222';
  let nc;
  try {
    nc = await natsConnect({ servers: url, timeout: 2000, reconnect: false });
  } catch (err) {
    if (explicit) throw new Error(`TEST_NATS_URL=${explicit} does not answer: ${(err as Error).message}`);
    return { skip: `no NATS server at ${url} (cluster tests need nats-server -js; set TEST_NATS_URL to run them against another)` };
  }
  try {
    await (await jetstreamManager(nc)).getAccountInfo();
    return { url };
  } catch (err) {
    if (explicit) throw new Error(`TEST_NATS_URL=${explicit} has no JetStream (start nats-server with -js): ${(err as Error).message}`);
    return { skip: `the NATS server at ${url} has no JetStream (cluster mode needs it: nats-server -js)` };
  } finally {
    await nc.close();
  }
}

/** A subject prefix of its own per test run, and the lease bucket it made removed at the end. */
export function clusterPrefix(t: Test, natsUrl: string): string {
  const prefix = `tgtest-${randomBytes(4).toString('hex')}`;
  t.teardown(async () => {
    const nc = await natsConnect({ servers: natsUrl, timeout: 2000, reconnect: false });
    await new Kvm(nc).create(`${prefix}-leases`).then((kv) => kv.destroy()).catch(() => undefined);
    await nc.close();
  });
  return prefix;
}

export interface ClusterNode {
  name: string;
  role: string;
  port: number;
  proc: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
  /** SIGKILL: no goodbye, its leases expire. */
  kill(): Promise<void>;
  /** SIGTERM: an orderly stop. */
  stop(): Promise<number | null>;
}

export interface NodeOptions {
  role: 'gateway' | 'ingest' | 'both';
  name: string;
  natsUrl: string;
  prefix: string;
  upstream: { wsUrl: string; restUrl: string };
  shards?: number;
  plugins?: unknown[];
  env?: Record<string, string>;
}

/** Starts a node and waits for its "listening" line (its port); killed at the test's end if still running. */
export async function startNode(t: Test, o: NodeOptions): Promise<ClusterNode> {
  const proc = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      ROLE: o.role,
      NATS_URL: o.natsUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      SHARDS: String(o.shards ?? 1),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'info',
      BINANCE_WS_URL: o.upstream.wsUrl,
      BINANCE_REST_URL: o.upstream.restUrl,
      TICKGATE__CLUSTER__SUBJECT_PREFIX: o.prefix,
      TICKGATE__CLUSTER__NODE_NAME: o.name,
      TICKGATE__UPSTREAM__HEARTBEAT_STREAM: '',
      TICKGATE__UPSTREAM__UNSUBSCRIBE_GRACE_MS: '0',
      TICKGATE__HISTORY__KEEP_OPEN_MS: '0',
      TICKGATE__PLUGINS: JSON.stringify(o.plugins ?? ['market']),
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let buffered = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.name} did not start in 30 s: ${logs.slice(-5).join('\n')}`)), 30_000);
    const onLine = (line: string) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg?.includes('listening on') && typeof entry.port === 'number') {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    };
    proc.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      lines.forEach(onLine);
    });
    proc.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${o.name} exited (${code}) before listening: ${logs.slice(-5).join('\n')}`));
    });
  });
  const node: ClusterNode = {
    name: o.name,
    role: o.role,
    port,
    proc,
    logs,
    exited,
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) await node.kill();
  });
  return node;
}

/** Waits for `check` to hold, polling; fails with `what` after `timeoutMs`. */
export async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}


export { TcpProxy } from './tcp-proxy.js';
