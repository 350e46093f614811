/**
 * A tiny Gearman worker over a raw socket, for HTTP tests: it registers functions and runs
 * each grabbed job through a script of steps (data, warning, status, then complete, fail or
 * exception, or hold the job until released). No dependency on src/client.
 */
import { connect, type Socket } from 'node:net';
import { encodeRequest, FrameDecoder, PacketType as T, type Frame } from '../../src/protocol/index.js';

export type Step =
  | { data: string | Buffer }
  | { warning: string }
  | { status: [number, number] }
  | { complete: string | Buffer }
  | { fail: true }
  | { exception: string };

export interface GrabbedJob {
  readonly handle: string;
  readonly functionName: string;
  readonly unique: string;
  readonly workload: Buffer;
}

/** What to do with a job: steps sent at once, or 'hold' (the test finishes it with `send`). */
export type JobScript = (job: GrabbedJob) => Step[] | 'hold';

export const reverse: JobScript = (job) => [{ complete: Buffer.from([...job.workload].reverse()) }];

export class RawWorker {
  readonly socket: Socket;
  readonly jobs: GrabbedJob[] = [];
  private readonly decoder = new FrameDecoder();
  private readonly scripts: Record<string, JobScript>;
  private waiters: Array<() => void> = [];

  private constructor(socket: Socket, scripts: Record<string, JobScript>) {
    this.socket = socket;
    this.scripts = scripts;
    socket.on('data', (chunk) => this.decoder.push(chunk, (f) => this.onFrame(f)));
    socket.on('error', () => {});
  }

  static async start(port: number, scripts: Record<string, JobScript>): Promise<RawWorker> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const worker = new RawWorker(socket, scripts);
    for (const name of Object.keys(scripts)) socket.write(encodeRequest(T.CAN_DO, [name]));
    socket.write(encodeRequest(T.GRAB_JOB_UNIQ));
    // ECHO round trip: once answered, the server has seen every CAN_DO.
    await worker.echo();
    return worker;
  }

  private echoResolve: (() => void) | undefined;
  private echo(): Promise<void> {
    return new Promise((resolve) => {
      this.echoResolve = resolve;
      this.socket.write(encodeRequest(T.ECHO_REQ, ['ping']));
    });
  }

  /** Resolves once `count` jobs have been grabbed in total; rejects after `timeoutMs` (a test must not hang). */
  async grabbed(count: number, timeoutMs = 10_000): Promise<GrabbedJob> {
    const deadline = Date.now() + timeoutMs;
    while (this.jobs.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`grabbed ${this.jobs.length} of ${count} jobs within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.jobs[count - 1]!;
  }

  send(handle: string, steps: Step[]): void {
    for (const step of steps) {
      if ('data' in step) this.socket.write(encodeRequest(T.WORK_DATA, [handle, Buffer.from(step.data)]));
      else if ('warning' in step) this.socket.write(encodeRequest(T.WORK_WARNING, [handle, step.warning]));
      else if ('status' in step) this.socket.write(encodeRequest(T.WORK_STATUS, [handle, String(step.status[0]), String(step.status[1])]));
      else if ('complete' in step) this.socket.write(encodeRequest(T.WORK_COMPLETE, [handle, Buffer.from(step.complete)]));
      else if ('fail' in step) this.socket.write(encodeRequest(T.WORK_FAIL, [handle]));
      else if ('exception' in step) this.socket.write(encodeRequest(T.WORK_EXCEPTION, [handle, step.exception]));
    }
  }

  private onFrame(frame: Frame): void {
    if (frame.kind !== 'packet') return;
    switch (frame.type) {
      case T.ECHO_RES:
        this.echoResolve?.();
        this.echoResolve = undefined;
        return;
      case T.NOOP:
        this.socket.write(encodeRequest(T.GRAB_JOB_UNIQ));
        return;
      case T.NO_JOB:
        this.socket.write(encodeRequest(T.PRE_SLEEP));
        return;
      case T.JOB_ASSIGN_UNIQ: {
        const [handle, fn, unique, workload] = frame.args.map((a) => Buffer.from(a));
        const job: GrabbedJob = { handle: handle!.toString('latin1'), functionName: fn!.toString('latin1'), unique: unique!.toString('latin1'), workload: workload! };
        this.jobs.push(job);
        for (const w of this.waiters.splice(0)) w();
        const steps = this.scripts[job.functionName]?.(job) ?? [{ fail: true }];
        if (steps !== 'hold') this.send(job.handle, steps);
        this.socket.write(encodeRequest(T.GRAB_JOB_UNIQ));
        return;
      }
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
