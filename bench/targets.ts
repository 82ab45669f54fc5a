// The servers a benchmark measures, started as child processes against a simulated exchange.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../core/config.js';
import { capCpu, startChild, stopChild, type Child } from './processes.js';

export type Target = 'tickgate' | 'tickgate-no-history' | 'tickgate-market' | 'tickgate-deflate' | 'tickgate-cluster' | 'uws-ceiling' | 'nestjs';
export const TARGETS: readonly Target[] = ['tickgate', 'tickgate-no-history', 'tickgate-market', 'tickgate-deflate', 'tickgate-cluster', 'uws-ceiling', 'nestjs'];
/** Targets whose bench clients offer permessage-deflate (the others' do not). */
export const CLIENTS_DEFLATE: readonly Target[] = ['tickgate-deflate'];

/** tickgate with one feature changed from its default, to measure what the feature costs against `tickgate`. */
const VARIANTS: Partial<Record<Target, Record<string, string>>> = {
  'tickgate-no-history': { TICKGATE__HISTORY__ENABLED: 'false' },
  // The feed alone: no accounts, database, signals or payments.
  'tickgate-market': { TICKGATE__PLUGINS: '[market]' },
  'tickgate-deflate': { TICKGATE__SERVER__COMPRESSION: 'shared' },
};

/**
 * Channel kinds (with their argument, as in --kinds) each target serves: the peers implement only part of the protocol.
 * `all` is every kind tickgate has; `allBut` every one but those (as their name before any `:` or `@`).
 */
export const TARGET_KINDS: Record<Target, readonly string[] | 'all' | { allBut: readonly string[] }> = {
  tickgate: 'all',
  'tickgate-no-history': 'all',
  // signals: is the signals plugin's.
  'tickgate-market': { allBut: ['signals'] },
  'tickgate-deflate': 'all',
  'tickgate-cluster': 'all',
  'uws-ceiling': ['price', 'ticker', 'trades', 'depth', 'klines:1m'],
  nestjs: ['price', 'ticker', 'trades'],
};

/** Symbols the benchmarks subscribe, in order (the simulated exchange lists all of them). */
export const BENCH_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'AVAXUSDT', 'LTCUSDT', 'DOTUSDT', 'LINKUSDT', 'TRXUSDT', 'ATOMUSDT', 'UNIUSDT', 'ETCUSDT', 'XLMUSDT', 'NEARUSDT', 'APTUSDT', 'FILUSDT', 'ARBUSDT', 'OPUSDT', 'INJUSDT', 'SUIUSDT', 'PEPEUSDT'];

/** The node options before `script` in a `[exec] node … script` command line (package.json's start script), values included. */
export function nodeFlagsOf(command: string, script: string): string[] {
  const words = command.trim().split(/\s+/);
  if (words[0] === 'exec') words.shift();
  const at = words.indexOf(script);
  if (words[0] !== 'node' || at < 0) throw new Error(`expected a "node … ${script}" command, got "${command}"`);
  return words.slice(1, at);
}

/** tickgate runs with the node flags of `npm start`, so the benchmarks measure it as a self-hoster runs it. */
export function tickgateNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  return nodeFlagsOf(pkg.scripts.start, 'dist/core/main.js');
}

/** Whether `target` serves the channel kind `kind` (as given to --kinds and --focus). */
export function serves(target: Target, kind: string): boolean {
  const served = TARGET_KINDS[target];
  if (served === 'all') return true;
  if ('allBut' in served) return !served.allBut.includes(kind.split(/[:@]/)[0]!);
  return served.includes(kind);
}

/** Throws, naming them, when `kinds` (as given to --kinds and --focus) holds kinds `target` does not serve. */
export function checkServed(target: Target, kinds: readonly string[]): void {
  const not = kinds.filter((k) => !serves(target, k));
  if (!not.length) return;
  const served = TARGET_KINDS[target];
  const what = served === 'all' ? 'every kind' : 'allBut' in served ? `every kind but ${served.allBut.join(', ')}` : served.join(', ');
  throw new Error(`the ${target} target does not serve ${not.join(', ')}: it serves ${what}`);
}

