import type { Job } from './job.js';

/**
 * The jobs one connection waits on or runs. Almost always none or one (a client waits for
 * its job, a worker runs one), so that case holds the job in a field: adding and removing
 * one job per job through a Set cost hashing and, as deleted entries piled up, a rehash.
 * A connection with more jobs at once gets a Set, in insertion order like one.
 */
export class JobSet {
  private one: Job | undefined = undefined;
  private many: Set<Job> | undefined = undefined;

  get size(): number {
    if (this.many !== undefined) return this.many.size;
    return this.one === undefined ? 0 : 1;
  }

  has(job: Job): boolean {
    return this.many !== undefined ? this.many.has(job) : this.one === job;
  }

  add(job: Job): void {
    if (this.many !== undefined) {
      this.many.add(job);
    } else if (this.one === undefined || this.one === job) {
      this.one = job;
    } else {
      this.many = new Set([this.one, job]);
      this.one = undefined;
    }
  }

  delete(job: Job): void {
    if (this.many !== undefined) {
      this.many.delete(job);
      if (this.many.size === 0) this.many = undefined;
    } else if (this.one === job) {
      this.one = undefined;
    }
  }

  /** A snapshot, oldest first: safe to iterate while the set changes. */
  toArray(): Job[] {
    if (this.many !== undefined) return [...this.many];
    return this.one === undefined ? [] : [this.one];
  }
}
