// One node's NATS connection: connects (retrying for ever), reports losing and regaining it, and opens the lease bucket.
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { Logger } from '../logger.js';

export interface NatsLink {
  nc: NatsConnection;
  kv: KV;
  /** Whether the connection is up now. */
  connected(): boolean;
}

export interface NatsLinkEvents {
  disconnected(): void;
  reconnected(): void;
}

/** NATS cannot be reached, or has no JetStream: the start stops with this message (exit 1). */
export class NatsUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NatsUnavailableError';
  }
}

/** How long one dial may take (the first connection's failure stops the start: a cluster node without NATS has nothing to do). */
const DIAL_TIMEOUT_MS = 5000;

export async function openNats(opts: { servers: string[]; name: string; bucket: string; ttlMs: number; log: Logger; events: NatsLinkEvents }): Promise<NatsLink> {
  const { log } = opts;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: opts.servers,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // A server that accepts TCP but says nothing holds a dial this long (each reconnection attempt too).
      timeout: DIAL_TIMEOUT_MS,
      // A server that stops answering (paused, half-open TCP) is noticed within about a lease TTL: two missed pings.
      pingInterval: Math.max(500, Math.min(5000, Math.floor(opts.ttlMs / 3))),
      maxPingOut: 2,
    });
  } catch (err) {
    throw new NatsUnavailableError(`cannot connect to NATS at ${opts.servers.join(', ')}: ${(err as Error).message} (is nats-server running with JetStream, -js? set cluster.natsUrl or NATS_URL)`);
  }
  let up = true;
  // A handler that throws is logged: it must not end the watch of the connection's state.
  const run = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      log.error({ err }, `handling NATS ${what} failed (contained)`);
    }
  };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' && up) {
        up = false;
        log.warn({ server: 'server' in s ? s.server : undefined }, 'NATS connection lost: this node\'s channels are stale until it is back');
        run('disconnection', () => opts.events.disconnected());
      } else if (s.type === 'reconnect' && !up) {
        up = true;
        log.info({ server: 'server' in s ? s.server : undefined }, 'NATS connection back');
        run('reconnection', () => opts.events.reconnected());
      }
    }
  })();
  let kv: KV;
  try {
    // Created if missing, opened as it is otherwise; a value lives a TTL unless it is written again.
    kv = await new Kvm(nc).create(opts.bucket, { history: 1, ttl: opts.ttlMs });
  } catch (err) {
    await nc.close();
    throw new NatsUnavailableError(`cannot open the lease bucket "${opts.bucket}" on NATS: ${(err as Error).message} (the server needs JetStream: start nats-server with -js)`);
  }
  return { nc, kv, connected: () => up };
}
