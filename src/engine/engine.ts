import type { StoredJob } from '../store/types.js';
import { cString } from '../protocol/c-strings.js';
import { ATTACHMENT_BYTES, coalesceKeyOf, jobCost, statusOf } from './job-keys.js';
import { statusNumber } from '../protocol/c-numbers.js';
import { asciiLower } from '../protocol/admin.js';
import { EngineErrors } from './errors.js';
import { Job, JobState } from './job.js';
import { Peer, type Registration } from './peer.js';
import { Forward, JobTable, MAX_UNIQUE_BYTES, MIN_CAN_DO_TIMEOUT_MS } from './job-table.js';
import type { Assignment, EngineError, JobStatus, PeerListener, SubmitRequest, SubmitResult } from './types.js';

export { defaultEngineOptions, MAX_UNIQUE_BYTES, type EngineOptions } from './job-table.js';

/** Background jobs waiting on one store batch (`stored`, the store's promise for it). */
interface BatchWait {
  readonly stored: Promise<void>;
  readonly jobs: Job[];
  readonly done: Promise<void>;
}

/**
 * The job engine: all job state, synchronous, no I/O. Connections talk to it through Peer
 * handles; it answers through each peer's PeerListener and tells the store what changed.
 */
export class Engine extends JobTable {
  private storeCounter = 0;
  /** The store batch the latest background jobs wait on, until it settles. */
  private storing: BatchWait | undefined;
  private peerCounter = 0;
  private registrationCounter = 0;

  // ---- connections ------------------------------------------------------------------

  connect(listener: PeerListener, address = '-', label?: number): Peer {
    const id = ++this.peerCounter;
    const peer = new Peer(id, listener, address, label ?? id);
    this.peers.add(peer);
    return peer;
  }

  /** A connection closed: its running jobs are requeued, its waits withdrawn (spec 1.8). */
  disconnect(peer: Peer): void {
    if (peer.closed) return;
    peer.closed = true;
    this.peers.delete(peer);
    const registrations = peer.registrations;
    for (const reg of registrations) reg.fn.removeWorker(peer);
    peer.registrations = [];
    this.requeueRunning(peer, registrations);
    for (const job of peer.attached.toArray()) this.detachJob(job, peer);
  }

  setClientId(peer: Peer, id: string): void {
    // gearmand keeps 127 bytes and lists them with "%s", which stops at the first NUL.
    const name = cString(id);
    peer.clientId = name.length > 127 ? name.slice(0, 127) : name;
  }

  // ---- submission -------------------------------------------------------------------

  submit(peer: Peer | undefined, req: SubmitRequest): SubmitResult {
    const result = this.submitJob(peer, req);
    if (!result.ok) this.counters.refused++;
    else if (result.coalesced) this.counters.coalesced++;
    else this.counters.submitted++;
    return result;
  }

  private submitJob(peer: Peer | undefined, req: SubmitRequest): SubmitResult {
    if (this.shuttingDown) return { ok: false, error: EngineErrors.shuttingDown };
    // gearmand refuses uniques over 64 bytes; unlike gearmand a 64-byte one is kept whole.
    if (req.unique.length > MAX_UNIQUE_BYTES) return { ok: false, error: EngineErrors.uniqueTooLarge };
    // gearmand checks a reduce job's reducer instead of its unique, with the same words (spec 7 B3): both here.
    if (req.reducer !== undefined && req.reducer.length > MAX_UNIQUE_BYTES) return { ok: false, error: EngineErrors.uniqueTooLarge };
    const fn = this.functionFor(req.functionName);
    if (fn === undefined) return { ok: false, error: EngineErrors.tooManyFunctions };

    const coalesceKey = coalesceKeyOf(req.unique, req.data);
    if (coalesceKey !== undefined) {
      const existing = fn.byCoalesceKey.get(coalesceKey);
      if (existing !== undefined && (req.unique !== '-' || existing.data.equals(req.data))) {
        // Coalesced: same handle back; data, priority and background flag are ignored.
        if (!req.background && peer !== undefined) {
          if (!this.fitsBudget(ATTACHMENT_BYTES)) return { ok: false, error: EngineErrors.memoryFull };
          this.attach(existing, peer);
        }
        return { ok: true, job: existing, coalesced: true, durable: existing.persistWait };
      }
    }

    const limit = fn.maxQueue[req.priority];
    if (limit > 0 && fn.total >= limit) return { ok: false, error: EngineErrors.queueFull };
    const cost = jobCost(req.data, req.unique);
    if (!this.fitsBudget(req.background ? cost : cost + ATTACHMENT_BYTES)) return { ok: false, error: EngineErrors.memoryFull };
    const { store } = this.options;

    const when = req.when ?? 0;
    const persist = req.background && store !== undefined;
    const id = this.jobs.nextId();
    const job = new Job(
      id,
      fn,
      req.unique,
      req.data,
      req.priority,
      req.background,
      when,
      req.reducer ?? '',
      coalesceKey !== undefined && !fn.byCoalesceKey.has(coalesceKey) ? coalesceKey : undefined,
      JobState.persisting,
    );
    this.track(job, cost);
    if (!req.background && peer !== undefined) this.attach(job, peer);
    if (!persist) {
      this.release(job);
      return { ok: true, job, coalesced: false };
    }
    job.storeKey = store.newKey?.() ?? `${this.options.bootId}.${++this.storeCounter}`;
    const stored = store.add(job);
    // The store settles a whole batch with one promise: its jobs share one reaction and one
    // promise for their submitters, instead of two closures and a promise each.
    let wait = this.storing;
    if (wait === undefined || wait.stored !== stored) wait = this.storing = this.waitForStore(stored);
    wait.jobs.push(job);
    job.persistWait = wait.done;
    return { ok: true, job, coalesced: false, durable: wait.done };
  }

