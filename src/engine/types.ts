import type { Priority } from '../store/types.js';
export { Priority } from '../store/types.js';

/**
 * What the engine tells a connection (binary session, HTTP exchange, test double).
 * The engine decides who hears what; the listener decides how it goes on the wire.
 */
export interface PeerListener {
  /** A sleeping worker should wake up: send NOOP. */
  wake(): void;
  /** WORK_DATA / WORK_WARNING forwarded from the worker, for a job this peer waits on. */
  workData(job: JobView, data: Buffer): void;
  workWarning(job: JobView, data: Buffer): void;
  /** WORK_STATUS, numerator and denominator as the worker sent them. */
  workStatus(job: JobView, numerator: Buffer, denominator: Buffer): void;
  workComplete(job: JobView, data: Buffer): void;
  /** The job failed: WORK_FAIL from the worker, retries exhausted, or cancelled. */
  workFail(job: JobView): void;
  /** WORK_EXCEPTION; the listener converts it to WORK_FAIL when its client lacks `exceptions`. */
  workException(job: JobView, data: Buffer): void;
}

/** The read-only face of a job handed to listeners. */
export interface JobView {
  readonly handle: string;
  /** n of the handle `<prefix>:<n>`: with the engine's `jobs.head`, the handle's bytes without the string. */
  readonly id: number;
  readonly functionName: string;
  readonly unique: string;
}

export interface SubmitRequest {
  readonly functionName: string;
  /** '' = never coalesce, '-' = coalesce on the workload, else coalesce on this id. */
  readonly unique: string;
  readonly data: Buffer;
  readonly priority: Priority;
  readonly background: boolean;
  /** Epoch seconds; 0 = now. */
  readonly when?: number;
  readonly reducer?: string;
}

/** One entry of the error catalogue as the binary protocol sends it (ERROR code and text). */
export interface EngineError {
  readonly code: string;
  readonly text: string;
}

export type SubmitResult =
  | {
      readonly ok: true;
      readonly job: JobView;
      /** True when the submission joined an existing job (gearmand: same handle back). */
      readonly coalesced: boolean;
      /**
       * For a background job waiting on the durable store: resolves once it is stored, or
       * rejects with an EngineError. Undefined when the reply may go out at once.
       */
      readonly durable?: Promise<void>;
    }
  | { readonly ok: false; readonly error: EngineError };

export interface JobStatus {
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  /** Attached foreground clients (GET_STATUS_UNIQUE's last field). */
  readonly clients: number;
}

/** A grabbed job, as JOB_ASSIGN* carries it. */
export interface Assignment {
  readonly handle: string;
  /** n of the handle, as JobView.id. */
  readonly id: number;
  readonly functionName: string;
  readonly unique: string;
  readonly reducer: string;
  readonly data: Buffer;
}

/** Injected time, so the engine is pure and tests drive the clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(timer: unknown): void;
}

/** setTimeout's longest delay: a longer one would fire after 1 ms. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A timer beyond setTimeout's range (a CAN_DO_TIMEOUT of years is valid): re-armed until due. */
class LongTimer {
  private timeout: NodeJS.Timeout;

  constructor(
    private readonly due: number,
    private readonly fn: () => void,
  ) {
    this.timeout = this.arm();
  }

  private arm(): NodeJS.Timeout {
    const left = Math.max(this.due - Date.now(), 0);
    const t = setTimeout(() => this.fire(), Math.min(left, MAX_TIMEOUT_MS));
    t.unref();
    return t;
  }

  private fire(): void {
    if (Date.now() < this.due) this.timeout = this.arm();
    else this.fn();
  }

  clear(): void {
    clearTimeout(this.timeout);
  }
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    if (ms > MAX_TIMEOUT_MS) return new LongTimer(Date.now() + ms, fn);
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimer: (t) => (t instanceof LongTimer ? t.clear() : clearTimeout(t as NodeJS.Timeout)),
};
export type { Priority as PriorityValue };
