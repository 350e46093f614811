/**
 * Durability of background jobs (issue 5). The engine tells the store what changed; a
 * background job is acknowledged (JOB_CREATED, or its handle over HTTP) only once the
 * promise returned by `add` has resolved.
 */

/** Gearman priorities, in queue order. */
export const Priority = { HIGH: 0, NORMAL: 1, LOW: 2 } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

/**
 * A stored job's durable identity, unique across server restarts (the job handle is not:
 * gearmand's handle counter restarts at 1): a number when the store made it (`newKey`, the
 * SQLite store's row numbers), else the engine's string; `5` and `'5'` are different keys.
 * A store refuses a number key its own `newKey` did not hand out (all of them, without one).
 */
export type StoreKey = string | number;

/** What is stored for one background job. Strings hold raw bytes as latin1 (lossless). */
export interface StoredJob {
  /** Assigned by the engine at creation (from `newKey` when the store has it). */
  readonly key: StoreKey;
  readonly functionName: string;
  /** May be empty, '-', or up to 64 bytes; coalescing is the engine's business, not the store's. */
  readonly unique: string;
  readonly data: Buffer;
  readonly priority: Priority;
  /** Epoch seconds at which the job may run; 0 means now. */
  readonly when: number;
  /** Reducer name of SUBMIT_REDUCE_JOB_BACKGROUND (gearmand forgets it; we keep it). */
  readonly reducer: string;
}

export type StoreHealthListener = (healthy: boolean, error?: Error) => void;

/** Counters for metrics and tests; they only grow. */
export interface StoreStats {
  /** Write transactions committed (group commit: one per batch of adds and removes). */
  readonly flushes: number;
  /** Write transactions that failed or timed out (their callers were rejected). */
  readonly failedFlushes: number;
  /** Jobs whose add was committed. */
  readonly jobsAdded: number;
  /** Keys whose remove was committed. */
  readonly jobsRemoved: number;
}

export interface JobStore {
  /** Short name for logs and metrics: 'memory', 'sqlite', 'postgres', 'redis'. */
  readonly name: string;
  /**
   * Connect, create or check the schema (refusing unknown versions or corrupt data with a
   * clear Error), and return every stored job in the order it was first added.
   */
  open(): Promise<StoredJob[]>;
  /**
   * A key for a new job, when the store wants to choose it (SQLite makes it the row's number,
   * so it needs no index): a positive integer, never handed out twice. Without it, callers
   * make their own string keys, unique across restarts and across servers sharing the
   * backend. Called only while the store is open.
   */
  newKey?(): number;
  /** Durably store a job. Resolves only once the job would survive a crash (group commit). */
  add(job: StoredJob): Promise<void>;
  /** Forget a job that completed, failed or was cancelled. Removing an absent key is not an error. */
  remove(key: StoreKey): Promise<void>;
  /** Flush what is pending and release connections and files. */
  close(): Promise<void>;
  /** Told when the backend becomes unreachable or recovers, so the server can log and refuse early. */
  onHealthChange?(listener: StoreHealthListener): void;
  /** Live counters (the object is updated in place). */
  readonly stats?: StoreStats;
}
