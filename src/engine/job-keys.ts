import { createHash } from 'node:crypto';
import { JobState, type Job } from './job.js';
import type { JobStatus } from './types.js';

/** Workloads up to this size coalesce on their bytes directly; larger ones on a digest. */
const DIRECT_KEY_BYTES = 64;
/** Memory a job costs beyond its workload: the object, its handle and index entries. */
const JOB_OVERHEAD_BYTES = 320;
/** Memory one client attachment costs (its slot in the job's list and the connection's set). */
export const ATTACHMENT_BYTES = 16;

export function statusOf(job: Job | undefined): JobStatus {
  if (job === undefined) return { known: false, running: false, numerator: 0, denominator: 0, clients: 0 };
  return {
    known: true,
    running: job.state === JobState.running,
    numerator: job.run?.numerator ?? 0,
    denominator: job.run?.denominator ?? 0,
    clients: job.clients.length,
  };
}

/**
 * Where a submission coalesces (spec 1.5 step 5): '' never; '-' on the workload (empty
 * workload: never); anything else on the unique. Workload keys start with NUL, which a
 * unique (a NUL-terminated field) cannot contain.
 */
export function coalesceKeyOf(unique: string, data: Buffer): string | undefined {
  if (unique === '') return undefined;
  if (unique !== '-') return unique;
  if (data.length === 0) return undefined;
  if (data.length <= DIRECT_KEY_BYTES) return '\0' + data.toString('latin1');
  return '\0#' + createHash('sha1').update(data).digest('binary') + data.length;
}

export function jobCost(data: Buffer, unique: string): number {
  return JOB_OVERHEAD_BYTES + data.length + unique.length;
}
