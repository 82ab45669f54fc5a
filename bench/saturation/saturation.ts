// Saturation per core: one mix against one target, the server pinned to one core and the clients to the other, the
// load raised step by step (searchSaturation) until delivery or p99 fails.
import { cpus } from 'node:os';
import { startFanout, type FanoutResult, type FanoutSession } from '../fanout/fanout.js';
import { pinProcess } from '../processes.js';
import { BENCH_SYMBOLS, serves as servesKind, type Target } from '../targets.js';
import { LIMITS, searchSaturation, type Limits, type Saturation, type StepOutcome } from './search.js';

/** How a mix raises its load: the exchange's ticker rate (clients fixed), or the clients (rate fixed). */
export type Knob = 'rate' | 'clients';

export interface Mix {
  name: string;
  kinds: string[];
  focusKinds?: string[];
  knob: Knob;
  /** Rate per symbol when the knob is clients; clients when the knob is the rate. */
  fixed: number;
  /** The rising values of the knob. */
  ladder: number[];
}

const ALL_KINDS = ['price', 'ticker', 'trades', 'depth', 'klines:1m'];

/**
 * The three mixes. The price fan-out raises the ticker rate: every frame follows it. The mixes raise the clients
 * instead: their trades, depth (≤ 10/s per channel) and klines do not follow the ticker rate, so a higher rate would
 * turn them into price fan-outs; more clients keep each mix's proportions.
 */
export const MIXES: Record<string, Mix> = {
  price: { name: 'price 1000×20', kinds: ['price'], knob: 'rate', fixed: 1000, ladder: [1, 2, 4, 8, 16, 25, 33, 40, 50, 66, 83, 100] },
  mixed: { name: 'mixed (watchlist + focus) @5/s', kinds: ['price'], focusKinds: ['ticker', 'trades', 'depth', 'klines:1m'], knob: 'clients', fixed: 5, ladder: [250, 500, 1000, 1500, 2250, 3400, 5000, 7500] },
  '100ch': { name: '100 channels @1/s', kinds: ALL_KINDS, knob: 'clients', fixed: 1, ladder: [100, 250, 500, 750, 1000, 1500, 2250, 3400] },
};

/** The cores: the server's alone, the clients' and the exchange simulator's together (the simulator costs little). */
export const SERVER_CPUS = '0';
export const LOAD_CPUS = '1';

/** A step's measurement, with the two figures the search judges. */
export interface StepResult extends StepOutcome {
  fanout: FanoutResult;
  /** Frames per second per server core: frames/s ÷ the server's CPU in cores. */
  framesPerCore: number;
  /** Frames delivered per write syscall of the server (every kind where perf counted, else /proc's syscw). */
  framesPerWrite: number;
}

export interface SaturationResult {
  mix: string;
  knob: Knob;
  target: Target;
  search: Saturation<number, StepResult>;
}

/**
 * Delivery of a step. Price: frames received ÷ frames due, where due is every ticker event the exchange really
 * published in the window × the clients (each subscribes every symbol), so a simulator that falls behind its timer
 * does not count against the server. Mixes (no such count: depth is sent only when it changed): the clients held ×
 * the frames not missing inside the seq ranges, less the share of values tickgate's shards replaced while its acceptor
 * was behind (a whole-state channel sends only its latest value then, numbered without a gap). Behind otherwise, a
 * server queues rather than drops (TCP), which the p99 catches.
 */
export function deliveredRatio(r: FanoutResult, knob: Knob): number {
  if (knob === 'rate') {
    // Every client started subscribed: one that was dropped counts as not delivered. The window's edges cut through
    // rounds of ticks (all symbols tick together): one round more is granted, or a low rate's short window could lose
    // a whole round (at 1/s over 5 s, a fifth) to where its edges fell.
    const due = r.exchangeEventsPerSecond * r.scenario.clients;
    const round = r.scenario.clients * r.scenario.channelsPerClient;
    return due ? Math.round(Math.min(1, (r.framesPerSecond + round / (r.frames / Math.max(1, r.framesPerSecond))) / due) * 1000) / 1000 : 0;
  }
  const held = r.scenario.clients ? r.held / r.scenario.clients : 0;
  // tickgate behind: whole-state values replaced before they were sent leave no seq gap, so they are counted here
  // as a share of the values its shards produced. That weighs every channel alike: exact where every client holds
  // every channel (100ch), an estimate where clients hold different focus channels (mixed).
  const replaced = r.server?.conflated?.share ?? 0;
  return held * (r.frames + r.missing ? r.frames / (r.frames + r.missing) : 0) * (1 - replaced);
}

