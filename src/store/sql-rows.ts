/**
 * The jobs table both SQL stores share (schema version 1, see sqlite.ts and postgres.ts): its
 * columns, the values of one row and how a row read back becomes a job. Only the column types
 * and the statement plumbing differ between SQLite and PostgreSQL.
 */
import { checkReplayedJob, columnBytes, integerOf, nameBytes, textOf } from './validate.js';
import type { Priority, StoredJob } from './types.js';

/** In the order of `putRow`. */
export const JOB_COLUMNS = 'job_key, function_name, unique_key, data, priority, when_to_run, reducer';

/** The columns an upsert of an existing row replaces: all but its key (and its place, `seq`). */
const REPLACED_COLUMNS = 'SET function_name = excluded.function_name, unique_key = excluded.unique_key,\n  data = excluded.data, priority = excluded.priority, when_to_run = excluded.when_to_run, reducer = excluded.reducer';

/** An insert of an existing key replaces it: the engine re-adds a job to change it. */
export const UPDATE_ON_CONFLICT = `ON CONFLICT (job_key) DO UPDATE ${REPLACED_COLUMNS}`;

/** The same for a table whose rows the store numbers itself: an insert of an existing `seq` replaces it. */
export const UPDATE_SEQ_ON_CONFLICT = `ON CONFLICT (seq) DO UPDATE ${REPLACED_COLUMNS}`;

/** Parameters per row: the columns of JOB_COLUMNS. */
export const ROW_WIDTH = 7;

/**
 * One job's row at `values[at, at + ROW_WIDTH)`, in JOB_COLUMNS order: bytes columns as
 * Buffers (binary-safe), numbers as numbers. Written in place, so a multi-row statement's
 * parameters need no array per row.
 */
export function putRow(values: unknown[], at: number, job: StoredJob): void {
  values[at] = job.key;
  values[at + 1] = nameBytes(job.functionName);
  values[at + 2] = columnBytes(job.unique);
  values[at + 3] = job.data;
  values[at + 4] = job.priority;
  values[at + 5] = job.when;
  values[at + 6] = columnBytes(job.reducer);
}

/**
 * A row selected as `seq, ${JOB_COLUMNS}`, refused (StoreError CORRUPT) unless it is a valid job.
 * `location` (a file, say) prefixes the row's description in that error.
 */
export function jobFromRow(store: string, table: string, row: Record<string, unknown>, location?: string): StoredJob {
  const text = (value: unknown): string | undefined => (Buffer.isBuffer(value) ? textOf(value) : undefined);
  const where = `${location === undefined ? '' : `${location}: `}row seq=${String(row.seq)} of ${table}`;
  return checkReplayedJob(store, where, {
    // A number is SQLite's NULL job_key read as the row's seq (a key newKey() made).
    key: typeof row.job_key === 'string' || typeof row.job_key === 'number' ? row.job_key : undefined,
    functionName: text(row.function_name),
    unique: text(row.unique_key),
    data: Buffer.isBuffer(row.data) ? row.data : undefined,
    priority: integerOf(row.priority) as Priority,
    when: integerOf(row.when_to_run),
    reducer: text(row.reducer),
  });
}
