// At most one call per interval on average with the latest value: the shape of a depth-like channel fed by frequent updates.

export interface ThrottleLatest<T> {
  /** Offers a value: sent at once when the rate allows, else kept (replacing an older one) until it does. */
  push(value: T): void;
  /** Drops a waiting value and its timer (call it from the channel's closer). */
  close(): void;
}

/**
 * Calls `send` with the latest value at most once per `intervalMs` on average, and at most `burst` times back to back
 * (a token bucket: `burst` sends in hand, one more each interval). A value pushed when none is in hand waits until
 * one is, replaced by any newer one, so the last state is never lost and an older one never follows a newer one.
 * `send` returns false when it sent nothing (e.g. nothing changed): that uses up nothing.
 *
 * With `burst` 1 (the default) sends are at least `intervalMs` apart. Fed at the interval's own rate (a book whose
 * exchange sends a change every 100 ms, throttled to 100 ms), that holds every update that comes a little early, and
 * each hold starts the next interval later: the holds add up until one update is dropped, so updates wait 0–100 ms.
 * A `burst` of 2 lets an update through on time after a late one while keeping the same average rate.
 */
export function throttleLatest<T>(intervalMs: number, send: (value: T) => boolean | void, burst = 1): ThrottleLatest<T> {
  let tokens = burst;
  let at = Date.now();
  let pending: { value: T } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const refill = (now: number) => {
    tokens = Math.min(burst, tokens + (now - at) / intervalMs);
    at = now;
  };
  const deliver = (value: T) => {
    if (send(value) === false) return;
    tokens -= 1;
    // Counted from when the send ended (a frame is stamped during it), not from before: the next one can never be
    // stamped less than an interval after this one. The time the send took is not refilled: the rate errs low.
    at = Date.now();
  };
  const fire = () => {
    timer = undefined;
    refill(Date.now());
    // A timer may fire a little early by the wall clock (the event loop's clock lags it): never before a send is due.
    if (tokens < 1 && pending) {
      timer = setTimeout(fire, Math.ceil((1 - tokens) * intervalMs));
      return;
    }
    const p = pending;
    pending = undefined;
    if (p) deliver(p.value);
  };
  return {
    push(value) {
      refill(Date.now());
      if (tokens >= 1) {
        pending = undefined;
        clearTimeout(timer);
        timer = undefined;
        deliver(value);
        return;
      }
      pending = { value };
      timer ??= setTimeout(fire, Math.ceil((1 - tokens) * intervalMs));
    },
    close() {
      clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
  };
}