export function stepResult(r: FanoutResult, knob: Knob): StepResult {
  const cores = r.server.cpuPercent / 100;
  const writes = r.server.writeSyscalls?.total ?? r.server.syscw;
  return {
    fanout: r,
    deliveredRatio: deliveredRatio(r, knob),
    p99Ms: r.latencyMs.p99,
    framesPerCore: cores > 0 ? Math.round(r.framesPerSecond / cores) : 0,
    framesPerWrite: writes ? Math.round((r.frames / writes) * 10) / 10 : 0,
  };
}

export interface SaturationOptions {
  warmupSeconds: number;
  seconds: number;
  /** The ladder, if not the mix's own. */
  ladder?: number[];
  /** Measure one step between the last sustained and the first failed rate. */
  bisect?: boolean;
  profileDir?: string;
  /** CPU the server may use, in cores (a cgroup quota): with less than a core it saturates before the load core does. */
  serverCores?: number;
  /** The bar a step must pass (default LIMITS: 99 % delivered, p99 ≤ 50 ms). */
  limits?: Limits;
  /** Count the server's write syscalls with perf (default true). */
  countSyscalls?: boolean;
  log?: (line: string) => void;
}

/**
 * Pins this process (its client worker threads, and the exchange it starts) to the load core for the duration of `fn`,
 * then gives it every core back: the suite runs other scenarios after this one, unpinned.
 */
async function onLoadCore<T>(fn: () => Promise<T>): Promise<T> {
  pinProcess(process.pid, LOAD_CPUS);
  try {
    return await fn();
  } finally {
    pinProcess(process.pid, `0-${cpus().length - 1}`);
  }
}

/** Whether a target serves a mix's kinds (NestJS serves price, ticker and trades only). */
export function serves(target: Target, mix: Mix): boolean {
  return [...mix.kinds, ...(mix.focusKinds ?? [])].every((k) => servesKind(target, k));
}

export function runSaturation(mix: Mix, target: Target, o: SaturationOptions): Promise<SaturationResult> {
  return onLoadCore(() => search(mix, target, o));
}

async function search(mix: Mix, target: Target, o: SaturationOptions): Promise<SaturationResult> {
  const ladder = o.ladder ?? mix.ladder;
  const log = o.log ?? (() => undefined);
  let session: FanoutSession | undefined;
  let clients = 0;
  try {
    const measure = async (step: number): Promise<StepResult> => {
      if (!session) {
        clients = mix.knob === 'clients' ? step : mix.fixed;
        session = await startFanout({
          name: mix.name, target, clients, symbols: BENCH_SYMBOLS.slice(0, 20), kinds: mix.kinds, focusKinds: mix.focusKinds,
          rate: mix.knob === 'rate' ? step : mix.fixed, warmupSeconds: o.warmupSeconds, seconds: o.seconds,
          serverCpus: SERVER_CPUS, countSyscalls: o.countSyscalls ?? true, profileDir: o.profileDir, connectSeconds: 30, ...(o.serverCores ? { serverCores: o.serverCores } : {}),
          // Two client threads on one core: no more help from more, and fewer threads switch less.
          workers: 2,
        });
      } else if (mix.knob === 'rate') await session.setRate(step);
      else {
        await session.addClients(step - clients);
        clients = step;
      }
      const r = stepResult(await session.measure(), mix.knob);
      log(`[saturation] ${mix.name} ${target} ${mix.knob} ${step}: ${r.fanout.framesPerSecond} frames/s, delivered ${r.deliveredRatio.toFixed(3)}, p99 ${r.p99Ms} ms, server ${r.fanout.server.cpuPercent} %, clients ${r.fanout.client.cpuPercent} %`);
      return r;
    };
    // The rate can go down again for the bisection step; connected clients cannot be taken back.
    const between = o.bisect && mix.knob === 'rate' ? (a: number, b: number) => (b - a >= 2 ? Math.round((a + b) / 2) : undefined) : undefined;
    const search = await searchSaturation(ladder, measure, { limits: o.limits ?? LIMITS, ...(between ? { between } : {}) });
    return { mix: mix.name, knob: mix.knob, target, search };
  } finally {
    await (session as FanoutSession | undefined)?.close();
  }
}
