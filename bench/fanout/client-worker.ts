// Worker thread of the fan-out benchmark: holds a share of the clients, subscribes them, reports counters on request.
import { parentPort, workerData } from 'node:worker_threads';
import { channelName } from './channels.js';
import { LoadClient, type ClientCounters, type FrameSizes } from './load-client.js';

export interface ClientWorkerData {
  host: string;
  port: number;
  /** Ports to spread the clients over, in turn (a cluster's gateways); default [port]. */
  ports?: number[];
  channels: string[];
  /** Kinds each client also subscribes for one symbol of its own: the client with global index i takes symbols[(first + i) mod n]. */
  focus: { kinds: string[]; symbols: string[]; first: number };
  sampleEvery: number;
  /** Clients offer permessage-deflate. */
  deflate?: boolean;
  /** Local source addresses to spread connections over (127.0.0.x), past one address's ephemeral ports. */
  localAddresses: string[];
  /** Each client sends {"type":"ping"} this often (0: never), spread evenly over the period. */
  pingEverySeconds: number;
}

export interface ClientReport {
  frames: number;
  bytes: number;
  /** Frames missing inside each client's seq range per channel (lost), and frames seen twice (duplicated). */
  missing: number;
  /** Subscribed channels that delivered no data frame in the window: a loss the seq ranges cannot show. */
  silent: number;
  duplicated: number;
  pongs: number;
  latencies: number[];
  latencyByType: Record<string, number[]>;
  /** Data frames and payload bytes by frame type. */
  sizeByType: Record<string, FrameSizes>;
  errors: number;
  connectMs: number[];
  connected: number;
}

const data = workerData as ClientWorkerData;
const port = parentPort!;
const fresh = (): ClientCounters => ({ frames: 0, bytes: 0, seqs: new Map(), latencies: [], latencyByType: {}, sizeByType: {}, errors: 0, pongs: 0 });
let connectErrors = 0;
const clients: LoadClient[] = [];
const connectMs: number[] = [];

const { kinds, symbols, first } = data.focus;
const channelsOf = (i: number) => {
  const symbol = symbols[(first + i) % symbols.length]!;
  const focus = kinds.map((k) => channelName(k, symbol));
  return [...data.channels, ...focus.filter((c) => !data.channels.includes(c))];
};
/** Global index of each connected client (its focus symbol): the connect request says where its block starts. */
const indexes: number[] = [];
/** Clients subscribed so far. */
let subscribed = 0;

/** Subscribes the clients connected since the last call, each to its channel list. */
function subscribeAll(): void {
  for (; subscribed < clients.length; subscribed++) {
    const channels = channelsOf(indexes[subscribed]!);
    if (channels.length) clients[subscribed]!.send(JSON.stringify({ type: 'subscribe', channels }));
  }
  port.postMessage({ t: 'subscribe', subscribed });
}

/** Clients opened so far (connected or failed): the index of the next one. */
let opened = 0;

/**
 * Opens `n` more clients, 50 at a time; then (re)spreads the heartbeats over all of them. Subscribing is a separate
 * step (subscribeAll), so a target's early traffic does not slow the handshakes of later clients.
 * A server that cannot take them all within `deadlineMs` keeps those it took: the rest count as connect errors.
 */
async function connectMore(n: number, deadlineMs: number, firstIndex: number): Promise<void> {
  const batch = 50;
  const deadline = Date.now() + deadlineMs;
  for (let done = 0; done < n; done += batch) {
    const size = Math.min(batch, n - done);
    if (Date.now() >= deadline) {
      connectErrors += n - done;
      break;
    }
    await Promise.all(
      Array.from({ length: size }, async (_, j) => {
        const index = opened++;
        const global = firstIndex + done + j;
        const local = data.localAddresses.length ? data.localAddresses[index % data.localAddresses.length] : undefined;
        const c = new LoadClient(data.host, data.ports?.length ? data.ports[index % data.ports.length]! : data.port, fresh(), data.sampleEvery, local, data.deflate);
        try {
          connectMs.push(await c.open(Math.max(1, deadline - Date.now())));
          clients.push(c);
          indexes.push(global);
        } catch {
          connectErrors++;
        }
      }),
    );
  }
  if (pinger) clearInterval(pinger);
  if (data.pingEverySeconds > 0 && clients.length) {
    // Heartbeats spread over the period: one tick every period / clients.
    let next = 0;
    const period = data.pingEverySeconds * 1000;
    const tick = Math.max(10, period / clients.length);
    const perTick = Math.max(1, Math.round((clients.length * tick) / period));
    pinger = setInterval(() => {
      for (let i = 0; i < perTick; i++) {
        clients[next % clients.length]!.send('{"type":"ping"}');
        next++;
      }
    }, tick);
  }
  port.postMessage({ t: 'connect', connected: clients.length });
}

let pinger: NodeJS.Timeout | undefined;

port.on('message', (msg: { t: 'connect' | 'subscribe' | 'reset' | 'report' | 'stop'; n?: number; first?: number; deadlineMs?: number }) => {
  if (msg.t === 'connect') void connectMore(msg.n ?? 0, msg.deadlineMs ?? 60_000, msg.first ?? 0);
  else if (msg.t === 'subscribe') subscribeAll();
  else if (msg.t === 'reset') {
    // Measurement starts now: clients keep their sockets, counters start from zero.
    for (const c of clients) c.counters = fresh();
    port.postMessage({ t: 'reset' });
  } else if (msg.t === 'report') {
    let frames = 0;
    let bytes = 0;
    let missing = 0;
    let duplicated = 0;
    let silent = 0;
    let errors = connectErrors;
    let pongs = 0;
    const latencies: number[] = [];
    const latencyByType: Record<string, number[]> = {};
    const sizeByType: Record<string, FrameSizes> = {};
    clients.forEach((c, i) => {
      const k = c.counters;
      // Only clients that were subscribed before the window started are expected to hear from every channel.
      if (i < subscribed) for (const ch of channelsOf(indexes[i]!)) if (!k.seqs.has(ch)) silent++;
      frames += k.frames;
      bytes += k.bytes;
      errors += k.errors;
      pongs += k.pongs;
      for (const l of k.latencies) latencies.push(l);
      for (const [type, ls] of Object.entries(k.latencyByType)) {
        const into = (latencyByType[type] ??= []);
        for (const l of ls) into.push(l);
      }
      for (const [type, n] of Object.entries(k.sizeByType)) {
        const into = (sizeByType[type] ??= { frames: 0, bytes: 0 });
        into.frames += n.frames;
        into.bytes += n.bytes;
      }
      for (const r of k.seqs.values()) {
        missing += r.missing;
        duplicated += r.repeated;
      }
    });
    const report: ClientReport = {
      frames,
      bytes,
      missing,
      silent,
      duplicated,
      pongs,
      latencies,
      latencyByType,
      sizeByType,
      errors,
      connectMs,
      connected: clients.filter((c) => !c.closed).length,
    };
    port.postMessage({ t: 'report', report });
  } else if (msg.t === 'stop') {
    if (pinger) clearInterval(pinger);
    for (const c of clients) c.close();
    port.close();
  }
});

