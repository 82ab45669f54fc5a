// At most one call per interval with the latest value: the shape of a depth-like channel fed by frequent updates.

export interface ThrottleLatest<T> {
  /** Offers a value: sent at once when the interval has passed, else kept (replacing an older one) until it ends. */
  push(value: T): void;
  /** Drops a waiting value and its timer (call it from the channel's closer). */
  close(): void;
}

/**
 * Calls `send` with the latest value at most once per `intervalMs`; a value pushed sooner waits for the end of the
 * interval, replaced by any newer one, so the last state is never lost and an older one never follows a newer one.
 * `send` returns false when it sent nothing (e.g. nothing changed): the interval then does not start.
 */
export function throttleLatest<T>(intervalMs: number, send: (value: T) => boolean | void): ThrottleLatest<T> {
  let sentAt = -Infinity;
  let pending: { value: T } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deliver = (value: T) => {
    if (send(value) !== false) sentAt = Date.now();
  };
  const fire = () => {
    timer = undefined;
    // A timer may fire a little early by the wall clock (the event loop's clock lags it): never before the interval ends.
    const left = sentAt + intervalMs - Date.now();
    if (left > 0 && pending) {
      timer = setTimeout(fire, left);
      return;
    }
    const p = pending;
    pending = undefined;
    if (p) deliver(p.value);
  };
  return {
    push(value) {
      const wait = sentAt + intervalMs - Date.now();
      if (wait <= 0) {
        pending = undefined;
        clearTimeout(timer);
        timer = undefined;
        deliver(value);
        return;
      }
      pending = { value };
      timer ??= setTimeout(fire, wait);
    },
    close() {
      clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
  };
}