  /** What the jobs of one store batch do once it settles; `done` is what their submitters wait on. */
  private waitForStore(stored: Promise<void>): BatchWait {
    const jobs: Job[] = [];
    const settled = (): void => {
      if (this.storing?.stored === stored) this.storing = undefined;
    };
    const done = stored.then(
      () => {
        settled();
        for (const job of jobs) {
          job.persistWait = undefined;
          if (job.state === JobState.persisting) this.release(job);
          else if (job.state === JobState.done) this.forgetStored(job.storeKey); // cancelled meanwhile
        }
      },
      (err: unknown) => {
        settled();
        // One line per failed write, not per job: a batch holds up to thousands.
        const handles = jobs.slice(0, 3).map((job) => job.handle);
        this.options.log('error', 'store refused background jobs', { jobs: jobs.length, handles, error: String(err) });
        for (const job of jobs) {
          job.persistWait = undefined;
          if (job.state === JobState.persisting) {
            // Every submitter of it, coalesced ones too, holds `done` and hears the error.
            job.storeKey = undefined;
            this.destroy(job);
          }
        }
        throw EngineErrors.storeFailed;
      },
    );
    return { stored, jobs, done };
  }

  /** Re-create jobs read back from the store at start-up, in their stored order. */
  restore(stored: readonly StoredJob[]): number {
    let count = 0;
    for (const row of stored) {
      const fn = this.functionFor(row.functionName) ?? this.forceFunction(row.functionName);
      const coalesceKey = coalesceKeyOf(row.unique, row.data);
      const id = this.jobs.nextId();
      const job = new Job(
        id,
        fn,
        row.unique,
        row.data,
        row.priority,
        true,
        row.when,
        row.reducer,
        coalesceKey !== undefined && !fn.byCoalesceKey.has(coalesceKey) ? coalesceKey : undefined,
        JobState.persisting,
      );
      job.storeKey = row.key;
      this.track(job, jobCost(row.data, row.unique));
      this.release(job);
      count++;
    }
    return count;
  }

  // ---- workers ----------------------------------------------------------------------

  /** CAN_DO / CAN_DO_TIMEOUT. Unlike gearmand a repeated CAN_DO does not count twice. */
  canDo(peer: Peer, functionName: string, timeoutMs = 0): boolean {
    const fn = this.functionFor(functionName);
    if (fn === undefined) return false;
    const existing = peer.registrationFor(fn);
    if (existing !== undefined) {
      existing.timeoutMs = timeoutMs;
      return true;
    }
    peer.registrations.unshift({ fn, timeoutMs, order: ++this.registrationCounter });
    fn.addWorker(peer);
    return true;
  }

  /** CANT_DO: forget the function; jobs this worker runs for it are requeued (spec 1.4). */
  cantDo(peer: Peer, functionName: string): void {
    const fn = this.functions.get(functionName);
    if (fn === undefined) return;
    const index = peer.registrations.findIndex((r) => r.fn === fn);
    if (index === -1) return;
    const [reg] = peer.registrations.splice(index, 1);
    fn.removeWorker(peer);
    this.requeueRunning(peer, [reg!]);
  }

