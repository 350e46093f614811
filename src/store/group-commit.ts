/**
 * Group commit: adds and removes that arrive in the same tick (or within `windowMs`) are written
 * by one call to `write` (one transaction), and every caller's promise settles with it. While a
 * write is in flight, new operations gather in the next batch, so a slow backend gets bigger
 * batches rather than more transactions.
 *
 * Every wait is bounded: a batch that has not committed `timeoutMs` after its first operation
 * arrived is rejected with STORE_UNAVAILABLE. A batch still queued at that point is dropped
 * unwritten; one already being written may still commit (the caller was told it failed, so the
 * job may be replayed once more at the next start: at-least-once, never lost-but-acknowledged).
 */
import { StoreError, StoreErrorCode, unavailable } from './errors.js';
import type { StoreKey, StoredJob } from './types.js';

export interface BatchWriter {
  /** Write all adds (upserts, in order) and removes (deletes) atomically. `adds` and `removes` never share a key. */
  (adds: StoredJob[], removes: StoreKey[]): Promise<void>;
}

export interface GroupCommitOptions {
  /** Store name for error messages. */
  store: string;
  timeoutMs: number;
  /** Extra time to gather operations before writing; 0 = the rest of the current tick. */
  windowMs?: number;
  /** Cap per transaction so one batch stays a reasonable size. */
  maxOpsPerBatch?: number;
  maxBytesPerBatch?: number;
  /** Told the outcome of every write, for health tracking and counters. */
  onWrite?(ok: boolean, batch: { adds: number; removes: number }, error?: Error): void;
}

interface Batch {
  readonly adds: Map<StoreKey, StoredJob>;
  readonly removes: Set<StoreKey>;
  /** What every operation of the batch is handed: one promise per batch, not per operation. */
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
  /** Operations taken into the batch. */
  ops: number;
  bytes: number;
  settled: boolean;
  timer?: NodeJS.Timeout;
  /** Set while the batch is being written: stops waiting for the write when the batch expires. */
  abandon?: (error: Error) => void;
}

const DEFAULT_MAX_OPS = 5000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export class GroupCommitter {
  /** Batches waiting to be written; the last one accepts new operations. */
  private readonly queued: Batch[] = [];
  private writing = false;
  private scheduled = false;
  private readonly maxOps: number;
  private readonly maxBytes: number;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly write: BatchWriter,
    private readonly options: GroupCommitOptions,
  ) {
    this.maxOps = options.maxOpsPerBatch ?? DEFAULT_MAX_OPS;
    this.maxBytes = options.maxBytesPerBatch ?? DEFAULT_MAX_BYTES;
  }

  add(job: StoredJob): Promise<void> {
    const size = job.data.length + job.functionName.length + job.unique.length + job.reducer.length;
    const batch = this.openBatch(size);
    // remove-then-add of one key nets out to the add (writes are upserts).
    if (batch.removes.size > 0) batch.removes.delete(job.key);
    const adds = batch.adds;
    if (adds.has(job.key)) adds.delete(job.key); // a re-add goes to the end, in add order
    adds.set(job.key, job);
    return this.taken(batch, size);
  }

  remove(key: StoreKey): Promise<void> {
    const batch = this.openBatch(0);
    // add-then-remove in one batch: nothing to write for the add; still delete any older row.
    batch.adds.delete(key);
    batch.removes.add(key);
    return this.taken(batch, 0);
  }

  /** Resolves once nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.writing && this.queued.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Count an operation just put into `batch`, and see that the batch gets written. */
  private taken(batch: Batch, bytes: number): Promise<void> {
    batch.bytes += bytes;
    batch.ops += 1;
    this.schedule();
    return batch.done;
  }

  private openBatch(bytes: number): Batch {
    const last = this.queued[this.queued.length - 1];
    if (last && last.ops < this.maxOps && (last.bytes + bytes <= this.maxBytes || last.ops === 0)) return last;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const batch: Batch = { adds: new Map(), removes: new Set(), done, resolve, reject, ops: 0, bytes: 0, settled: false };
    batch.timer = setTimeout(() => this.expire(batch), this.options.timeoutMs);
    this.queued.push(batch);
    return batch;
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      void this.writeNext();
    };
    const windowMs = this.options.windowMs ?? 0;
    if (windowMs > 0) setTimeout(run, windowMs);
    else setImmediate(run);
  }

  private async writeNext(): Promise<void> {
    const batch = this.queued.shift();
    if (!batch) {
      this.notifyIdle();
      return;
    }
    this.writing = true;
    const adds = [...batch.adds.values()];
    const removes = [...batch.removes];
    const counts = { adds: adds.length, removes: removes.length };
    let outcome: { ok: true } | { ok: false; error: Error };
    try {
      // The write has its own bound; also stop waiting on it once the batch has expired,
      // so one hung write cannot stall every later batch.
      const abandoned = new Promise<never>((_, reject) => {
        batch.abandon = reject;
      });
      await Promise.race([this.write(adds, removes), abandoned]);
      outcome = { ok: true };
    } catch (error) {
      outcome = { ok: false, error: unavailable(this.options.store, 'write failed', error) };
    }
    this.writing = false;
    if (batch.settled) {
      // Expired while being written: its callers were already rejected and counted.
    } else if (outcome.ok) {
      this.options.onWrite?.(true, counts);
      this.settle(batch, undefined);
    } else {
      this.options.onWrite?.(false, counts, outcome.error);
      this.settle(batch, outcome.error);
    }
    if (this.queued.length > 0) this.schedule();
    else this.notifyIdle();
  }

  private expire(batch: Batch): void {
    if (batch.settled) return;
    const queuedAt = this.queued.indexOf(batch);
    if (queuedAt >= 0) this.queued.splice(queuedAt, 1); // never started: drop it unwritten
    const error = this.timeoutError();
    this.settle(batch, error);
    this.options.onWrite?.(false, { adds: batch.adds.size, removes: batch.removes.size }, error);
    batch.abandon?.(error);
  }

  private timeoutError(): StoreError {
    return new StoreError(StoreErrorCode.UNAVAILABLE, this.options.store, `no answer from the backend within ${this.options.timeoutMs} ms`);
  }

  private settle(batch: Batch, error: Error | undefined): void {
    if (batch.settled) return;
    batch.settled = true;
    clearTimeout(batch.timer);
    if (error) batch.reject(error);
    else batch.resolve();
  }

  private notifyIdle(): void {
    if (this.writing || this.queued.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
