import { connectionDefaults, type BackoffOptions } from './options.js';

/** Exponential backoff between reconnection attempts to one server, reset on success. */
export class Backoff {
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly factor: number;
  private failures = 0;
  /** Epoch ms before which no new attempt should be made. */
  private notBefore = 0;

  constructor(options: BackoffOptions = {}) {
    const d = connectionDefaults.backoff;
    this.initialDelayMs = options.initialDelayMs ?? d.initialDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? d.maxDelayMs;
    this.factor = options.factor ?? d.factor;
  }

  /** Record a failed attempt; returns the delay before the next one. */
  fail(now = Date.now()): number {
    const delay = Math.min(this.maxDelayMs, this.initialDelayMs * this.factor ** this.failures);
    this.failures++;
    this.notBefore = now + delay;
    return delay;
  }

  succeed(): void {
    this.failures = 0;
    this.notBefore = 0;
  }

  /** Milliseconds until an attempt is allowed (0 when allowed now). */
  waitMs(now = Date.now()): number {
    return Math.max(0, this.notBefore - now);
  }
}
