import type { JobStore, StoreKey } from '../store/types.js';
import { jobCost } from './job-keys.js';
import { EpochSchedule } from './epoch-schedule.js';
import { FunctionState } from './function-state.js';
import { JobIndex } from './job-index.js';
import { JobRun, JobState, NO_CLIENTS, type Job } from './job.js';
import { ATTACHMENT_BYTES } from './job-keys.js';
import type { Peer } from './peer.js';
import { systemClock, type Clock } from './types.js';

export interface EngineOptions {
  /** Handle prefix; handles are `<prefix>:<n>` (gearman-spec 1.10). */
  handlePrefix: string;
  /** Retries after a worker is lost before the job fails; 0 = unlimited (gearmand 1.1/2.0). */
  jobRetries: number;
  /** Sleeping workers woken per queued job; 0 = all (gearmand --worker-wakeup). */
  workerWakeup: number;
  /** maxqueue given to every new function; 0 = unlimited. */
  defaultMaxQueue: number;
  /** Budget of workload bytes held in memory by all jobs; 0 = unlimited. */
  maxJobBytes: number;
  /** Distinct function names kept; idle ones are reclaimed first; 0 = unlimited. */
  maxFunctions: number;
  /** Durable store for background jobs; undefined = memory only. */
  store: Pick<JobStore, 'add' | 'remove' | 'newKey'> | undefined;
  /** Distinguishes store keys of this run from those of earlier runs. */
  bootId: string;
  clock: Clock;
  /** Told about dropped jobs and store trouble. */
  log: (level: 'info' | 'warn' | 'error', message: string, detail?: Record<string, unknown>) => void;
}

export const defaultEngineOptions: EngineOptions = {
  handlePrefix: 'H:localhost',
  jobRetries: 0,
  workerWakeup: 0,
  defaultMaxQueue: 0,
  maxJobBytes: 0,
  maxFunctions: 0,
  store: undefined,
  bootId: 'b0',
  clock: systemClock,
  log: () => {},
};

/** gearmand stores uniques in 64 bytes; longer ones are refused (spec 1.5 step 3). */
export const MAX_UNIQUE_BYTES = 64;
export const MIN_CAN_DO_TIMEOUT_MS = 1000;

/** What a worker's packet (or the server) tells the clients of a job. */
export const Forward = { data: 0, warning: 1, status: 2, complete: 3, fail: 4, exception: 5 } as const;
export type Forward = (typeof Forward)[keyof typeof Forward];

/**
 * The job table under the engine: functions, jobs and their queues, epoch scheduling,
 * wake-ups, forwarding to clients and the end of a job's life. The Engine adds the protocol
 * operations on top; both are pure and synchronous.
 */
export class JobTable {
  readonly options: EngineOptions;
  readonly functions = new Map<string, FunctionState>();
  readonly jobs: JobIndex;
  readonly peers = new Set<Peer>();
  protected readonly schedule = new EpochSchedule();
  protected scheduleTimer: unknown;
  protected scheduleTimerAt = 0;
  /** Workload and overhead bytes of all jobs in memory. */
  memoryBytes = 0;
  /** Running totals for metrics: plain counters, read on scrape. */
  readonly counters = { submitted: 0, coalesced: 0, refused: 0, completed: 0, failed: 0, exceptions: 0, requeued: 0 };
  /** New submissions are refused once shutdown has begun. */
  shuttingDown = false;
  /** Called whenever a job leaves memory (graceful shutdown waits on this). */
  onJobGone: (() => void) | undefined;
  /**
   * Jobs a graceful shutdown waits for: foreground ones, and background ones a worker runs.
   * Kept as a count (track/destroy, assign/unassign): shutdown asks after every job that
   * leaves, and a scan of a million queued background jobs each time would be quadratic.
   */
  private unfinished = 0;

  constructor(options: Partial<EngineOptions> = {}) {
    this.options = { ...defaultEngineOptions, ...options };
    this.jobs = new JobIndex(this.options.handlePrefix);
  }

  // ---- functions --------------------------------------------------------------------

  /** Find or create a function; undefined when the function limit is reached. */
  functionFor(name: string): FunctionState | undefined {
    let fn = this.functions.get(name);
    if (fn !== undefined) return fn;
    const { maxFunctions, defaultMaxQueue } = this.options;
    if (maxFunctions > 0 && this.functions.size >= maxFunctions) {
      this.reclaimIdleFunctions();
      if (this.functions.size >= maxFunctions) return undefined;
    }
    fn = new FunctionState(name, this.jobs.head, [defaultMaxQueue, defaultMaxQueue, defaultMaxQueue]);
    this.functions.set(name, fn);
    return fn;
  }

