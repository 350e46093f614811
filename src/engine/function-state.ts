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

  /** Nothing refers to it: it may be forgotten (when unused functions are reclaimed). */
  get idle(): boolean {
    return this.total === 0 && this.workers.length === 0;
  }
}
