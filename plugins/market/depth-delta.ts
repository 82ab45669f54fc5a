// The changes between two depth frames' levels: what a depthDelta frame carries, so a client's book follows exactly.

/** A price level: [price, quantity]. A change with quantity 0 removes the level. */
export type Level = [number, number];

/**
 * The levels of `next` that are new or whose quantity changed, then the prices of `prev` that are gone (quantity 0).
 * Applied to `prev` (set each, remove the zeros), it gives exactly `next`'s set of levels: a level that left the top N
 * is removed explicitly, so a client never needs to know N. Both sides are short (N ≤ 100), so a map beats a merge
 * in clarity at no measurable cost.
 */
export function levelChanges(prev: readonly Level[], next: readonly Level[]): Level[] {
  const before = new Map<number, number>();
  for (const [price, qty] of prev) before.set(price, qty);
  const changes: Level[] = [];
  for (const [price, qty] of next) {
    if (before.get(price) !== qty) changes.push([price, qty]);
    before.delete(price);
  }
  for (const price of before.keys()) changes.push([price, 0]);
  return changes;
}