const LISTENING = /listening on 127\.0\.0\.1:(\d+)/;

/** Starts the simulated exchange; `tickerIntervalMs` sets the ticker (price) event rate per symbol. */
export async function startExchange(tickerIntervalMs = 1000): Promise<{ child: Child['child']; wsUrl: string; restUrl: string }> {
  const sim = await startChild([join('dist/sim/main.js'), '--port', '0', '--ticker-interval-ms', String(tickerIntervalMs)], {}, /WS (ws:\/\/[\d.:]+)/);
  const wsUrl = sim.match[1]!;
  return { child: sim.child, wsUrl, restUrl: wsUrl.replace('ws://', 'http://') };
}

/** Sets the exchange's ticker (price) event rate per symbol while it runs: each symbol ticks every round(1000 / rate) ms. */
export async function setExchangeRate(restUrl: string, rate: number): Promise<void> {
  const res = await fetch(`${restUrl}/__sim/rate?tickerIntervalMs=${Math.max(1, Math.round(1000 / rate))}`, { method: 'POST' });
  if (!res.ok) throw new Error(`the simulated exchange refused the rate ${rate}/s: ${res.status}`);
}

/** Events the exchange has published so far (each event once, whatever its subscribers): its stats endpoint. */
export async function exchangeEvents(restUrl: string, type = 'ticker'): Promise<number> {
  // Of one stream type only: tickgate also holds a heartbeat stream (btcusdt@miniTicker by default), whose events no
  // client is due.
  const res = await fetch(`${restUrl}/__sim/stats`);
  return ((await res.json()) as { eventsByType: Record<string, number> }).eventsByType[type] ?? 0;
}

export interface TargetOptions {
  wsUrl: string;
  restUrl: string;
  /** Symbols the ceiling peer relays (it subscribes upstream at start). */
  symbols?: string[];
  /** Channel kinds the ceiling peer relays (default: price). */
  kinds?: string[];
  shards?: number;
  maxChannelsPerClient?: number;
  /** Writes V8 CPU profiles of the target (every thread) into this directory when it exits (--cpu-prof). */
  profileDir?: string;
  /** More environment for tickgate (e.g. plugin settings as TICKGATE__PLUGINS__…). */
  env?: Record<string, string>;
  /** Cores the target runs on (taskset's list syntax, e.g. "0"); default: wherever the kernel puts it. */
  cpus?: string;
  /** CPU time the target may use once it listens, in cores (e.g. 0.25: a quarter of one); default: no cap. */
  cores?: number;
}

/**
 * tickgate runs as shipped (accounts included): each start gets an embedded database of its own here, so runs in
 * parallel never share one, and nothing is left in the checkout.
 */