  protected reclaimIdleFunctions(): void {
    for (const [name, fn] of this.functions) if (fn.idle) this.functions.delete(name);
  }

  protected forceFunction(name: string): FunctionState {
    const q = this.options.defaultMaxQueue;
    const fn = new FunctionState(name, this.jobs.head, [q, q, q]);
    this.functions.set(name, fn);
    return fn;
  }

  protected track(job: Job, cost: number): void {
    this.jobs.add(job);
    if (!job.background) this.unfinished++;
    if (job.coalesceKey !== undefined) job.fn.byCoalesceKey.set(job.coalesceKey, job);
    job.fn.total++;
    this.memoryBytes += cost;
  }

  protected attach(job: Job, peer: Peer): void {
    // Joining an abandoned running job revives it (gearmand leaves the newcomer hanging, spec 7 B5).
    if (job.run !== undefined) job.run.ignored = false;
    // One attachment per foreground submission, also a connection's second one of the same job:
    // gearmand then forwards every WORK_* twice, and a client with two tasks of that handle
    // (libgearman) waits for both (spec 1.3, 1.5 step 6). One connection can so attach without
    // end: appended in place (a copy each would be quadratic), and counted in the job budget.
    if (job.clients === NO_CLIENTS) job.clients = [peer];
    else job.clients.push(peer);
    this.memoryBytes += ATTACHMENT_BYTES;
    peer.attached.add(job);
  }

  /** Queue a job now or when its epoch comes. */
  protected release(job: Job): void {
    if (job.when > 0 && job.when * 1000 > this.options.clock.now()) {
      job.state = JobState.scheduled;
      job.fn.scheduledCounts[job.priority]++;
      this.schedule.add(job);
      this.armSchedule();
    } else {
      this.enqueue(job);
    }
  }

  protected enqueue(job: Job): void {
    job.state = JobState.queued;
    job.fn.queues[job.priority].push(job);
    this.wakeWorkers(job.fn);
  }

  /** NOOP sleeping workers of a function, at most one per worker between grabs (spec 1.4). */
  protected wakeWorkers(fn: FunctionState): void {
    const workers = fn.workers;
    const n = workers.length;
    if (n === 0) return;
    const limit = this.options.workerWakeup;
    let woken = 0;
    const start = fn.wakeCursor % n;
    for (let k = 0; k < n; k++) {
      const index = (start + k) % n;
      const worker = workers[index]!;
      if (!worker.sleeping || worker.noopSent) continue;
      worker.noopSent = true;
      worker.listener.wake();
      if (limit > 0 && ++woken >= limit) {
        fn.wakeCursor = index + 1;
        return;
      }
    }
  }

  // ---- epoch jobs: a real timer, unlike gearmand 1.1 (spec 1.4) ----------------------

  protected armSchedule(): void {
    const next = this.schedule.peek();
    if (next === undefined) return;
    const at = next.when * 1000;
    if (this.scheduleTimer !== undefined) {
      if (this.scheduleTimerAt <= at) return;
      this.options.clock.clearTimer(this.scheduleTimer);
    }
    this.scheduleTimerAt = at;
    const delay = Math.max(0, at - this.options.clock.now());
    this.scheduleTimer = this.options.clock.setTimer(Math.min(delay, 2 ** 31 - 1), () => {
      this.scheduleTimer = undefined;
      this.runDueJobs();
    });
  }

  /** Move epoch jobs whose time has come into their queues. */
  runDueJobs(): void {
    const now = this.options.clock.now();
    for (;;) {
      const job = this.schedule.peek();
      if (job === undefined || job.when * 1000 > now) break;
      this.schedule.pop();
      if (job.state !== JobState.scheduled) continue; // cancelled meanwhile
      job.fn.scheduledCounts[job.priority]--;
      this.enqueue(job);
    }
    this.armSchedule();
  }

  /** Tell every attached client, newest first (spec 1.6); an ignored job's results go nowhere. */
  protected forward(job: Job, kind: Forward, a?: Buffer, b?: Buffer): void {
    if (job.run?.ignored === true) return;
    const clients = job.clients;
    for (let i = clients.length - 1; i >= 0; i--) {
      const listener = clients[i]!.listener;
      switch (kind) {
        case Forward.data:
          listener.workData(job, a!);
          break;
        case Forward.warning:
          listener.workWarning(job, a!);
          break;
        case Forward.status:
          listener.workStatus(job, a!, b!);
          break;
        case Forward.complete:
          listener.workComplete(job, a!);
          break;
        case Forward.fail:
          listener.workFail(job);
          break;
        case Forward.exception:
          listener.workException(job, a!);
          break;
      }
    }
  }

