/**
 * Checks shared by every backend: what may be stored (on add) and what a stored row must look
 * like to be replayed (on open). Replay refuses bad rows instead of skipping them: silently
 * dropping a background job is worse than refusing to start (gearmand aborts too, spec 4.2).
 */
import { StoreError, StoreErrorCode } from './errors.js';
import { Priority, type StoredJob } from './types.js';

/** Engine-assigned keys: printable ASCII so every backend can index them as text. */
const MAX_KEY_LENGTH = 128;
/** Table names are spliced into SQL, so only plain identifiers (gearmand 1.1 had an injection, spec 4.3). */
const TABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,50}$/;
/** gearmand: GEARMAN_MAX_UNIQUE_SIZE is 64 bytes. */
export const MAX_UNIQUE_BYTES = 64;

const PRIORITIES: readonly number[] = [Priority.HIGH, Priority.NORMAL, Priority.LOW];

export function checkTableName(store: string, table: string): string {
  if (!TABLE_PATTERN.test(table)) {
    throw new StoreError(StoreErrorCode.INVALID, store, `table name ${JSON.stringify(table)} must match ${TABLE_PATTERN}`);
  }
  return table;
}

/** 1-128 characters from '!' to '~'. A loop, not a regular expression: it runs for every add. */
function isKey(key: string): boolean {
  const length = key.length;
  if (length === 0 || length > MAX_KEY_LENGTH) return false;
  for (let i = 0; i < length; i++) {
    const code = key.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/**
 * Describe what is wrong with a job, or return undefined when it can be stored. A number key
 * is one the store made (newKey) and must be below `numberKeysBelow`, which is 0 for a store
 * that makes none: a number key it did not hand out would name a row it does not own.
 */
function jobProblem(job: Partial<StoredJob>, numberKeysBelow: number): string | undefined {
  if (typeof job.key === 'number') {
    if (!Number.isSafeInteger(job.key) || job.key <= 0 || job.key >= numberKeysBelow) return `key ${job.key} is a number this store's newKey() did not hand out`;
  } else if (typeof job.key !== 'string' || !isKey(job.key)) {
    return `key ${JSON.stringify(job.key)} must be 1-${MAX_KEY_LENGTH} printable ASCII characters, or a number from the store's newKey()`;
  }
  // An empty name is a function like any other: gearmand queues jobs for it (spec 1.5 step 4).
  if (typeof job.functionName !== 'string') return 'function name is missing';
  if (typeof job.unique !== 'string' || job.unique.length > MAX_UNIQUE_BYTES) return `unique is missing or longer than ${MAX_UNIQUE_BYTES} bytes`;
  if (!Buffer.isBuffer(job.data)) return 'data is missing or not bytes';
  if (typeof job.priority !== 'number' || !PRIORITIES.includes(job.priority)) return `priority ${String(job.priority)} is not 0, 1 or 2`;
  if (typeof job.when !== 'number' || !Number.isSafeInteger(job.when) || job.when < 0) return `when ${String(job.when)} is not a non-negative integer`;
  if (typeof job.reducer !== 'string') return 'reducer is missing';
  return undefined;
}

/** Refuse (StoreError INVALID) a job that cannot be stored; see jobProblem for `numberKeysBelow`. */
export function checkJob(store: string, job: StoredJob, numberKeysBelow = 0): void {
  const problem = jobProblem(job, numberKeysBelow);
  if (problem !== undefined) throw new StoreError(StoreErrorCode.INVALID, store, `cannot store job: ${problem}`);
}

/** Refuse to replay a row that is not a valid job. `where` names the row for the operator. */
export function checkReplayedJob(store: string, where: string, job: Partial<StoredJob>): StoredJob {
  // A replayed number key is the row's own number (SQLite), whatever newKey() will say next.
  const problem = jobProblem(job, Number.MAX_SAFE_INTEGER);
  if (problem !== undefined) {
    throw new StoreError(StoreErrorCode.CORRUPT, store, `${where} is corrupt (${problem}); fix or delete it, then start again`);
  }
  return job as StoredJob;
}

/** Latin1 strings hold raw bytes (see StoredJob); these convert without loss. */
export const bytesOf = (text: string): Buffer => Buffer.from(text, 'latin1');
export const textOf = (bytes: Buffer): string => bytes.toString('latin1');

/** Shared by every empty column (most uniques and reducers): drivers only read bound Buffers. */
const NO_BYTES: Buffer = Buffer.alloc(0);
export const columnBytes = (text: string): Buffer => (text.length === 0 ? NO_BYTES : bytesOf(text));

/** A batch's jobs mostly share one function name: its bytes are made once per run of it. */
let lastName = '';
let lastNameBytes: Buffer = NO_BYTES;
export function nameBytes(name: string): Buffer {
  if (name !== lastName) {
    lastNameBytes = bytesOf(name);
    lastName = name;
  }
  return lastNameBytes;
}

/** Parse a stored integer (number, bigint or decimal string); NaN when it is not one. */
export function integerOf(value: unknown): number {
  if (typeof value === 'number') return Number.isInteger(value) ? value : NaN;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^-?\d{1,16}$/.test(value)) return Number(value);
  if (Buffer.isBuffer(value) && /^-?\d{1,16}$/.test(value.toString('latin1'))) return Number(value.toString('latin1'));
  return NaN;
}

/**
 * Refuse a stored schema version that is not a number (corrupt) or newer than `supported` (a
 * later Gearport wrote it). `subject` names what is versioned, `holder` where the version is kept.
 */
export function checkSchemaVersion(store: string, stored: unknown, supported: number, subject: string, holder: string): void {
  const version = integerOf(stored);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new StoreError(StoreErrorCode.CORRUPT, store, `${subject}: schema version ${JSON.stringify(stored)} in ${holder} is not a version number`);
  }
  if (version > supported) {
    throw new StoreError(
      StoreErrorCode.SCHEMA_UNSUPPORTED,
      store,
      `${subject} has schema version ${version}, newer than this Gearport understands (${supported}); upgrade Gearport`,
    );
  }
}
