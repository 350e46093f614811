import { Connection } from './connection.js';
import { ClosedError, ConnectionLostError } from './errors.js';
import { guarded } from './guard.js';
import { connectionDefaults, resolveAddress, type CallOptions, type ServerAddress } from './options.js';
import {
  parseAdminError,
  parseJobs,
  parseOk,
  parsePriorityStatus,
  parseStatus,
  parseWorkers,
  type FunctionPriorityStatus,
  type FunctionStatus,
  type JobInfo,
  type WorkerInfo,
} from './admin-replies.js';

export type { FunctionStatus, FunctionPriorityStatus, WorkerInfo, JobInfo } from './admin-replies.js';

export interface AdminOptions extends ServerAddress {
  /** TCP connect timeout. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Timeout applied to commands that do not pass `timeoutMs`. Default 10000 ms. */
  defaultTimeoutMs?: number;
}

/** One number for every priority, or each priority apart (0 = unlimited). */
export type MaxQueueSizes = number | { high: number; normal: number; low: number };

/** A command awaiting its reply: one status line, or a listing ended by `.` (spec 2.1). */
interface PendingCommand {
  readonly listing: boolean;
  readonly lines: string[];
  readonly resolve: (lines: string[]) => void;
  readonly reject: (error: Error) => void;
  abandoned: boolean;
}

/**
 * The admin text protocol on a job server's port (gearman-spec 2.2), with typed results.
 * One connection, opened on first use and reopened after a loss; commands are pipelined.
 */
export class Admin {
  private readonly address;
  private readonly connectTimeoutMs: number;
  private readonly defaultTimeoutMs: number;
  private connection: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private pending: PendingCommand[] = [];
  private closed = false;

  constructor(options: AdminOptions = {}) {
    this.address = resolveAddress(options);
    this.connectTimeoutMs = options.connectTimeoutMs ?? connectionDefaults.connectTimeoutMs;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
  }

  /** `status`: per function, jobs (queued + running), running jobs and workers. */
  async status(options?: CallOptions): Promise<FunctionStatus[]> {
    return parseStatus(await this.listing('status', options));
  }

  /** `prioritystatus`: per function, queued jobs per priority and workers. */
  async priorityStatus(options?: CallOptions): Promise<FunctionPriorityStatus[]> {
    return parsePriorityStatus(await this.listing('prioritystatus', options));
  }

  /** `workers`: every connection on the server (not only workers, spec 1.12 item 7). */
  async workers(options?: CallOptions): Promise<WorkerInfo[]> {
    return parseWorkers(await this.listing('workers', options));
  }

  /** `show jobs`: every job in memory. */
  async showJobs(options?: CallOptions): Promise<JobInfo[]> {
    return parseJobs(await this.listing('show jobs', options));
  }

  /** `show unique jobs`: the unique id of every job in memory. */
  showUniqueJobs(options?: CallOptions): Promise<string[]> {
    return this.listing('show unique jobs', options);
  }

  /** `version`: the server's version string, e.g. `1.1.20`. */
  async version(options?: CallOptions): Promise<string> {
    return parseOk(await this.line('version', options));
  }

  /** `getpid`: the server's process id. */
  async getpid(options?: CallOptions): Promise<number> {
    return Number(parseOk(await this.line('getpid', options)));
  }

  /** `verbose`: the server's log level name, e.g. `ERROR`. */
  async verbose(options?: CallOptions): Promise<string> {
    return parseOk(await this.line('verbose', options));
  }

  /** `maxqueue`: limit a function's queue (total jobs per priority; 0 or omitted = unlimited). */
  async maxQueue(functionName: string, sizes?: MaxQueueSizes, options?: CallOptions): Promise<void> {
    const numbers = sizes === undefined ? [] : typeof sizes === 'number' ? [sizes] : [sizes.high, sizes.normal, sizes.low];
    parseOk(await this.line(['maxqueue', token(functionName), ...numbers.map((n) => String(Math.trunc(n)))].join(' '), options));
  }

  /** `cancel job`: fail a job for its clients and discard it (AdminError `UNKNOWN_JOB` if absent). */
  async cancelJob(handle: string, options?: CallOptions): Promise<void> {
    parseOk(await this.line(`cancel job ${token(handle)}`, options));
  }

  /** `create function`: make a function known (listed by `status`). */
  async createFunction(functionName: string, options?: CallOptions): Promise<void> {
    // Sent with CRLF like gearadmin: gearmand drops the last character with a bare LF (spec 2.2).
    parseOk(await this.line(`create function ${token(functionName)}`, options));
  }

  /** `drop function`: forget a function with no workers and no running jobs. */
  async dropFunction(functionName: string, options?: CallOptions): Promise<void> {
    parseOk(await this.line(`drop function ${token(functionName)}`, options));
  }

  close(): void {
    this.closed = true;
    this.connection?.close();
    this.connection = undefined;
  }

  private listing(command: string, options?: CallOptions): Promise<string[]> {
    return this.run(command, true, options);
  }

  private async line(command: string, options?: CallOptions): Promise<string> {
    const [line = ''] = await this.run(command, false, options);
    return line;
  }

  private run(command: string, listing: boolean, options: CallOptions = {}): Promise<string[]> {
    const call = { ...options, timeoutMs: options.timeoutMs ?? this.defaultTimeoutMs };
    return guarded(`admin ${command.split(' ')[0]}`, call, async (signal) => {
      const connection = await this.open();
      return new Promise<string[]>((resolve, reject) => {
        const entry: PendingCommand = { listing, lines: [], resolve, reject, abandoned: false };
        signal.addEventListener('abort', () => (entry.abandoned = true), { once: true });
        this.pending.push(entry);
        connection.write(`${command}\r\n`);
      });
    });
  }

  private async open(): Promise<Connection> {
    if (this.closed) throw new ClosedError('admin');
    if (this.connection !== undefined && !this.connection.closed) return this.connection;
    this.connecting ??= Connection.open(
      this.address,
      {
        onText: (line) => this.receive(line.toString('utf8')),
        onPacket: () => {},
        onClose: (error) => this.lost(error),
      },
      { connectTimeoutMs: this.connectTimeoutMs },
    ).finally(() => (this.connecting = undefined));
    const connection = await this.connecting;
    if (this.closed) {
      connection.close();
      throw new ClosedError('admin');
    }
    this.pending = [];
    this.connection = connection;
    return connection;
  }

  private receive(line: string): void {
    const head = this.pending[0];
    if (head === undefined) return;
    const done = (lines: string[]) => {
      this.pending.shift();
      if (!head.abandoned) head.resolve(lines);
    };
    if (!head.listing) return done([line]);
    if (head.lines.length === 0) {
      // A listing command that fails answers one ERR line instead (e.g. `show` with bad arguments).
      const error = parseAdminError(line);
      if (error !== undefined) {
        this.pending.shift();
        if (!head.abandoned) head.reject(error);
        return;
      }
    }
    if (line === '.') return done(head.lines);
    head.lines.push(line);
  }

  private lost(error: Error | undefined): void {
    const waiting = this.pending;
    this.pending = [];
    this.connection = undefined;
    for (const entry of waiting) entry.reject(new ConnectionLostError(this.address.key, error));
  }
}

/** Admin arguments are space-separated tokens: refuse what would change the command. */
function token(value: string): string {
  if (value.length === 0 || /[ \r\n]/.test(value)) throw new RangeError(`admin argument must be non-empty and contain no spaces or line breaks: ${JSON.stringify(value)}`);
  return value;
}
