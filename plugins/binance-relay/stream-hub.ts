// The relay's streams on the acceptor: one hold per stream whoever listens, each frame published once per payload form.
import type { AcceptorApi } from '../../core/plugin-api.js';
import type { RelayStream } from './stream-names.js';

/** The topic of a stream's raw payloads (`/ws/…` connections) or combined ones (`/stream…`, `{"stream","data"}`). */
export function topicOf(stream: string, combined: boolean): string {
  return combined ? `c:${stream}` : `r:${stream}`;
}

interface Hold {
  stream: RelayStream;
  /** Connections holding the stream with raw payloads, and with combined ones. */
  raw: number;
  combined: number;
  /** Lets the channel go; undefined while the channel has ended (its producer failed) and is not held again yet. */
  release: (() => void) | undefined;
  /** `{"stream":"<name>","data":` : the combined payload is this, the raw payload, and `}`. */
  prefix: Buffer;
  /** Pause before holding an ended stream again. */
  retryMs: number;
}

const RETRY_FIRST_MS = 5000;

const SUFFIX = Buffer.from('}');

/**
 * Holds each relayed stream's channel once (`watchRaw`), for as long as any connection wants it, and hands every
 * frame to uWebSockets.js's fan-out: the raw payload as the shard made it, and the combined form made from it by
 * concatenation, once per frame and only when a connection wants that form. Nothing here runs per connection.
 */
export class StreamHub {
  private readonly holds = new Map<string, Hold>();

  constructor(private readonly api: AcceptorApi<unknown>) {}

  /** Streams held now. */
  get size(): number {
    return this.holds.size;
  }

  /** One more connection wants the stream in this form. Throws a TickgateError when the channel cannot be held. */
  join(stream: RelayStream, combined: boolean): void {
    let hold = this.holds.get(stream.name);
    if (!hold) {
      hold = { stream, raw: 0, combined: 0, release: undefined, prefix: Buffer.from(`{"stream":${JSON.stringify(stream.name)},"data":`), retryMs: RETRY_FIRST_MS };
      this.hold(hold);
      this.holds.set(stream.name, hold);
    } else if (!hold.release) this.hold(hold);
    if (combined) hold.combined++;
    else hold.raw++;
  }

  /** One connection no longer wants the stream in this form; the last one lets the channel go. */
  leave(name: string, combined: boolean): void {
    const hold = this.holds.get(name);
    if (!hold) return;
    if (combined) hold.combined = Math.max(0, hold.combined - 1);
    else hold.raw = Math.max(0, hold.raw - 1);
    if (hold.raw + hold.combined > 0) return;
    this.holds.delete(name);
    hold.release?.();
  }

  private hold(hold: Hold): void {
    const { name } = hold.stream;
    const raw = topicOf(name, false);
    const combined = topicOf(name, true);
    hold.release = this.api.watchRaw(hold.stream.channel, (bytes) => {
      if (hold.raw > 0) this.api.publishTopic(raw, bytes);
      if (hold.combined > 0) this.api.publishTopic(combined, Buffer.concat([hold.prefix, bytes, SUFFIX]));
    }, () => {
      // The channel failed (its producer, or the exchange refused the data): the connections keep the stream, as
      // Binance keeps a stream that sends nothing, and it is held again after a pause (or by the next subscriber).
      hold.release = undefined;
      this.api.log.warn({ stream: name, retryInMs: hold.retryMs }, 'a relayed stream\'s channel ended: holding it again after a pause');
      this.retry(hold);
    });
  }

  /** Holds an ended stream again while connections still want it, after a pause that doubles up to a minute. */
  private retry(hold: Hold): void {
    const delay = hold.retryMs;
    hold.retryMs = Math.min(60_000, hold.retryMs * 2);
    setTimeout(() => {
      if (this.holds.get(hold.stream.name) !== hold || hold.release) return;
      try {
        this.hold(hold);
        hold.retryMs = RETRY_FIRST_MS;
      } catch (err) {
        this.api.log.warn({ stream: hold.stream.name, err: (err as Error).message }, 'a relayed stream could not be held again: retrying');
        this.retry(hold);
      }
    }, delay).unref();
  }
}
