import type { Priority, StoreKey, StoredJob } from '../store/types.js';
import type { FunctionState } from './function-state.js';
import type { Peer } from './peer.js';
import type { JobView } from './types.js';

export const JobState = {
  /** Waiting for the durable store before it is queued and acknowledged. */
  persisting: 0,
  /** An epoch job whose time has not come. */
  scheduled: 1,
  queued: 2,
  running: 3,
  /** Gone: completed, failed, cancelled or withdrawn. */
  done: 4,
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

/**
 * Shared by every job nobody waits on (background jobs): one array less per job for the
 * garbage collector to copy. Frozen: `attach` gives a job its own array before appending.
 */
export const NO_CLIENTS = Object.freeze([]) as unknown as Peer[];

/**
 * A job in memory. Fields are engine-private; listeners see it as a JobView. Kept small:
 * a million queued background jobs are a million of these surviving young-generation GCs.
 * A background job is also what the durable store is handed (a StoredJob): no copy per job
 * for the collector to move while the store's batch waits.
 */
export class Job implements JobView, StoredJob {
  /** n of the handle `<prefix>:<n>` (JobIndex files jobs under it). */
  readonly id: number;
  readonly fn: FunctionState;
  readonly unique: string;
  readonly data: Buffer;
  readonly priority: Priority;
  readonly background: boolean;
  /** Epoch seconds; 0 = now. */
  readonly when: number;
  readonly reducer: string;
  /** Key of the coalescing index it is filed under, if any. */
  readonly coalesceKey: string | undefined;
  /**
   * Durable row key when the store holds it. Cleared only once the job's add has settled, so
   * the key a store reads (`key`) never changes while the store holds the job.
   */
  storeKey: StoreKey | undefined;
  /** While the store writes it: settles once the job is stored (or refused), as its submitters hear. */
  persistWait: Promise<void> | undefined = undefined;
  state: JobState;
  /** Foreground clients waiting on it, oldest first (forwarded newest first, as gearmand). */
  clients: Peer[] = NO_CLIENTS;
  /** While a worker runs it; what only a running job has lives there, not in every queued job. */
  run: JobRun | undefined = undefined;
  retries = 0;
  /** Links of the priority queue it sits in. */
  prev: Job | undefined;
  next: Job | undefined;

  constructor(
    id: number,
    fn: FunctionState,
    unique: string,
    data: Buffer,
    priority: Priority,
    background: boolean,
    when: number,
    reducer: string,
    coalesceKey: string | undefined,
    state: JobState,
  ) {
    this.id = id;
    this.fn = fn;
    this.unique = unique;
    this.data = data;
    this.priority = priority;
    this.background = background;
    this.when = when;
    this.reducer = reducer;
    this.coalesceKey = coalesceKey;
    this.state = state;
  }

  get handle(): string {
    return this.fn.handleHead + this.id;
  }

  get functionName(): string {
    return this.fn.name;
  }

  /** StoredJob's key: only read by a store, which is handed jobs that have one. */
  get key(): StoreKey {
    return this.storeKey!;
  }
}

/** One assignment of a job to a worker: made when a worker takes it, dropped when it ends. */
export class JobRun {
  readonly worker: Peer;
  /** Progress from WORK_STATUS; a requeued job starts again at 0/0. */
  numerator = 0;
  denominator = 0;
  /** Abandoned or cancelled while the worker runs it: results go nowhere. */
  ignored = false;
  /** Cancelled by admin `cancel job` while the worker runs it: a second cancel finds nothing. */
  cancelled = false;
  /** CAN_DO_TIMEOUT timer of this assignment. */
  timeoutTimer: unknown = undefined;

  constructor(worker: Peer) {
    this.worker = worker;
  }
}

/** FIFO of jobs with O(1) removal from the middle (withdrawn or cancelled jobs). */
export class JobQueue {
  private head: Job | undefined;
  private tail: Job | undefined;
  length = 0;

  push(job: Job): void {
    job.prev = this.tail;
    job.next = undefined;
    if (this.tail) this.tail.next = job;
    else this.head = job;
    this.tail = job;
    this.length++;
  }

  shift(): Job | undefined {
    const job = this.head;
    if (job) this.remove(job);
    return job;
  }

  remove(job: Job): void {
    if (job.prev) job.prev.next = job.next;
    else this.head = job.next;
    if (job.next) job.next.prev = job.prev;
    else this.tail = job.prev;
    job.prev = job.next = undefined;
    this.length--;
  }

  *[Symbol.iterator](): IterableIterator<Job> {
    for (let job = this.head; job; job = job.next) yield job;
  }
}