  resetAbilities(peer: Peer): void {
    const registrations = peer.registrations;
    for (const reg of registrations) reg.fn.removeWorker(peer);
    peer.registrations = [];
    this.requeueRunning(peer, registrations);
  }

  /**
   * A worker gives up the jobs it runs for `registrations` in gearmand's order, which decides
   * who gets them next and the order clients hear WORK_FAILs at the retry limit: newest
   * registration first, and within one, the job assigned last first (its lists grow at the
   * head). Newest by registration sequence: a grab's round-robin reorders `registrations`, and
   * gearmand (without --round-robin) never does. Every running job has its registration: a grab
   * goes through one, and dropping one (CANT_DO, RESET_ABILITIES, disconnect) comes here.
   */
  private requeueRunning(peer: Peer, registrations: readonly Registration[]): void {
    if (peer.running.size === 0) return;
    const lastFirst = peer.running.toArray().reverse();
    const newestFirst = registrations.length > 1 ? [...registrations].sort((a, b) => b.order - a.order) : registrations;
    for (const reg of newestFirst) for (const job of lastFirst) if (job.fn === reg.fn) this.requeue(job);
  }

  /** Whether `bytes` more stay within the job memory budget (--max-job-memory; 0 = none). */
  private fitsBudget(bytes: number): boolean {
    const max = this.options.maxJobBytes;
    return max === 0 || this.memoryBytes + bytes <= max;
  }

  /** PRE_SLEEP: true when work is waiting (send NOOP now), else the worker sleeps. */
  preSleep(peer: Peer): boolean {
    for (const reg of peer.registrations) if (reg.fn.queued > 0) return true;
    peer.sleeping = true;
    return false;
  }

  /**
   * GRAB_JOB*: the highest-priority queued job over all the worker's functions; the
   * function it came from moves to the end of the worker's list (gearmand 2.0, spec 1.4).
   */
  grab(peer: Peer): Assignment | undefined {
    peer.sleeping = false;
    peer.noopSent = false;
    const regs = peer.registrations;
    for (let priority = 0; priority < 3; priority++) {
      for (let i = 0; i < regs.length; i++) {
        const reg = regs[i]!;
        const job = reg.fn.queues[priority]!.shift();
        if (job === undefined) continue;
        if (regs.length > 1) {
          regs.splice(i, 1);
          regs.push(reg);
        }
        this.assign(job, peer, reg);
        return job;
      }
    }
    return undefined;
  }

  private assign(job: Job, peer: Peer, reg: Registration): void {
    const run = this.markRunning(job, peer);
    if (reg.timeoutMs > 0) {
      // One timer per job, cleared when it finishes (gearmand: one per connection, spec 7 B8).
      // gearmand raises CAN_DO_TIMEOUT to at least 1000 ms (spec 1.8); workers rely on it.
      run.timeoutTimer = this.options.clock.setTimer(Math.max(MIN_CAN_DO_TIMEOUT_MS, reg.timeoutMs), () => {
        run.timeoutTimer = undefined;
        if (job.run === run) {
          this.options.log('info', 'job exceeded its CAN_DO_TIMEOUT; requeued', { handle: job.handle });
          this.requeue(job);
        }
      });
    }
  }

  /** The worker lost the job: count a retry, fail it at the limit, else queue it again. */
  private requeue(job: Job): void {
    const ignored = job.run?.ignored === true;
    this.unassign(job);
    job.retries++;
    this.counters.requeued++;
    const limit = this.options.jobRetries;
    if (limit > 0 && job.retries >= limit) {
      this.options.log('warn', 'Dropped job due to max retry count', { handle: job.handle, retries: job.retries });
      this.forward(job, Forward.fail);
      this.destroy(job);
      return;
    }
    if (ignored || (!job.background && job.clients.length === 0)) {
      this.destroy(job); // nobody waits for it any more
      return;
    }
    this.enqueue(job); // with no JobRun: its status is 0/0 again
  }

  // ---- work results (spec 1.6) ------------------------------------------------------

  /** The job `handle` if `peer` runs it, else undefined (gearmand: JOB_NOT_FOUND). */
  private heldBy(peer: Peer, handle: string): Job | undefined {
    const job = this.jobs.get(handle);
    return job !== undefined && job.run?.worker === peer ? job : undefined;
  }

  workData(peer: Peer, handle: string, data: Buffer, warning = false): EngineError | undefined {
    const job = this.heldBy(peer, handle);
    if (job === undefined) return EngineErrors.workDataNotFound;
    this.forward(job, warning ? Forward.warning : Forward.data, data);
    return undefined;
  }

