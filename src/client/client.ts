import { randomUUID } from 'node:crypto';
import { PacketType, bytesToKey } from '../protocol/index.js';
import type { JobStatus, UniqueStatus } from './client-session.js';
import { ForegroundJob } from './foreground-job.js';
import { guarded } from './guard.js';
import { ServerPool } from './server-pool.js';
import { connectionDefaults, resolveServers, type BackoffOptions, type CallOptions, type ServerAddress } from './options.js';

export type Priority = 'high' | 'normal' | 'low';

export interface ClientOptions {
  /** Job servers. Jobs are spread over them by a hash of the unique id. Default `[{ host: '127.0.0.1', port: 4730 }]`. */
  servers?: ServerAddress[];
  /**
   * Ask each server to forward WORK_EXCEPTION (OPTION_REQ `exceptions`, gearman-spec 1.7), so a
   * worker's exception rejects with JobExceptionError and its message. When false, gearmand turns
   * exceptions into WORK_FAIL (JobFailedError). Default true.
   */
  exceptions?: boolean;
  /** Sent as SET_CLIENT_ID; shown by the admin `workers` listing. */
  clientId?: string;
  /** TCP connect timeout per server. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Delay between reconnection attempts to a server that is down. */
  backoff?: BackoffOptions;
  /**
   * How long a call waits for any server to accept a connection (trying each in failover
   * order and retrying after backoff) before it rejects with NoServerAvailableError. Default 10000 ms.
   */
  unavailableTimeoutMs?: number;
  /** Timeout applied to calls that do not pass `timeoutMs`. Default: none. */
  defaultTimeoutMs?: number;
  /** Default of `SubmitOptions.maxBufferedEvents` for this client. Default 1000. */
  maxBufferedEvents?: number;
}

export interface SubmitOptions extends CallOptions {
  /** Queue priority. Default `normal`. */
  priority?: Priority;
  /**
   * Unique id. Submissions of the same function with the same unique share one job on the
   * server (coalescing). `''` disables coalescing; `'-'` coalesces on identical workloads.
   * Default: a random UUID (as libgearman does).
   */
  unique?: string;
  /**
   * Progress events (WORK_DATA, WORK_STATUS, WORK_WARNING) kept until the job is iterated. When
   * full, the oldest is dropped and counted in `ForegroundJob.droppedEvents`; 0 keeps none (for
   * callers that only await the result). Default: the client's `maxBufferedEvents` (1000).
   */
  maxBufferedEvents?: number;
}

export type BackgroundSubmitOptions = Omit<SubmitOptions, 'maxBufferedEvents'>;

export interface ScheduleOptions extends CallOptions {
  unique?: string;
}

/** A background job as the server created it. */
export interface BackgroundJob {
  readonly handle: string;
  readonly unique: string;
  /** `host:port` of the server that holds it; status queries by handle go there. */
  readonly server: string;
}

/** A handle plus, when known, the server that issued it. */
export type JobRef = string | { readonly handle: string; readonly server?: string };

export type Workload = Buffer | string | Uint8Array;

const foregroundTypes = {
  high: PacketType.SUBMIT_JOB_HIGH,
  normal: PacketType.SUBMIT_JOB,
  low: PacketType.SUBMIT_JOB_LOW,
} as const;
const backgroundTypes = {
  high: PacketType.SUBMIT_JOB_HIGH_BG,
  normal: PacketType.SUBMIT_JOB_BG,
  low: PacketType.SUBMIT_JOB_LOW_BG,
} as const;

export const clientDefaults = {
  exceptions: true,
  unavailableTimeoutMs: 10_000,
  maxBufferedEvents: 1000,
  ...connectionDefaults,
} as const;

function toBuffer(workload: Workload | undefined): Buffer {
  if (workload === undefined) return Buffer.alloc(0);
  if (typeof workload === 'string') return Buffer.from(workload, 'utf8');
  return Buffer.isBuffer(workload) ? workload : Buffer.from(workload.buffer, workload.byteOffset, workload.byteLength);
}

function checkEventLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`maxBufferedEvents must be a non-negative integer, not ${limit}`);
  return limit;
}

/**
 * Submits jobs and asks for their status. One connection per server, opened on first use,
 * reopened after a loss; each call picks a server by hash of the job's unique and fails over.
 */
export class Client {
  private readonly pool: ServerPool;
  private readonly defaultTimeoutMs: number | undefined;
  private readonly maxBufferedEvents: number;

  constructor(options: ClientOptions = {}) {
    this.maxBufferedEvents = checkEventLimit(options.maxBufferedEvents ?? clientDefaults.maxBufferedEvents);
    this.pool = new ServerPool(resolveServers(options.servers), {
      connectTimeoutMs: options.connectTimeoutMs ?? clientDefaults.connectTimeoutMs,
      backoff: options.backoff ?? {},
      unavailableTimeoutMs: options.unavailableTimeoutMs ?? clientDefaults.unavailableTimeoutMs,
      exceptions: options.exceptions ?? clientDefaults.exceptions,
      clientId: options.clientId,
    });
    this.defaultTimeoutMs = options.defaultTimeoutMs;
  }

