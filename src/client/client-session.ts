import { PacketType, bytesToKey, type Field } from '../protocol/index.js';
import { Connection } from './connection.js';
import { ConnectionLostError, JobExceptionError, JobFailedError } from './errors.js';
import type { ForegroundJob } from './foreground-job.js';
import type { ResolvedAddress } from './options.js';

/**
 * One foreground attachment on the server (gearman-spec 1.3): the server sends each WORK_*
 * packet once per attachment. Local submissions of the same function and unique share one
 * attachment, so every caller sees each packet exactly once.
 */
interface Attachment {
  handle: string | undefined;
  readonly coalesceKey: string | undefined;
  readonly listeners: Set<ForegroundJob>;
}

export interface JobStatus {
  readonly handle: string;
  /** The server knows the job (queued or running). */
  readonly known: boolean;
  /** A worker is running it. */
  readonly running: boolean;
  /** Last WORK_STATUS numerator (0 if none). */
  readonly numerator: number;
  /** Last WORK_STATUS denominator (0 if none). */
  readonly denominator: number;
}

export interface UniqueStatus extends Omit<JobStatus, 'handle'> {
  readonly unique: string;
  /** Foreground clients waiting on the job. */
  readonly clientCount: number;
}

const copy = (bytes: Buffer) => Buffer.from(bytes);
const numberOf = (bytes: Buffer) => Number(bytesToKey(bytes));

/** The known, running, numerator, denominator fields shared by STATUS_RES and STATUS_RES_UNIQUE. */
function progressOf(args: Buffer[]): Omit<JobStatus, 'handle'> {
  return {
    known: bytesToKey(args[1]!) === '1',
    running: bytesToKey(args[2]!) === '1',
    numerator: numberOf(args[3]!),
    denominator: numberOf(args[4]!),
  };
}

/** Client state for one open connection: pending submissions and the jobs attached to it. */
export class ClientSession {
  readonly connection: Connection;
  private readonly byHandle = new Map<string, Attachment>();
  private readonly byUnique = new Map<string, Attachment>();

  private constructor(connection: Connection) {
    this.connection = connection;
  }

  static async open(
    address: ResolvedAddress,
    options: { connectTimeoutMs: number; exceptions: boolean; clientId: string | undefined; onClose: (error?: Error) => void },
  ): Promise<ClientSession> {
    let session: ClientSession | undefined;
    const connection = await Connection.open(
      address,
      {
        onPacket: (type, args) => session?.receive(type, args),
        onClose: (error) => {
          session?.closed(error);
          options.onClose(error);
        },
      },
      { connectTimeoutMs: options.connectTimeoutMs },
    );
    session = new ClientSession(connection);
    if (options.clientId !== undefined) connection.send(PacketType.SET_CLIENT_ID, [Buffer.from(options.clientId)]);
    if (options.exceptions) {
      // Sent before any submission on this connection, so it applies to all of them (spec 1.7).
      // Not awaited: replies come in order, and a server without the option just says ERROR.
      connection.request(PacketType.OPTION_REQ, ['exceptions'], [PacketType.OPTION_RES], () => undefined).catch(() => {});
    }
    return session;
  }

  get isClosed(): boolean {
    return this.connection.closed;
  }

  /** Jobs waiting for results on this connection. */
  get attachedJobs(): number {
    return this.byHandle.size;
  }

  submitForeground(job: ForegroundJob, type: number, fields: readonly [Field, Field, Buffer], coalesceKey: string | undefined): void {
    let attachment = coalesceKey === undefined ? undefined : this.byUnique.get(coalesceKey);
    if (attachment === undefined) {
      const created: Attachment = { handle: undefined, coalesceKey, listeners: new Set() };
      attachment = created;
      if (coalesceKey !== undefined) this.byUnique.set(coalesceKey, created);
      const server = this.connection.address.key;
      this.connection
        .request(type, fields, [PacketType.JOB_CREATED], (_type, args) => {
          // Synchronous: WORK_* for this handle may follow in the same chunk.
          const handle = bytesToKey(args[0]!);
          created.handle = handle;
          this.byHandle.set(handle, created);
          for (const listener of created.listeners) listener.accept(handle, server);
        })
        .catch((error: Error) => {
          this.forget(created);
          for (const listener of created.listeners) listener.settle(error);
        });
    }
    const shared = attachment;
    shared.listeners.add(job);
    if (shared.handle !== undefined) job.accept(shared.handle, this.connection.address.key);
    job.onSettle(() => shared.listeners.delete(job));
  }

