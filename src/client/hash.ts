/**
 * Server choice by the job's unique id: the same unique always goes to the same server
 * (while it is up), so gearmand's coalescing of equal uniques keeps working across servers.
 */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i) & 0xff;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Indexes 0..count-1 starting at the hashed one: the preferred server, then failover order. */
export function failoverOrder(key: string, count: number): number[] {
  const start = count > 1 ? fnv1a(key) % count : 0;
  const order: number[] = [];
  for (let i = 0; i < count; i++) order.push((start + i) % count);
  return order;
}
