import type { CallOptions } from './options.js';
import { AbortError, TimeoutError } from './errors.js';

/** A progress event of a foreground job (gearman-spec 1.6). */
export type JobEvent =
  | { readonly type: 'data'; readonly data: Buffer }
  | { readonly type: 'warning'; readonly data: Buffer }
  | { readonly type: 'status'; readonly numerator: number; readonly denominator: number };

/**
 * A foreground job: `await job` (or `job.result`) gives the WORK_COMPLETE payload; iterate it
 * (`for await (const event of job)`) to see WORK_DATA, WORK_STATUS and WORK_WARNING as they come.
 * Events are buffered from submission until read, up to `maxBufferedEvents` (SubmitOptions);
 * past that the oldest is dropped and counted in `droppedEvents`. Iterate once.
 */
export class ForegroundJob implements PromiseLike<Buffer>, AsyncIterable<JobEvent> {
  readonly functionName: string;
  readonly unique: string;
  /** Resolves with the WORK_COMPLETE data; rejects with JobFailedError, JobExceptionError, ... */
  readonly result: Promise<Buffer>;
  /** Resolves with the job handle once the server created the job (JOB_CREATED). */
  readonly created: Promise<string>;
  private jobHandle: string | undefined;
  private serverKey: string | undefined;
  private resolveResult!: (data: Buffer) => void;
  private rejectResult!: (error: Error) => void;
  private resolveCreated!: (handle: string) => void;
  private rejectCreated!: (error: Error) => void;
  private readonly events: JobEvent[] = [];
  private readonly maxBufferedEvents: number;
  private dropped = 0;
  private settled = false;
  private failure: Error | undefined;
  private wakeReader: (() => void) | undefined;
  private readonly cleanups: (() => void)[] = [];

  /** @internal Created by Client.submit. */
  constructor(functionName: string, unique: string, maxBufferedEvents: number) {
    this.functionName = functionName;
    this.unique = unique;
    this.maxBufferedEvents = maxBufferedEvents;
    this.result = new Promise((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.created = new Promise((resolve, reject) => {
      this.resolveCreated = resolve;
      this.rejectCreated = reject;
    });
    // A caller may only iterate, or fire and forget: never an unhandled rejection.
    this.result.catch(() => {});
    this.created.catch(() => {});
  }

  /** The job handle, once known. */
  get handle(): string | undefined {
    return this.jobHandle;
  }

  /** `host:port` of the server that runs the job, once known. */
  get server(): string | undefined {
    return this.serverKey;
  }

  get done(): boolean {
    return this.settled;
  }

  /** Progress events dropped, oldest first, because the buffer was full (nobody read them in time). */
  get droppedEvents(): number {
    return this.dropped;
  }

  then<A = Buffer, B = never>(
    onfulfilled?: ((value: Buffer) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.result.then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<Buffer | B> {
    return this.result.catch(onrejected);
  }

  /** The result decoded as text. */
  async text(encoding: BufferEncoding = 'utf8'): Promise<string> {
    return (await this.result).toString(encoding);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<JobEvent> {
    for (;;) {
      const event = this.events.shift();
      if (event !== undefined) {
        yield event;
        continue;
      }
      if (this.settled) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((wake) => (this.wakeReader = wake));
    }
  }

  /** @internal The server created (or coalesced) the job. */
  accept(handle: string, server: string): void {
    if (this.settled) return;
    this.jobHandle = handle;
    this.serverKey = server;
    this.resolveCreated(handle);
  }

  /** @internal A progress packet arrived. */
  push(event: JobEvent): void {
    if (this.settled) return;
    // Bounded so a job nobody iterates cannot grow without limit; the newest events win.
    if (this.events.length >= this.maxBufferedEvents) {
      this.dropped += 1;
      if (this.maxBufferedEvents === 0) return;
      this.events.shift();
    }
    this.events.push(event);
    this.wake();
  }

  /** @internal The job ended, or the caller stopped waiting. */
  settle(error: Error | undefined, data?: Buffer): void {
    if (this.settled) return;
    this.settled = true;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    if (error !== undefined) {
      this.failure = error;
      this.rejectCreated(error);
      this.rejectResult(error);
    } else {
      this.resolveResult(data ?? Buffer.alloc(0));
    }
    this.wake();
  }

  /** @internal Apply the call's timeout and signal; `onCancel` runs when either fires. */
  bindCancellation(options: CallOptions, onCancel: () => void): void {
    const what = `job ${this.functionName}`;
    const { signal, timeoutMs } = options;
    if (signal?.aborted) {
      this.settle(new AbortError(what, signal.reason));
      onCancel();
      return;
    }
    if (timeoutMs !== undefined) {
      const timer = setTimeout(() => {
        this.settle(new TimeoutError(what, timeoutMs));
        onCancel();
      }, timeoutMs);
      this.cleanups.push(() => clearTimeout(timer));
    }
    if (signal !== undefined) {
      const onAbort = () => {
        this.settle(new AbortError(what, signal.reason));
        onCancel();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.cleanups.push(() => signal.removeEventListener('abort', onAbort));
    }
  }

  /** @internal Run when the job settles, for whatever reason. */
  onSettle(cleanup: () => void): void {
    if (this.settled) cleanup();
    else this.cleanups.push(cleanup);
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }
}
