// The memory budget for slow clients: bytes queued to each client and to all of them together, checked on a timer.
import type { WebSocket } from 'uWebSockets.js';
import type { Logger } from './logger.js';
import { CLOSE_CODES } from './errors.js';

export interface BudgetedClient {
  id: string;
  remoteAddress: string;
  closed: boolean;
  /** Set when the budget closed the client. */
  dropping?: boolean;
}

export interface QueueBudgetOptions {
  /** Bytes queued to all clients together (limits.maxQueuedBytes). */
  totalBytes: number;
  /** Bytes queued to one client (limits.maxBackpressureBytes). */
  perClientBytes: number;
  /** How often the queues are read. */
  checkMs: number;
  /**
   * How long uWS keeps a socket after end() when its client does not take the close frame (its ping timeout): the
   * queue of a client closed for being slow still takes memory that long, and is counted in the total meanwhile.
   */
  closingMs: number;
  log: Logger;
  sockets: () => Iterable<WebSocket<BudgetedClient>>;
  /** Told of each client the budget closes (metrics). */
  dropped?: (reason: 'client' | 'total') => void;
}

/** Under the total budget again, with this much room: one check frees enough for more than one interval of growth. */
const REFILL = 0.8;
/**
 * Memory a queued byte takes: uWS keeps a client's queue in a buffer that grows by doubling and does not shrink as it
 * drains, so a queue of N bytes can hold up to 2N. The total budget is a budget of memory: it counts this.
 */
export const MEMORY_PER_QUEUED_BYTE = 2;

/**
 * The clients' send queues live in uWS's native memory, out of V8's sight: this reads them every `checkMs` and closes
 * (4507) first every client above its own cap, then, while all of them together (with the queues of clients closed
 * in the last `closingMs`, which uWS still holds) are above the total, the clients with the most queued, until the
 * total is back under 80 % of the budget. Cost: one native call per open socket per check.
 */
export class QueueBudget {
  private timer: NodeJS.Timeout | undefined;
  /** Bytes queued at the last check (clients being closed included), for stats and metrics. */
  queuedBytes = 0;
  droppedTotal = 0;
  /** Queues of the clients closed in the last `closingMs`: uWS frees them only when their socket ends. */
  private closing: Array<{ at: number; bytes: number }> = [];
  private closingBytes = 0;

  constructor(private readonly opts: QueueBudgetOptions) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.opts.checkMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass: returns the ids of the clients it closed. */
  check(): string[] {
    const { totalBytes, perClientBytes, closingMs } = this.opts;
    const now = Date.now();
    while (this.closing.length && now - this.closing[0]!.at > closingMs) this.closingBytes -= this.closing.shift()!.bytes;
    let total = this.closingBytes;
    const over: Array<{ ws: WebSocket<BudgetedClient>; queued: number }> = [];
    const candidates: Array<{ ws: WebSocket<BudgetedClient>; queued: number }> = [];
    for (const ws of this.opts.sockets()) {
      const c = ws.getUserData();
      if (c.closed) continue;
      const queued = ws.getBufferedAmount();
      total += queued;
      if (queued === 0 || c.dropping) continue;
      if (queued > perClientBytes) over.push({ ws, queued });
      else candidates.push({ ws, queued });
    }
    this.queuedBytes = total;
    const closed: string[] = [];
    for (const { ws, queued } of over) {
      total -= queued;
      closed.push(this.drop(ws, queued, 'client', `${queued} bytes queued, over the ${perClientBytes}-byte limit per client (limits.maxBackpressureBytes)`));
    }
    if (total * MEMORY_PER_QUEUED_BYTE > totalBytes) {
      const target = (totalBytes * REFILL) / MEMORY_PER_QUEUED_BYTE;
      const before = total;
      candidates.sort((a, b) => b.queued - a.queued);
      for (const { ws, queued } of candidates) {
        if (total <= target) break;
        total -= queued;
        closed.push(this.drop(ws, queued, 'total', `${queued} bytes queued while all clients together had ${before} (${before * MEMORY_PER_QUEUED_BYTE} bytes of memory counted), over limits.maxQueuedBytes (${totalBytes})`));
      }
    }
    return closed;
  }

  private drop(ws: WebSocket<BudgetedClient>, queued: number, reason: 'client' | 'total', why: string): string {
    const c = ws.getUserData();
    c.dropping = true;
    this.droppedTotal++;
    this.closing.push({ at: Date.now(), bytes: queued });
    this.closingBytes += queued;
    this.opts.dropped?.(reason);
    this.opts.log.warn({ client: c.id, remoteAddress: c.remoteAddress, queuedBytes: queued, code: CLOSE_CODES.SLOW_CONSUMER }, `slow client closed: ${why}`);
    // The close frame queues behind what the client has not read: a client that reads, however slowly, learns why.
    // The socket leaves the channels at once (uWS runs the close handler inside end()); one that reads nothing at all
    // is cut at uWS's ping timeout after end() (16 s with the default idleTimeoutSeconds), and its queue is counted in
    // the total until then.
    ws.end(CLOSE_CODES.SLOW_CONSUMER, 'too slow: read faster or subscribe to fewer channels');
    return c.id;
  }
}
