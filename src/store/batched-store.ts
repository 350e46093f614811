/**
 * What the durable stores share: group commit, health, counters, open/close state and a
 * recovery probe. A backend supplies only how to open, write a batch, probe and close.
 */
import { GroupCommitter } from './group-commit.js';
import { HealthState } from './health.js';
import { StoreError, StoreErrorCode, unavailable } from './errors.js';
import { checkJob } from './validate.js';
import type { JobStore, StoreHealthListener, StoreKey, StoreStats, StoredJob } from './types.js';

export interface BatchedStoreOptions {
  /** Bound on every wait (connect, write, replay), in milliseconds. */
  timeoutMs: number;
  /** Extra time to gather operations into one transaction; 0 = the current tick. */
  batchWindowMs?: number;
  /** How often to probe an unhealthy backend so health recovers without traffic. */
  probeIntervalMs?: number;
}

interface MutableStats {
  flushes: number;
  failedFlushes: number;
  jobsAdded: number;
  jobsRemoved: number;
}

export abstract class BatchedStore implements JobStore {
  abstract readonly name: string;
  private readonly health = new HealthState();
  private readonly counters: MutableStats = { flushes: 0, failedFlushes: 0, jobsAdded: 0, jobsRemoved: 0 };
  private committer?: GroupCommitter;
  private state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  private probeTimer?: NodeJS.Timeout;

  constructor(protected readonly base: BatchedStoreOptions) {}

  get stats(): StoreStats {
    return this.counters;
  }

  get healthy(): boolean {
    return this.health.isHealthy;
  }

  onHealthChange(listener: StoreHealthListener): void {
    this.health.onChange(listener);
  }

  async open(): Promise<StoredJob[]> {
    if (this.state !== 'new') throw new StoreError(StoreErrorCode.INVALID, this.name, `open() called twice (state ${this.state})`);
    this.state = 'opening';
    try {
      const jobs = await this.withTimeout('open', this.openBackend());
      this.committer = new GroupCommitter((adds, removes) => this.writeBatch(adds, removes), {
        store: this.name,
        timeoutMs: this.base.timeoutMs,
        windowMs: this.base.batchWindowMs,
        onWrite: (ok, counts, error) => this.recordWrite(ok, counts, error),
      });
      this.state = 'open';
      return jobs;
    } catch (error) {
      this.state = 'closed';
      await this.closeBackend().catch(() => undefined);
      throw error instanceof StoreError ? error : unavailable(this.name, 'open failed', error);
    }
  }

  add(job: StoredJob): Promise<void> {
    try {
      const committer = this.ready();
      checkJob(this.name, job, this.numberKeysBelow());
      return committer.add(job);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  remove(key: StoreKey): Promise<void> {
    try {
      return this.ready().remove(key);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const committer = this.committer;
    this.state = 'closed';
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    if (committer) await committer.idle();
    await this.closeBackend();
  }

  /** Connect, check or create the schema, and return the stored jobs in insertion order. */
  protected abstract openBackend(): Promise<StoredJob[]>;
  /** Write one batch atomically; must itself give up within about `timeoutMs`. */
  protected abstract writeBatch(adds: StoredJob[], removes: StoreKey[]): Promise<void>;
  /** Every number key newKey() has handed out is below this; 0 for a store without newKey(). */
  protected numberKeysBelow(): number {
    return 0;
  }
  /** Cheap check that the backend answers again; undefined when recovery is seen only by writes. */
  protected probe?(): Promise<void>;
  protected abstract closeBackend(): Promise<void>;

  /** For backends that learn of an outage or a recovery from their connection's events. */
  protected reportHealth(healthy: boolean, error?: Error): void {
    if (this.state !== 'open') return;
    this.health.set(healthy, error);
    if (healthy) this.stopProbing();
    else this.startProbing();
  }

  protected withTimeout<T>(what: string, work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreError(StoreErrorCode.UNAVAILABLE, this.name, `${what}: no answer within ${this.base.timeoutMs} ms`)),
        this.base.timeoutMs,
      );
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  private ready(): GroupCommitter {
    if (this.state !== 'open' || !this.committer) {
      throw new StoreError(StoreErrorCode.CLOSED, this.name, this.state === 'closed' ? 'the store is closed' : 'open() has not completed');
    }
    return this.committer;
  }

  private recordWrite(ok: boolean, counts: { adds: number; removes: number }, error?: Error): void {
    if (ok) {
      this.counters.flushes += 1;
      this.counters.jobsAdded += counts.adds;
      this.counters.jobsRemoved += counts.removes;
    } else {
      this.counters.failedFlushes += 1;
    }
    this.reportHealth(ok, error);
  }

  private startProbing(): void {
    const probe = this.probe?.bind(this);
    if (!probe || this.probeTimer || this.state !== 'open') return;
    let probing = false;
    this.probeTimer = setInterval(() => {
      if (probing) return;
      probing = true;
      this.withTimeout('probe', probe())
        .then(() => this.reportHealth(true))
        .catch(() => undefined)
        .finally(() => {
          probing = false;
        });
    }, this.base.probeIntervalMs ?? 1000);
    this.probeTimer.unref();
  }

  private stopProbing(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }
}
