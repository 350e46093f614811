import type { Job } from './job.js';

/**
 * Jobs by handle. Every handle this server issues is `<prefix>:<n>` with n from one
 * counter, so jobs are filed under n: a small-integer key hashes and compares without
 * touching the handle string, which matters with a million background jobs queued
 * (string keys cost a hash of every handle and a cache miss per comparison).
 * A handle not of that form is not ours and finds nothing.
 */
export class JobIndex {
  private readonly byId = new Map<number, Job>();
  /** `<prefix>:` */
  private readonly head: string;
  private lastId = 0;

  constructor(handlePrefix: string) {
    this.head = `${handlePrefix}:`;
  }

  /** A fresh id and its handle, for a new job. */
  nextId(): number {
    return ++this.lastId;
  }

  handleOf(id: number): string {
    return this.head + id;
  }

  get size(): number {
    return this.byId.size;
  }

  add(job: Job): void {
    this.byId.set(job.id, job);
  }

  delete(job: Job): void {
    this.byId.delete(job.id);
  }

  get(handle: string): Job | undefined {
    const id = this.idOf(handle);
    return id === 0 ? undefined : this.byId.get(id);
  }

  values(): IterableIterator<Job> {
    return this.byId.values();
  }

  /** n of `<prefix>:<n>` written as this server writes it (no sign, no leading zero); else 0. */
  idOf(handle: string): number {
    const head = this.head;
    const start = head.length;
    const end = handle.length;
    if (end === start || end - start > 15 || !handle.startsWith(head)) return 0;
    let id = 0;
    for (let i = start; i < end; i++) {
      const digit = handle.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9 || (digit === 0 && i === start)) return 0;
      id = id * 10 + digit;
    }
    return id;
  }
}
