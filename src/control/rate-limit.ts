/** A token bucket's size and refill. */
export interface Rate {
  burst: number;
  perMinute: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets in memory, one per key (a client address), at most `maxKeys` of them: past that
 * the least recently used is forgotten, so no outside input grows memory without bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rate: Rate,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Take one token for `key`: 0 when allowed, else the milliseconds until one is free. */
  take(key: string): number {
    const now = this.now();
    const perMs = this.rate.perMinute / 60_000;
    const last = this.buckets.get(key);
    const tokens = last ? Math.min(this.rate.burst, last.tokens + (now - last.at) * perMs) : this.rate.burst;
    // Re-insert so the Map's order is least recently used first.
    this.buckets.delete(key);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now });
      return Math.ceil((1 - tokens) / perMs);
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return 0;
  }

  get size(): number {
    return this.buckets.size;
  }
}
