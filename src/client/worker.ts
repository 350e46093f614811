import { EventEmitter } from 'node:events';
import { PacketType } from '../protocol/index.js';
import type { Connection } from './connection.js';
import { ConnectionLostError, ClosedError } from './errors.js';
import { connectionDefaults, resolveServers, type BackoffOptions, type ServerAddress } from './options.js';
import { WorkerConnection, type AssignedJob, type Registration } from './worker-connection.js';
import { WorkerJob } from './worker-job.js';

/** What a worker function returns: the WORK_COMPLETE payload (void sends an empty one). */
export type JobResult = Buffer | string | Uint8Array | void | undefined;
export type JobHandler = (job: WorkerJob) => Promise<JobResult> | JobResult;

/** How a thrown error is reported to the client. */
export type ErrorReport = 'exception' | 'fail';

export interface WorkerOptions {
  /** Job servers; the worker connects to all of them at once. Default `[{ host: '127.0.0.1', port: 4730 }]`. */
  servers?: ServerAddress[];
  /** Jobs run at once, over all servers (several per connection). Default 1. */
  concurrency?: number;
  /** Sent as SET_CLIENT_ID; shown by the admin `workers` listing. */
  clientId?: string;
  /**
   * A thrown error becomes WORK_EXCEPTION with the error's message (`exception`, default), or
   * WORK_FAIL without details (`fail`). Can be overridden per function.
   */
  errors?: ErrorReport;
  /** TCP connect timeout per server. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Delay between reconnection attempts. */
  backoff?: BackoffOptions;
  /**
   * While asleep (after NO_JOB + PRE_SLEEP) grab again after this long even without a NOOP;
   * gearmand 1.1.x does not wake workers when epoch jobs become due. 0 disables. Default 10000 ms
   * (libgearman's GEARMAN_WORKER_WAIT_TIMEOUT).
   */
  pollIntervalMs?: number;
}

export interface RegisterOptions {
  /**
   * CAN_DO_TIMEOUT: the server requeues the job if it is not finished within this many ms
   * (gearmand raises values under 1000 to 1000, spec 1.8). The job's `signal` fires at the
   * same moment and later results for it are dropped.
   */
  timeoutMs?: number;
  /** Override the worker's `errors` setting for this function. */
  errors?: ErrorReport;
}

interface FunctionEntry {
  readonly handler: JobHandler;
  readonly registration: Registration;
  readonly errors: ErrorReport;
}

export const workerDefaults = {
  concurrency: 1,
  errors: 'exception' as ErrorReport,
  pollIntervalMs: 10_000,
  ...connectionDefaults,
} as const;

/** CAN_DO_TIMEOUT floor applied by gearmand (connection.cc, spec 1.8). */
const SERVER_MIN_TIMEOUT_MS = 1000;

/** Events a Worker emits, with their arguments. */
export interface WorkerEvents {
  /** Connected to a server and registered the functions there. */
  connect: [server: string];
  /** A server connection failed or was lost; it is retried with backoff. */
  disconnect: [server: string, error: unknown];
  /** Something non-fatal, such as an ERROR packet from the server. */
  warning: [error: Error];
  /** A handler threw; the client got WORK_EXCEPTION or WORK_FAIL. */
  jobError: [job: WorkerJob, error: unknown];
}

// Typed overloads for the events above (merged into the class below).
export interface Worker {
  on<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  once<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
  off<E extends keyof WorkerEvents>(event: E, listener: (...args: WorkerEvents[E]) => void): this;
}

/**
 * Runs registered functions for jobs from one or more servers.
 * Events: `connect` (server key), `disconnect` (server key, error), `warning` (error),
 * `jobError` (job, error) when a handler throws.
 */
export class Worker extends EventEmitter {
  private readonly functions = new Map<string, FunctionEntry>();
  private readonly connections: WorkerConnection[];
  private readonly concurrency: number;
  private readonly errors: ErrorReport;
  private readonly runningJobs = new Set<WorkerJob>();
  /** The connection each running job came on: its results can only go back there. */
  private readonly jobConnections = new Map<WorkerJob, Connection>();
  private grabsOutstanding = 0;
  private started = false;
  private stopping = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private pumpStart = 0;

  constructor(options: WorkerOptions = {}) {
    super();
    this.concurrency = options.concurrency ?? workerDefaults.concurrency;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.errors = options.errors ?? workerDefaults.errors;
    const host = {
      registrations: () => [...this.functions.values()].map((entry) => entry.registration),
      clientId: options.clientId,
      connectTimeoutMs: options.connectTimeoutMs ?? workerDefaults.connectTimeoutMs,
      backoff: options.backoff ?? {},
      pollIntervalMs: options.pollIntervalMs ?? workerDefaults.pollIntervalMs,
      canGrab: () => this.reserveSlot(),
      grabEnded: () => {
        this.grabsOutstanding--;
        this.pump();
        this.checkIdle();
      },
      assigned: (owner: WorkerConnection, connection: Connection, job: AssignedJob) => this.run(owner, connection, job),
      connectionChanged: (connection: WorkerConnection, up: boolean, error?: unknown) => {
        if (up) this.emit('connect', connection.address.key);
        else {
          // The server requeues what this connection held (spec 1.8): tell those handlers.
          for (const [job, socket] of this.jobConnections) {
            if (socket.closed) job.abandon(new ConnectionLostError(connection.address.key, error));
          }
          this.emit('disconnect', connection.address.key, error);
        }
      },
      warn: (error: Error) => this.emit('warning', error),
    };
    this.connections = resolveServers(options.servers).map((address) => new WorkerConnection(address, host));
  }