  workStatus(peer: Peer, handle: string, numerator: Buffer, denominator: Buffer): EngineError | undefined {
    const job = this.heldBy(peer, handle);
    if (job === undefined) return EngineErrors.workResultNotFound;
    const run = job.run!; // heldBy: a worker runs it
    run.numerator = statusNumber(numerator.toString('latin1'));
    // gearmand copies the denominator into an 11-byte buffer with snprintf, so it reads at most
    // 10 characters of it (and refuses more than 11: the dispatcher's check).
    run.denominator = statusNumber(denominator.toString('latin1', 0, 10));
    this.forward(job, Forward.status, numerator, denominator);
    return undefined;
  }

  workComplete(peer: Peer, handle: string, data: Buffer): EngineError | undefined {
    const job = this.heldBy(peer, handle);
    if (job === undefined) return EngineErrors.workResultNotFound;
    this.forward(job, Forward.complete, data);
    this.counters.completed++;
    this.finish(job);
    return undefined;
  }

  workFail(peer: Peer, handle: string): EngineError | undefined {
    if (handle.length >= 64) return EngineErrors.handleTooLarge;
    const job = this.heldBy(peer, handle);
    if (job === undefined) return EngineErrors.workResultNotFound;
    this.forward(job, Forward.fail);
    this.counters.failed++;
    this.finish(job);
    return undefined;
  }

  workException(peer: Peer, handle: string, data: Buffer): EngineError | undefined {
    const job = this.heldBy(peer, handle);
    if (job === undefined) return EngineErrors.exceptionNotFound;
    this.forward(job, Forward.exception, data);
    this.counters.exceptions++;
    this.finish(job);
    return undefined;
  }

  // ---- status and admin -------------------------------------------------------------

  status(handle: string): JobStatus {
    return statusOf(this.jobs.get(handle));
  }

  /** GET_STATUS_UNIQUE: first job over all functions with this unique (spec 1.7). */
  statusByUnique(unique: string): JobStatus {
    if (unique !== '' && unique !== '-') {
      // The newest job with that unique, in any function: gearmand's hash bucket lists new
      // jobs first, and its lookup takes the first match (spec 1.7).
      let newest: Job | undefined;
      for (const fn of this.functions.values()) {
        const job = fn.byCoalesceKey.get(unique);
        if (job !== undefined && (newest === undefined || job.id > newest.id)) newest = job;
      }
      return statusOf(newest);
    }
    return statusOf(undefined);
  }

  /**
   * Admin `cancel job`: clients hear WORK_FAIL and the job is gone (spec 2.2). A running job
   * stays with its worker, unheard, until it ends: cancelled once (a second cancel finds
   * nothing, README compatibility row 8), while one merely abandoned by its clients (ignored,
   * still in `show jobs`) can be cancelled, as in gearmand.
   */
  cancel(handle: string): boolean {
    const job = this.jobs.get(handle);
    if (job === undefined || job.run?.cancelled === true) return false;
    this.forward(job, Forward.fail);
    this.dropClients(job);
    if (job.run !== undefined) {
      // The worker keeps running it; its results go nowhere and the row is gone now.
      job.run.ignored = true;
      job.run.cancelled = true;
      this.uncoalesce(job);
      this.forgetStored(job.storeKey);
      job.storeKey = undefined;
    } else {
      this.destroy(job);
    }
    return true;
  }

  setMaxQueue(functionName: string, limits: [number, number, number]): void {
    const fn = this.functions.get(functionName);
    if (fn !== undefined) fn.maxQueue = limits;
  }

  /** Admin `drop function`: only an unused function (gearmand frees one with queued jobs: spec 7 B6). */
  dropFunction(name: string): 'ok' | 'busy' | 'queued' | 'missing' {
    let fn = this.functions.get(name);
    if (fn === undefined) {
      // gearmand's strcasecmp: ASCII letters only (a drop of `É` never takes `é`).
      const lower = asciiLower(name);
      for (const candidate of this.functions.values()) {
        if (asciiLower(candidate.name) === lower) {
          fn = candidate;
          break;
        }
      }
    }
    if (fn === undefined) return 'missing';
    if (fn.workers.length > 0 || fn.running > 0) return 'busy';
    if (fn.total > 0) return 'queued';
    this.functions.delete(fn.name);
    return 'ok';
  }
}