let dataRoot: string | undefined;
function freshDataDir(): string {
  if (!dataRoot) {
    const root = mkdtempSync(join(tmpdir(), 'tickgate-bench-data-'));
    dataRoot = root;
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  return mkdtempSync(join(dataRoot, 'run-'));
}

/**
 * A data directory whose embedded database already exists, as on every start of a self-hosted gateway but its first.
 * The first start creates the database (PGlite's initdb) and holds about 200 MB more RSS for its first minute while
 * that memory drains, which would land in an idle baseline and make RSS per connection unreadable. So tickgate is
 * started once on a template directory and stopped, and each run starts on a copy of it.
 */
let template: Promise<string> | undefined;
async function existingDataDir(upstream: Record<string, string>): Promise<string> {
  if (!template) {
    const made = (async () => {
      const dir = freshDataDir();
      const first = await startChild([...tickgateNodeFlags(), join('dist/core/main.js')], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', TICKGATE_DATA_DIR: dir, ...upstream }, LISTENING);
      // The embedded database takes up to 30 s to close; a copy of one killed half-way would start every run dirty.
      const end = await stopChild(first.child, 45_000);
      if (end.code !== 0) throw new Error(`the tickgate that created the benchmarks' template database did not stop cleanly (${end.signal ?? `exit ${end.code}`})`);
      return dir;
    })();
    template = made;
    // A failed template is tried again by the next run, not handed to it.
    made.catch(() => {
      if (template === made) template = undefined;
    });
  }
  const dir = freshDataDir();
  cpSync(await template, dir, { recursive: true });
  return dir;
}

/** Variants that run without the database plugin: nothing opens their data directory's database. */
const WITHOUT_DATABASE: readonly Target[] = ['tickgate-market'];

/**
 * A data directory for a tickgate run: a copy of the template, unless the run brings its own database or runs
 * without one.
 */
function dataDirFor(env: Record<string, string> | undefined, upstream: Record<string, string>, target?: Target): Promise<string> | string {
  if (env?.TICKGATE_DATA_DIR || env?.DATABASE_URL || (target && WITHOUT_DATABASE.includes(target))) return freshDataDir();
  return existingDataDir(upstream);
}

export interface StartedTarget {
  /** The process whose memory is measured (the one gateway; in a cluster, the first gateway). */
  child: Child['child'];
  port: number;
  memory: Child['memory'];
  /** Where clients connect, spread in turn (a cluster's gateways); default [port]. */
  ports?: number[];
  /** The target's other processes (a cluster's second gateway and ingest node): their CPU counts, and they are stopped too. */
  others?: Array<Child['child']>;
  /** The ingest node's HTTP port (cluster: its stats say what it published on NATS). */
  ingestPort?: number;
  /** Removes what the run left outside its processes (a cluster's lease bucket on NATS). */
  cleanup?(): Promise<void>;
}

/**
 * tickgate as a cluster on this machine: one ingest node and two gateways on the NATS server at NATS_URL (default
 * nats://127.0.0.1:4222), on a subject prefix of their own.
 */
async function startCluster(o: TargetOptions, node: string[]): Promise<StartedTarget> {
  const natsUrl = process.env.NATS_URL || 'nats://127.0.0.1:4222';
  const prefix = `bench-${Math.random().toString(36).slice(2, 10)}`;
  const common = {
    HOST: '127.0.0.1', LOG_LEVEL: 'info', BINANCE_WS_URL: o.wsUrl, BINANCE_REST_URL: o.restUrl, NATS_URL: natsUrl,
    TICKGATE__CLUSTER__SUBJECT_PREFIX: prefix, TICKGATE__LIMITS__MAX_CONNECTIONS_PER_IP: '0',
    ...(o.maxChannelsPerClient ? { TICKGATE__LIMITS__MAX_CHANNELS_PER_CLIENT: String(Math.max(50, o.maxChannelsPerClient)) } : {}),
    ...o.env,
  };
  const started: Child[] = [];
  try {
    started.push(await startChild([...tickgateNodeFlags(), ...node, join('dist/core/main.js')], { ...common, ROLE: 'ingest', PORT: '0', TICKGATE__CLUSTER__NODE_NAME: `${prefix}-ingest`, ...(o.shards ? { SHARDS: String(o.shards) } : {}) }, LISTENING));
    for (const name of ['gw-1', 'gw-2']) {
      started.push(await startChild([...tickgateNodeFlags(), ...node, join('dist/core/main.js')], { ...common, ROLE: 'gateway', PORT: '0', TICKGATE_DATA_DIR: await dataDirFor(o.env, { BINANCE_WS_URL: o.wsUrl, BINANCE_REST_URL: o.restUrl }), TICKGATE__CLUSTER__NODE_NAME: `${prefix}-${name}` }, LISTENING));
    }
  } catch (err) {
    for (const c of started) c.child.kill('SIGKILL');
    throw new Error(`the cluster target did not start (is a NATS server with JetStream at ${natsUrl}? set NATS_URL): ${(err as Error).message}`);
  }
  const [ingest, gw1, gw2] = started as [Child, Child, Child];
  return {
    child: gw1.child,
    port: Number(gw1.match[1]),
    memory: gw1.memory,
    ports: [Number(gw1.match[1]), Number(gw2.match[1])],
    others: [gw2.child, ingest.child],
    ingestPort: Number(ingest.match[1]),
    cleanup: async () => {
      const { connect } = await import('@nats-io/transport-node');
      const { Kvm } = await import('@nats-io/kv');
      const nc = await connect({ servers: natsUrl, timeout: 2000, reconnect: false });
      await new Kvm(nc).create(`${prefix}-leases`).then((kv) => kv.destroy()).catch(() => undefined);
      await nc.close();
    },
  };
}

/** Starts a target server on a free port; resolves once it listens. */
export async function startTarget(target: Target, o: TargetOptions): Promise<StartedTarget> {
  const upstream = { BINANCE_WS_URL: o.wsUrl, BINANCE_REST_URL: o.restUrl };
  const node = ['--expose-gc', '--import', pathToFileURL(join(PACKAGE_ROOT, 'dist/bench/gc-on-signal.js')).href, ...(o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : [])];
  let started: Child;
  if (target === 'tickgate-cluster') {
    if (o.cores) throw new Error('a CPU cap is for one server process; the cluster target runs three');
    return startCluster(o, node);
  }
  const variant = VARIANTS[target];
  if (target === 'tickgate' || variant) {
    started = await startChild([...tickgateNodeFlags(), ...node, join('dist/core/main.js')], {
      PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', TICKGATE_DATA_DIR: await dataDirFor(o.env, upstream, target), ...upstream,
      // Every bench client comes from this machine: the per-address cap would refuse all but the first 200.
      TICKGATE__LIMITS__MAX_CONNECTIONS_PER_IP: '0',
      ...(o.shards ? { SHARDS: String(o.shards) } : {}),
      ...(o.maxChannelsPerClient ? { TICKGATE__LIMITS__MAX_CHANNELS_PER_CLIENT: String(Math.max(50, o.maxChannelsPerClient)) } : {}),
      ...variant,
      ...o.env,
    }, LISTENING, o.cpus);
  } else if (target === 'uws-ceiling') {
    started = await startChild([...node, join('dist/bench/peers/uws-ceiling.js')], { PORT: '0', ...upstream, SYMBOLS: (o.symbols ?? ['BTCUSDT']).join(','), KINDS: (o.kinds ?? ['price']).join(',') }, LISTENING, o.cpus);
  } else {
    buildNestPeer();
    started = await startChild([...node, join('dist/bench/peers/nestjs/main.js')], { PORT: '0', ...upstream }, LISTENING, o.cpus);
  }
  // Capped only once it listens: a start (the embedded database's) is no part of what is measured.
  if (o.cores) {
    try {
      capCpu(started.child, o.cores);
    } catch (err) {
      await stopChild(started.child);
      throw err;
    }
  }
  return { child: started.child, port: Number(started.match[1]), memory: started.memory };
}

const NEST_SRC = join(PACKAGE_ROOT, 'bench/peers/nestjs');
const NEST_OUT = join(PACKAGE_ROOT, 'dist/bench/peers/nestjs/main.js');

/**
 * The NestJS peer is not part of the product's build (`npm run build`): it is compiled here, the first time a run
 * needs it and again when its sources change. It needs the devDependencies (NestJS itself).
 */
export function buildNestPeer(): void {
  const built = existsSync(NEST_OUT) ? statSync(NEST_OUT).mtimeMs : 0;
  const newest = Math.max(...readdirSync(NEST_SRC).map((f) => statSync(join(NEST_SRC, f)).mtimeMs));
  if (built >= newest) return;
  const require = createRequire(import.meta.url);
  try {
    require.resolve('@nestjs/core');
  } catch {
    throw new Error('the NestJS peer needs the devDependencies (NestJS): run npm install without --omit=dev, or leave nestjs out of --targets');
  }
  process.stderr.write('[bench] compiling the NestJS peer (bench/peers/nestjs)\n');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', NEST_SRC], { cwd: PACKAGE_ROOT, stdio: 'inherit' });
}
