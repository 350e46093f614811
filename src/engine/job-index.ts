import { parseDecimal } from '../protocol/bytes.js';
import type { Job } from './job.js';

const PAGE_SIZE = 1024;
/** A finished page with this few jobs left hands them to the sparse map and is freed. */
const SPARSE_AT = PAGE_SIZE / 32;

interface Page {
  readonly slots: (Job | undefined)[];
  live: number;
}

/**
 * Jobs by handle. Every handle this server issues is `<prefix>:<n>` with n from one
 * counter, so jobs are filed under n, in pages of consecutive numbers: filing and finding
 * a job is two array reads, with no hashing of the handle string and none of the cache
 * misses a hash table of a million queued jobs costs on every insert. A page whose jobs
 * are mostly gone moves the few left to a sparse map and is freed, so memory stays within
 * a small factor of the live jobs however scattered they are.
 * A handle not of the form `<prefix>:<n>` (as this server writes n) is not ours and finds nothing.
 */
export class JobIndex {
  private readonly pages = new Map<number, Page>();
  private readonly sparse = new Map<number, Job>();
  /** `<prefix>:`, the part of every handle before its number. */
  readonly head: string;
  private lastId = 0;
  private count = 0;

  constructor(handlePrefix: string) {
    this.head = `${handlePrefix}:`;
  }

  /** A fresh id for a new job. */
  nextId(): number {
    return ++this.lastId;
  }

  get size(): number {
    return this.count;
  }

  /** File a job under its id (ids come from nextId, so always into the newest page). */
  add(job: Job): void {
    const pageNo = Math.floor(job.id / PAGE_SIZE);
    let page = this.pages.get(pageNo);
    if (page === undefined) {
      page = { slots: new Array<Job | undefined>(PAGE_SIZE).fill(undefined), live: 0 };
      this.pages.set(pageNo, page);
      // The page before is finished now; it may have emptied while it was the newest.
      const before = this.pages.get(pageNo - 1);
      if (before !== undefined && before.live <= SPARSE_AT) this.retire(pageNo - 1, before);
    }
    page.slots[job.id % PAGE_SIZE] = job;
    page.live++;
    this.count++;
  }

  delete(job: Job): void {
    const id = job.id;
    const pageNo = Math.floor(id / PAGE_SIZE);
    const page = this.pages.get(pageNo);
    if (page === undefined) {
      if (this.sparse.delete(id)) this.count--;
      return;
    }
    const slot = id % PAGE_SIZE;
    if (page.slots[slot] !== job) return;
    page.slots[slot] = undefined;
    page.live--;
    this.count--;
    // The newest page still fills; older ones only empty.
    if (page.live <= SPARSE_AT && pageNo !== Math.floor(this.lastId / PAGE_SIZE)) this.retire(pageNo, page);
  }

  /** Free a finished page, moving the jobs left in it to the sparse map. */
  private retire(pageNo: number, page: Page): void {
    this.pages.delete(pageNo);
    for (const left of page.slots) if (left !== undefined) this.sparse.set(left.id, left);
  }

  get(handle: string): Job | undefined {
    const id = this.idOf(handle);
    if (id === 0) return undefined;
    const page = this.pages.get(Math.floor(id / PAGE_SIZE));
    return page !== undefined ? page.slots[id % PAGE_SIZE] : this.sparse.get(id);
  }

  /** Every job, oldest handle first. */
  values(): Job[] {
    const all: Job[] = [...this.sparse.values()];
    for (const page of this.pages.values()) for (const job of page.slots) if (job !== undefined) all.push(job);
    return all.sort((a, b) => a.id - b.id);
  }

  /** n of `<prefix>:<n>` written as this server writes it (no sign, no leading zero); else 0. */
  idOf(handle: string): number {
    return handle.startsWith(this.head) ? parseDecimal(handle, this.head.length) : 0;
  }
}
