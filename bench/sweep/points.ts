// The cost-growth sweep's points: connections (idle and active) and channels per client, each a fan-out run.
import type { FanoutOptions } from '../fanout/fanout.js';
import { BENCH_SYMBOLS, serves, type Target } from '../targets.js';

export type Sweep = 'connections' | 'channels';

export interface SweepPoint {
  sweep: Sweep;
  /** The line the point belongs to within its sweep: "idle", "active", "1000 clients". */
  line: string;
  /** Where it sits on the x axis: connections, or channels per client. */
  x: number;
  target: Target;
  options: Omit<FanoutOptions, 'target' | 'name'>;
}

export interface SweepSettings {
  targets: Target[];
  connections: number[];
  /** Clients of the channels sweep. */
  channelClients: number;
  warmupSeconds: number;
  seconds: number;
  settleSeconds: number;
  only?: Sweep;
}

/**
 * Ticker events per second per symbol in the connections sweep: each active client gets 20 × 0.25 = 5 frames/s, so
 * 19,000 clients take 95,000 frames/s (in bursts of 380,000 every 4 s), inside the ~100,000 frames/s the suite runs
 * on this 2-core machine with the clients on the same cores. Every point has the same load per client, so the
 * growth is the connections' alone.
 */
export const ACTIVE_RATE = 0.25;
/** The channels sweep's rate: 1000 clients × 48 ticker-paced channels × 2/s is 96,000 frames/s at its top point. */
export const CHANNELS_RATE = 2;
export const CHANNEL_COUNTS = [1, 20, 50] as const;

/**
 * Channels per client as kinds × symbols, every channel but two paced by the exchange's ticker rate:
 * 1 is price of BTCUSDT; 20 is price of 20 symbols; 50 is price and ticker of all 24 symbols (48) plus `klines:1m`
 * and `klines:5m` of one symbol of the client's own (klines come every 2 s whatever the rate; there is no 25th symbol).
 */
export function channelMix(n: (typeof CHANNEL_COUNTS)[number]): Pick<FanoutOptions, 'symbols' | 'kinds' | 'focusKinds'> {
  if (n === 1) return { symbols: BENCH_SYMBOLS.slice(0, 1), kinds: ['price'] };
  if (n === 20) return { symbols: BENCH_SYMBOLS.slice(0, 20), kinds: ['price'] };
  return { symbols: [...BENCH_SYMBOLS], kinds: ['price', 'ticker'], focusKinds: ['klines:1m', 'klines:5m'] };
}

const servesAll = (target: Target, kinds: readonly string[]) => kinds.every((k) => serves(target, k));

/** Every run of the sweep, in order: connections (each count idle, then active), then channels per client. */
export function sweepPoints(s: SweepSettings): SweepPoint[] {
  // 10,000 and more connections need several loopback source addresses (about 28,000 ports each, one target port).
  const common = { warmupSeconds: s.warmupSeconds, seconds: s.seconds, settleSeconds: s.settleSeconds, sourceAddresses: 4 };
  const points: SweepPoint[] = [];
  if (s.only !== 'channels') {
    for (const clients of s.connections) {
      for (const target of s.targets) {
        points.push({ sweep: 'connections', line: 'idle', x: clients, target, options: { ...common, clients, symbols: BENCH_SYMBOLS.slice(0, 1), kinds: [], rate: 1, pingEverySeconds: 10 } });
        points.push({ sweep: 'connections', line: 'active', x: clients, target, options: { ...common, clients, symbols: BENCH_SYMBOLS.slice(0, 20), kinds: ['price'], rate: ACTIVE_RATE } });
      }
    }
  }
  if (s.only !== 'connections') {
    for (const n of CHANNEL_COUNTS) {
      const mix = channelMix(n);
      // The ceiling is a reference line for the connections only: it does not serve klines:5m (the 50-channel mix),
      // and leaving it out here keeps the whole sweep within 15 minutes.
      for (const target of s.targets.filter((t) => t !== 'uws-ceiling')) {
        if (!servesAll(target, [...mix.kinds, ...(mix.focusKinds ?? [])])) continue;
        points.push({ sweep: 'channels', line: `${s.channelClients} clients`, x: n, target, options: { ...common, clients: s.channelClients, ...mix, rate: CHANNELS_RATE } });
      }
    }
  }
  return points;
}
