/**
 * The jobs table both SQL stores share (schema version 1, see sqlite.ts and postgres.ts): its
 * columns, the values of one row and how a row read back becomes a job. Only the column types
 * and the statement plumbing differ between SQLite and PostgreSQL.
 */
import { checkReplayedJob, columnBytes, integerOf, nameBytes, textOf } from './validate.js';
import type { Priority, StoredJob } from './types.js';

/** In the order of `rowValues`. */
export const JOB_COLUMNS = 'job_key, function_name, unique_key, data, priority, when_to_run, reducer';

/** An insert of an existing key replaces it: the engine re-adds a job to change it. */
export const UPDATE_ON_CONFLICT = `ON CONFLICT (job_key) DO UPDATE SET function_name = excluded.function_name, unique_key = excluded.unique_key,
  data = excluded.data, priority = excluded.priority, when_to_run = excluded.when_to_run, reducer = excluded.reducer`;

/** Bytes columns get Buffers (binary-safe), numbers stay numbers. */
export function rowValues(job: StoredJob): unknown[] {
  return [job.key, nameBytes(job.functionName), columnBytes(job.unique), job.data, job.priority, job.when, columnBytes(job.reducer)];
}


/**
 * A row selected as `seq, ${JOB_COLUMNS}`, refused (StoreError CORRUPT) unless it is a valid job.
 * `location` (a file, say) prefixes the row's description in that error.
 */
export function jobFromRow(store: string, table: string, row: Record<string, unknown>, location?: string): StoredJob {
  const text = (value: unknown): string | undefined => (Buffer.isBuffer(value) ? textOf(value) : undefined);
  const where = `${location === undefined ? '' : `${location}: `}row seq=${String(row.seq)} of ${table}`;
  return checkReplayedJob(store, where, {
    key: typeof row.job_key === 'string' ? row.job_key : undefined,
    functionName: text(row.function_name),
    unique: text(row.unique_key),
    data: Buffer.isBuffer(row.data) ? row.data : undefined,
    priority: integerOf(row.priority) as Priority,
    when: integerOf(row.when_to_run),
    reducer: text(row.reducer),
  });
}