  /** Jobs running now. */
  get running(): number {
    return this.runningJobs.size;
  }

  /** Servers currently connected (`host:port`). */
  get connectedServers(): string[] {
    return this.connections.filter((c) => c.connected).map((c) => c.address.key);
  }

  /**
   * Register a function. Before start() it is announced on connect; after, at once: the
   * promise resolves when every connected server has taken the registration.
   */
  async register(functionName: string, handler: JobHandler, options: RegisterOptions = {}): Promise<void> {
    if (this.closed) throw new ClosedError('worker');
    const timeoutMs = options.timeoutMs ?? 0;
    const registration = { name: functionName, timeoutMs };
    this.functions.set(functionName, { handler, registration, errors: options.errors ?? this.errors });
    if (this.started) await Promise.all(this.connections.map((c) => c.register(registration)));
  }

  /** CANT_DO: stop taking jobs for a function (jobs of it running here are requeued by the server). */
  unregister(functionName: string): void {
    if (!this.functions.delete(functionName)) return;
    for (const connection of this.connections) connection.unregister(functionName);
    // CANT_DO makes the server requeue our running jobs of it (spec 1.4): their results would be refused.
    for (const job of this.runningJobs) if (job.functionName === functionName) job.abandon(new Error(`${functionName} was unregistered`));
  }

  /**
   * Connect to every server and start taking jobs. Resolves once each server has either
   * taken the registrations or failed a first attempt (it is retried with backoff).
   */
  async start(): Promise<void> {
    if (this.closed) throw new ClosedError('worker');
    if (this.started) return;
    this.started = true;
    await Promise.all(this.connections.map((c) => c.start()));
  }

  /**
   * Graceful stop: take no new jobs, finish the jobs in hand (and any a pending GRAB brings),
   * then close. With `timeoutMs`, close anyway after that long (the server requeues the rest).
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopping = true;
    const idle = new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
    if (options.timeoutMs === undefined) await idle;
    else {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeoutMs)))]);
      clearTimeout(timer);
    }
    this.close();
  }

  /** Close every connection now. Running jobs are abandoned (their `signal` fires). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopping = true;
    for (const connection of this.connections) connection.close();
    for (const job of this.runningJobs) job.abandon(new ClosedError('worker'));
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private reserveSlot(): boolean {
    if (this.stopping || this.functions.size === 0) return false;
    if (this.runningJobs.size + this.grabsOutstanding >= this.concurrency) return false;
    this.grabsOutstanding++;
    return true;
  }

  /** Offer free slots to connections, starting at a rotating one for fairness. */
  private pump(): void {
    const count = this.connections.length;
    for (let i = 0; i < count; i++) this.connections[(this.pumpStart + i) % count]!.tryGrab();
    this.pumpStart = (this.pumpStart + 1) % count;
  }

  private run(connection: WorkerConnection, socket: Connection, assigned: AssignedJob): void {
    this.grabsOutstanding--;
    const job = new WorkerJob(assigned, connection.sender(socket));
    this.runningJobs.add(job);
    const entry = this.functions.get(assigned.functionName);
    this.jobConnections.set(job, socket);
    const timers: NodeJS.Timeout[] = [];
    if (entry !== undefined && entry.registration.timeoutMs > 0) {
      const ms = Math.max(SERVER_MIN_TIMEOUT_MS, entry.registration.timeoutMs);
      timers.push(setTimeout(() => job.abandon(new Error(`job exceeded its ${ms} ms CAN_DO_TIMEOUT`)), ms));
    }
    connection.tryGrab(); // Several jobs per connection: ask for the next while this one runs.
    void this.execute(job, entry).finally(() => {
      for (const timer of timers) clearTimeout(timer);
      this.runningJobs.delete(job);
      this.jobConnections.delete(job);
      this.pump();
      this.checkIdle();
    });
  }

  private async execute(job: WorkerJob, entry: FunctionEntry | undefined): Promise<void> {
    if (entry === undefined) {
      // Assigned after unregister(): we cannot run it.
      job.finish(PacketType.WORK_FAIL, [job.handle]);
      return;
    }
    try {
      const result = await entry.handler(job);
      job.finish(PacketType.WORK_COMPLETE, [job.handle, result == null ? Buffer.alloc(0) : WorkerJob.toBuffer(result)]);
    } catch (error) {
      this.emit('jobError', job, error);
      if (entry.errors === 'fail') job.finish(PacketType.WORK_FAIL, [job.handle]);
      else job.finish(PacketType.WORK_EXCEPTION, [job.handle, Buffer.from(errorText(error), 'utf8')]);
    }
  }

  private checkIdle(): void {
    if (!this.stopping || this.runningJobs.size > 0 || this.grabsOutstanding > 0) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
