/** Tracks whether a backend is usable and tells listeners on every change (not on every call). */
import type { StoreHealthListener } from './types.js';

export class HealthState {
  private healthy = true;
  private readonly listeners: StoreHealthListener[] = [];

  get isHealthy(): boolean {
    return this.healthy;
  }

  onChange(listener: StoreHealthListener): void {
    this.listeners.push(listener);
  }

  set(healthy: boolean, error?: Error): void {
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    for (const listener of this.listeners) {
      try {
        listener(healthy, healthy ? undefined : error);
      } catch {
        // A faulty listener must not break the store's bookkeeping.
      }
    }
  }
}
