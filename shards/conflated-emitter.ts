// A conflated channel's emitter (kind:SYM@RATE): at most one data frame per interval, the latest, the last one never dropped.
import type { Emitter } from './shard-api.js';
import { throttleLatest } from './throttle-latest.js';

export interface ConflatedEmitter extends Emitter {
  /** Drops a waiting frame and its timer (the channel closed). */
  close(): void;
}

interface Pending {
  type: string;
  data: unknown;
  state: { type: string; data: unknown } | undefined;
}

/**
 * Wraps a channel's emitter: a data frame goes out at once when the interval since the last one has passed, else it
 * waits for the interval's end, replaced by any newer one. So a subscriber never gets more than one frame per
 * interval, never an older value after a newer one, and always the latest value once the producer goes quiet. A
 * delta channel conflated sends whole states (the `state` of its frames), since changes cannot be skipped. Error
 * frames and raw frames pass at once (they are not values to conflate). Only the frames that go out are serialised.
 */
export function conflatedEmitter(out: Emitter, intervalMs: number): ConflatedEmitter {
  const frames = throttleLatest(intervalMs, (f: Pending) => out.emit(f.type, f.data, f.state));
  return {
    // A change cannot be conflated (dropping one loses it): the whole state it leads to goes out in its place.
    emit: (type, data, state) => frames.push(state ? { type: state.type, data: state.data, state: undefined } : { type, data, state: undefined }),
    raw: (payload) => out.raw(payload),
    error: (code, message) => out.error(code, message),
    close: () => frames.close(),
  };
}
