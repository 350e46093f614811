import { PacketType, type Field } from '../protocol/index.js';

type Chunk = Buffer | string | Uint8Array;

const toBuffer = (chunk: Chunk): Buffer =>
  typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

/**
 * A job handed to a worker function. Use `data`, `status` and `warning` to report progress to
 * foreground clients; return the result (Buffer | string | void) or throw.
 */
export class WorkerJob {
  readonly handle: string;
  readonly functionName: string;
  readonly unique: string;
  readonly workload: Buffer;
  /**
   * Fires when the job's results can no longer reach the server: its CAN_DO_TIMEOUT passed
   * (the server requeued it), the connection was lost, or the worker was closed.
   */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly sendPacket: (type: number, fields: readonly Field[]) => void;

  /** @internal Created by the worker when the server assigns a job. */
  constructor(
    fields: { handle: string; functionName: string; unique: string; workload: Buffer },
    sendPacket: (type: number, fields: readonly Field[]) => void,
  ) {
    this.handle = fields.handle;
    this.functionName = fields.functionName;
    this.unique = fields.unique;
    this.workload = fields.workload;
    this.signal = this.controller.signal;
    this.sendPacket = sendPacket;
  }

  /** The workload as UTF-8 text. */
  get text(): string {
    return this.workload.toString('utf8');
  }

  /** Whether results still reach the server. */
  get live(): boolean {
    return !this.signal.aborted;
  }

  /** WORK_DATA: a chunk of partial output for foreground clients. */
  data(chunk: Chunk): void {
    this.send(PacketType.WORK_DATA, [this.handle, toBuffer(chunk)]);
  }

  /** WORK_STATUS: progress as numerator/denominator (also answers GET_STATUS). */
  status(numerator: number, denominator: number): void {
    this.send(PacketType.WORK_STATUS, [this.handle, String(Math.trunc(numerator)), String(Math.trunc(denominator))]);
  }

  /** WORK_WARNING: a warning for foreground clients. */
  warning(chunk: Chunk): void {
    this.send(PacketType.WORK_WARNING, [this.handle, toBuffer(chunk)]);
  }

  /** @internal Send the final packet (WORK_COMPLETE / WORK_FAIL / WORK_EXCEPTION). */
  finish(type: number, fields: readonly Field[]): void {
    this.send(type, fields);
    this.abandon(new Error('job finished'));
  }

  /** @internal Stop sending anything for this job. */
  abandon(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** @internal */
  static toBuffer = toBuffer;

  private send(type: number, fields: readonly Field[]): void {
    // After a timeout the server may have given the same handle to another worker (or to
    // us again): anything sent now would be attributed to that new run.
    if (this.signal.aborted) return;
    this.sendPacket(type, fields);
  }
}
