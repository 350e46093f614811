/**
 * Token-bucket rate limits with an injected clock (no timers): one bucket per key (a token
 * name or a client address), refilled continuously at `perSecond` up to `burst`.
 */
import type { RateConfig } from './config.js';

export type Clock = () => number;

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

const ALLOWED: RateDecision = Object.freeze({ allowed: true });

export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly perSecond: number;
  readonly burst: number;

  constructor(rate: RateConfig, now: number) {
    this.perSecond = rate.perSecond;
    this.burst = Math.max(1, rate.burst);
    this.tokens = this.burst;
    this.last = now;
  }

  /** Take one token if there is one; otherwise say when the next one comes. */
  take(now: number): RateDecision {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return ALLOWED;
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - this.tokens) / this.perSecond) * 1000) };
  }

  /** Whether the bucket is back to full (then it can be forgotten without changing behaviour). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perSecond);
  }
}

/**
 * Buckets per key, bounded in number: full buckets are forgotten (a fresh one behaves the
 * same), and when `maxKeys` is reached the oldest keys are evicted so an attacker cycling
 * addresses cannot grow memory.
 */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly rate: RateConfig;
  private readonly clock: Clock;
  private readonly maxKeys: number;
  private lastSweep: number;

  constructor(rate: RateConfig, clock: Clock = Date.now, maxKeys = 100_000) {
    this.rate = rate;
    this.clock = clock;
    this.maxKeys = maxKeys;
    this.lastSweep = clock();
  }

  get enabled(): boolean {
    return this.rate.perSecond > 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Take one request for `key`; `rate` overrides the default (per-token settings). */
  take(key: string, rate?: RateConfig): RateDecision {
    const effective = rate ?? this.rate;
    if (!(effective.perSecond > 0)) return ALLOWED;
    const now = this.clock();
    this.sweep(now);
    let bucket = this.buckets.get(key);
    if (bucket === undefined || bucket.perSecond !== effective.perSecond || bucket.burst !== Math.max(1, effective.burst)) {
      if (bucket === undefined && this.buckets.size >= this.maxKeys) this.evictOldest();
      bucket = new TokenBucket(effective, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 10_000) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }

  private evictOldest(): void {
    // Map iteration order is insertion order: the first keys are the oldest.
    let drop = Math.max(1, Math.floor(this.maxKeys / 10));
    for (const key of this.buckets.keys()) {
      this.buckets.delete(key);
      if (--drop === 0) break;
    }
  }
}