  protected finish(job: Job): void {
    this.unassign(job);
    this.destroy(job);
  }

  /** A worker took the job (GRAB_JOB*); returns the assignment it made. */
  protected markRunning(job: Job, worker: Peer): JobRun {
    const run = new JobRun(worker);
    job.state = JobState.running;
    job.run = run;
    worker.running.add(job);
    job.fn.running++;
    if (job.background) this.unfinished++;
    return run;
  }

  /** The job's worker is done with it (result, loss or timeout); its state is the caller's. */
  protected unassign(job: Job): void {
    const run = job.run;
    job.run = undefined;
    job.fn.running--;
    if (job.background) this.unfinished--;
    if (run === undefined) return;
    run.worker.running.delete(job);
    if (run.timeoutTimer !== undefined) this.options.clock.clearTimer(run.timeoutTimer);
  }

  /** Jobs that still need a worker or a store (graceful shutdown waits for foreground ones). */
  get foregroundJobs(): number {
    return this.unfinished;
  }

  /** Out of the coalescing index (when it is the job filed there): a new submission makes a new job. */
  protected uncoalesce(job: Job): void {
    if (job.coalesceKey !== undefined && job.fn.byCoalesceKey.get(job.coalesceKey) === job) {
      job.fn.byCoalesceKey.delete(job.coalesceKey);
    }
  }

  /** No client waits on the job any more. */
  protected dropClients(job: Job): void {
    for (const client of job.clients) client.attached.delete(job);
    this.memoryBytes -= job.clients.length * ATTACHMENT_BYTES;
    job.clients = NO_CLIENTS;
  }

  /** Forget a job everywhere; its durable row goes too. */
  protected destroy(job: Job): void {
    if (job.state === JobState.done) return;
    if (job.state === JobState.queued) job.fn.queues[job.priority].remove(job);
    else if (job.state === JobState.scheduled) job.fn.scheduledCounts[job.priority]--;
    job.state = JobState.done;
    this.jobs.delete(job);
    if (!job.background) this.unfinished--;
    this.uncoalesce(job);
    job.fn.total--;
    this.memoryBytes -= jobCost(job.data, job.unique);
    this.dropClients(job);
    if (job.storeKey !== undefined && job.persistWait === undefined) this.forgetStored(job.storeKey);
    this.onJobGone?.();
  }

  protected forgetStored(key: StoreKey | undefined): void {
    const store = this.options.store;
    if (key === undefined || store === undefined) return;
    store.remove(key).catch((err: unknown) => {
      this.options.log('error', 'store could not remove a finished job; it may run again after a restart', {
        key,
        error: String(err),
      });
    });
  }

  /**
   * A client stops waiting for a job (it disconnected, or an HTTP wait ended). A queued
   * foreground job nobody waits for is withdrawn; a running one finishes unheard.
   */
  detach(peer: Peer, handle: string): void {
    const job = this.jobs.get(handle);
    if (job !== undefined && peer.attached.has(job)) this.detachJob(job, peer);
  }

  protected detachJob(job: Job, peer: Peer): void {
    peer.attached.delete(job);
    if (job.clients.includes(peer)) {
      const before = job.clients.length;
      job.clients = job.clients.filter((client) => client !== peer);
      this.memoryBytes -= (before - job.clients.length) * ATTACHMENT_BYTES;
    }
    if (job.clients.length > 0 || job.background) return;
    if (job.run !== undefined) job.run.ignored = true;
    else this.destroy(job);
  }

  /** Stop timers so a stopping process can exit. */
  close(): void {
    if (this.scheduleTimer !== undefined) this.options.clock.clearTimer(this.scheduleTimer);
    this.scheduleTimer = undefined;
    // Only running jobs have timers: walk the workers, not (maybe millions of) queued jobs.
    for (const peer of this.peers) {
      for (const job of peer.running.toArray()) {
        const run = job.run;
        if (run?.timeoutTimer === undefined) continue;
        this.options.clock.clearTimer(run.timeoutTimer);
        run.timeoutTimer = undefined;
      }
    }
  }
}
