import { JobQueue, type Job } from './job.js';
import type { Peer } from './peer.js';

/** Everything the server keeps for one function name (gearman-spec 1.3). */
export class FunctionState {
  readonly name: string;
  /** `<prefix>:` of its jobs' handles: kept here, not in each of (maybe millions of) queued jobs. */
  readonly handleHead: string;
  /** Queues by priority: HIGH, NORMAL, LOW. */
  readonly queues: [JobQueue, JobQueue, JobQueue] = [new JobQueue(), new JobQueue(), new JobQueue()];
  /** Epoch jobs not yet due, by priority (counted by prioritystatus, as gearmand). */
  readonly scheduledCounts: [number, number, number] = [0, 0, 0];
  /** Jobs of this function by coalescing key (unique, or workload digest for '-'). */
  readonly byCoalesceKey = new Map<string, Job>();
  /** Registered workers, in registration order; `wakeCursor` walks it round-robin. */
  readonly workers: Peer[] = [];
  wakeCursor = 0;
  running = 0;
  /** Queued + running + persisting + scheduled: gearmand's job_total. */
  total = 0;
  /** maxqueue per priority; 0 = unlimited. */
  maxQueue: [number, number, number];

  constructor(name: string, handleHead: string, maxQueue: [number, number, number]) {
    this.name = name;
    this.handleHead = handleHead;
    this.maxQueue = maxQueue;
  }

  get queued(): number {
    return this.queues[0].length + this.queues[1].length + this.queues[2].length;
  }

  /**
   * `workers` from `wakeCursor` on, wrapping, is gearmand's circular registration list from
   * its head, where a wake-up walk starts (spec 1.4). gearmand links a new registration in
   * just before the head, so it is walked last: at the cursor, which moves past it. With the
   * cursor at 0 (always so without --worker-wakeup) that is the end of the array.
   */
  addWorker(peer: Peer): void {
    const workers = this.workers;
    const head = workers.length === 0 ? 0 : this.wakeCursor % workers.length;
    if (head === 0) {
      this.wakeCursor = 0;
      workers.push(peer);
      return;
    }
    workers.splice(head, 0, peer);
    this.wakeCursor = head + 1;
  }

  /** Unlink a registration; if it was the head of the circle, the next one is (as in gearmand). */
  removeWorker(peer: Peer): void {
    const workers = this.workers;
    const index = workers.indexOf(peer);
    if (index === -1) return;
    const head = this.wakeCursor % workers.length;
    workers.splice(index, 1);
    this.wakeCursor = index < head ? head - 1 : head;
  }

  /** Nothing refers to it: it may be forgotten (when unused functions are reclaimed). */
  get idle(): boolean {
    return this.total === 0 && this.workers.length === 0;
  }
}