  submitBackground(type: number, fields: readonly Field[], signal?: AbortSignal): Promise<string> {
    return this.connection.request(type, fields, [PacketType.JOB_CREATED], (_t, args) => bytesToKey(args[0]!), signal);
  }

  getStatus(handle: string, signal?: AbortSignal): Promise<JobStatus> {
    return this.connection.request(PacketType.GET_STATUS, [handle], [PacketType.STATUS_RES], (_t, args) => ({
      handle: bytesToKey(args[0]!),
      ...progressOf(args),
    }), signal);
  }

  getStatusUnique(unique: Buffer, signal?: AbortSignal): Promise<UniqueStatus> {
    return this.connection.request(PacketType.GET_STATUS_UNIQUE, [unique], [PacketType.STATUS_RES_UNIQUE], (_t, args) => ({
      unique: args[0]!.toString('utf8'),
      ...progressOf(args),
      clientCount: numberOf(args[5]!),
    }), signal);
  }

  echo(data: Buffer, signal?: AbortSignal): Promise<Buffer> {
    return this.connection.request(PacketType.ECHO_REQ, [data], [PacketType.ECHO_RES], (_t, args) => copy(args[0]!), signal);
  }

  close(): void {
    this.connection.close();
  }

  private receive(type: number, args: Buffer[]): void {
    switch (type) {
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING: {
        const kind = type === PacketType.WORK_DATA ? 'data' : 'warning';
        this.each(args[0]!, (job) => job.push({ type: kind, data: copy(args[1]!) }));
        return;
      }
      case PacketType.WORK_STATUS:
        this.each(args[0]!, (job) =>
          job.push({ type: 'status', numerator: numberOf(args[1]!), denominator: numberOf(args[2]!) }),
        );
        return;
      case PacketType.WORK_COMPLETE:
        this.finish(args[0]!, (job) => job.settle(undefined, copy(args[1]!)));
        return;
      case PacketType.WORK_FAIL: {
        // gearmand turns WORK_EXCEPTION into WORK_FAIL with the handle's NUL kept (spec 1.6).
        const raw = args[0]!;
        const handle = raw.length > 0 && raw[raw.length - 1] === 0 ? raw.subarray(0, -1) : raw;
        this.finish(handle, (job, h) => job.settle(new JobFailedError(h)));
        return;
      }
      case PacketType.WORK_EXCEPTION:
        this.finish(args[0]!, (job, h) => job.settle(new JobExceptionError(h, copy(args[1]!))));
        return;
      default:
        // Unsolicited ERROR or anything else: nothing waits for it on a client connection.
        return;
    }
  }

  private each(handle: Buffer, deliver: (job: ForegroundJob) => void): void {
    const attachment = this.byHandle.get(bytesToKey(handle));
    if (attachment === undefined) return;
    for (const job of [...attachment.listeners]) deliver(job);
  }

  private finish(handleBytes: Buffer, deliver: (job: ForegroundJob, handle: string) => void): void {
    const handle = bytesToKey(handleBytes);
    const attachment = this.byHandle.get(handle);
    if (attachment === undefined) return;
    this.forget(attachment);
    for (const job of [...attachment.listeners]) deliver(job, handle);
  }

  private forget(attachment: Attachment): void {
    if (attachment.handle !== undefined && this.byHandle.get(attachment.handle) === attachment) this.byHandle.delete(attachment.handle);
    if (attachment.coalesceKey !== undefined && this.byUnique.get(attachment.coalesceKey) === attachment) {
      this.byUnique.delete(attachment.coalesceKey);
    }
  }

  private closed(error: Error | undefined): void {
    const lost = new ConnectionLostError(this.connection.address.key, error);
    const attachments = new Set([...this.byHandle.values(), ...this.byUnique.values()]);
    this.byHandle.clear();
    this.byUnique.clear();
    for (const attachment of attachments) for (const job of [...attachment.listeners]) job.settle(lost);
  }
}
