// Stable symbol → shard routing (FNV-1a, 32 bit): every channel of one symbol lands on the same shard.

export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function shardFor(routeKey: string, shardCount: number): number {
  return shardCount <= 1 ? 0 : fnv1a(routeKey) % shardCount;
}
