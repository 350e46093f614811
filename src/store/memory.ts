/**
 * No durability (gearmand's `builtin` queue): jobs live in this object only. `open()` returns
 * what was added to this same object before (useful for tests of replay), otherwise nothing.
 */
import { StoreError, StoreErrorCode } from './errors.js';
import { checkJob } from './validate.js';
import type { JobStore, StoreHealthListener, StoreKey, StoreStats, StoredJob } from './types.js';

export class MemoryStore implements JobStore {
  readonly name = 'memory';
  /** Map keeps insertion order, which is the replay order. */
  private readonly jobs = new Map<StoreKey, StoredJob>();
  private isOpen = false;
  private readonly counters = { flushes: 0, failedFlushes: 0, jobsAdded: 0, jobsRemoved: 0 };

  get stats(): StoreStats {
    return this.counters;
  }

  async open(): Promise<StoredJob[]> {
    this.isOpen = true;
    return [...this.jobs.values()];
  }

  add(job: StoredJob): Promise<void> {
    try {
      this.checkOpen();
      checkJob(this.name, job);
    } catch (error) {
      return Promise.reject(error);
    }
    this.jobs.set(job.key, job);
    this.counters.jobsAdded += 1;
    return Promise.resolve();
  }

  remove(key: StoreKey): Promise<void> {
    try {
      this.checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.jobs.delete(key)) this.counters.jobsRemoved += 1;
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  /** Memory never becomes unreachable. */
  onHealthChange(_listener: StoreHealthListener): void {}

  private checkOpen(): void {
    if (!this.isOpen) throw new StoreError(StoreErrorCode.CLOSED, this.name, 'the store is not open');
  }
}