  /**
   * Submit a foreground job. `await` the returned job for its result, or iterate it for
   * progress events. A timeout or abort stops waiting; the server still runs the job.
   */
  submit(functionName: string, workload?: Workload, options: SubmitOptions = {}): ForegroundJob {
    const unique = options.unique ?? randomUUID();
    const data = toBuffer(workload);
    const maxBufferedEvents = options.maxBufferedEvents === undefined ? this.maxBufferedEvents : checkEventLimit(options.maxBufferedEvents);
    const job = new ForegroundJob(functionName, unique, maxBufferedEvents);
    const cancel = new AbortController();
    job.bindCancellation(this.callOptions(options), () => cancel.abort());
    if (job.done) return job;
    const type = foregroundTypes[options.priority ?? 'normal'];
    const fn = Buffer.from(functionName, 'utf8');
    const uniqueBytes = Buffer.from(unique, 'utf8');
    // Equal uniques coalesce on the server (spec 1.5 step 5); '-' means "equal workloads".
    const coalesceKey = unique === '' ? undefined : `${functionName}\0${unique === '-' ? `-\0${bytesToKey(data)}` : unique}`;
    this.pool.acquire(unique === '' ? this.pool.nextKey() : unique, cancel.signal).then(
      (session) => {
        if (!job.done) session.submitForeground(job, type, [fn, uniqueBytes, data], coalesceKey);
      },
      (error: Error) => job.settle(error),
    );
    return job;
  }

  /** Submit a background job; resolves once the server has queued it (JOB_CREATED). */
  submitBackground(functionName: string, workload?: Workload, options: BackgroundSubmitOptions = {}): Promise<BackgroundJob> {
    const unique = options.unique ?? randomUUID();
    const type = backgroundTypes[options.priority ?? 'normal'];
    return this.background(functionName, unique, type, [Buffer.from(unique, 'utf8')], toBuffer(workload), options);
  }

  /**
   * Submit a background job to run at or after `when` (SUBMIT_JOB_EPOCH, whole seconds).
   * gearmand 1.1.x does not wake sleeping workers when the time comes; Worker polls (see
   * `WorkerOptions.pollIntervalMs`).
   */
  submitAt(functionName: string, workload: Workload | undefined, when: Date | number, options: ScheduleOptions = {}): Promise<BackgroundJob> {
    const unique = options.unique ?? randomUUID();
    const epochMs = typeof when === 'number' ? when : when.getTime();
    const epochSeconds = String(Math.ceil(epochMs / 1000));
    return this.background(functionName, unique, PacketType.SUBMIT_JOB_EPOCH, [Buffer.from(unique, 'utf8'), epochSeconds], toBuffer(workload), options);
  }

  /** GET_STATUS: asks the job's server (or, for a bare handle, each server until one knows it). */
  getStatus(job: JobRef, options: CallOptions = {}): Promise<JobStatus> {
    const handle = typeof job === 'string' ? job : job.handle;
    const server = typeof job === 'string' ? undefined : job.server;
    return guarded(`status of ${handle}`, this.callOptions(options), async (signal) => {
      if (server !== undefined) return (await this.pool.acquireServer(server, signal)).getStatus(handle, signal);
      let unknown: JobStatus | undefined;
      let lastError: unknown;
      for (const address of this.pool.addresses) {
        try {
          const status = await (await this.pool.acquireServer(address.key, signal)).getStatus(handle, signal);
          if (status.known) return status;
          unknown ??= status;
        } catch (error) {
          if (signal.aborted) throw error;
          lastError = error;
        }
      }
      if (unknown !== undefined) return unknown;
      throw lastError;
    });
  }

  /** GET_STATUS_UNIQUE: asks the server the unique hashes to (where it was submitted). */
  getStatusUnique(unique: string, options: CallOptions = {}): Promise<UniqueStatus> {
    return guarded(`status of unique ${unique}`, this.callOptions(options), async (signal) => {
      const session = await this.pool.acquire(unique, signal);
      return session.getStatusUnique(Buffer.from(unique, 'utf8'), signal);
    });
  }

  /** ECHO_REQ round trip to one server (a liveness check). */
  echo(data: Workload = '', options: CallOptions = {}): Promise<Buffer> {
    return guarded('echo', this.callOptions(options), async (signal) => {
      const session = await this.pool.acquire(this.pool.nextKey(), signal);
      return session.echo(toBuffer(data), signal);
    });
  }

  /** Close every connection. Jobs still waiting reject with ConnectionLostError. */
  close(): void {
    this.pool.close();
  }

  private background(
    functionName: string,
    unique: string,
    type: number,
    middle: (Buffer | string)[],
    data: Buffer,
    options: CallOptions,
  ): Promise<BackgroundJob> {
    return guarded(`background job ${functionName}`, this.callOptions(options), async (signal) => {
      const session = await this.pool.acquire(unique === '' ? this.pool.nextKey() : unique, signal);
      const handle = await session.submitBackground(type, [Buffer.from(functionName, 'utf8'), ...middle, data], signal);
      return { handle, unique, server: session.connection.address.key };
    });
  }

  private callOptions(options: CallOptions): CallOptions {
    return options.timeoutMs === undefined && this.defaultTimeoutMs !== undefined ? { ...options, timeoutMs: this.defaultTimeoutMs } : options;
  }
}
