import { PacketType, bytesToKey, type Field } from '../protocol/index.js';
import { Backoff } from './backoff.js';
import { Connection } from './connection.js';
import { ConnectionLostError, ServerError } from './errors.js';
import type { BackoffOptions, ResolvedAddress } from './options.js';

/** A registered function as the server must know it. */
export interface Registration {
  readonly name: string;
  /** CAN_DO_TIMEOUT in ms; 0 registers with plain CAN_DO. */
  readonly timeoutMs: number;
}

/** What a server connection needs from the Worker that owns it. */
export interface WorkerHost {
  readonly registrations: () => Iterable<Registration>;
  readonly clientId: string | undefined;
  readonly connectTimeoutMs: number;
  readonly backoff: BackoffOptions;
  readonly pollIntervalMs: number;
  /** A GRAB may be sent (a concurrency slot is free and the worker is not stopping). */
  readonly canGrab: () => boolean;
  /** A grab ended without a job (NO_JOB or connection loss): its slot is free again. */
  readonly grabEnded: () => void;
  readonly assigned: (owner: WorkerConnection, connection: Connection, job: AssignedJob) => void;
  readonly connectionChanged: (connection: WorkerConnection, up: boolean, error?: unknown) => void;
  readonly warn: (error: Error) => void;
}

export interface AssignedJob {
  readonly handle: string;
  readonly functionName: string;
  readonly unique: string;
  readonly workload: Buffer;
}

/**
 * One worker connection to one server, reconnected with backoff until stopped. Holds the
 * grab/sleep state (gearman-spec 1.4): GRAB_JOB_UNIQ while slots are free; after NO_JOB send
 * PRE_SLEEP and wait for NOOP; at most one GRAB outstanding at a time.
 */
export class WorkerConnection {
  readonly address: ResolvedAddress;
  private readonly host: WorkerHost;
  private readonly backoff: Backoff;
  private connection: Connection | undefined;
  private grabbing = false;
  private sleeping = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private firstAttempt: Promise<void>;
  private settleFirstAttempt!: () => void;

  constructor(address: ResolvedAddress, host: WorkerHost) {
    this.address = address;
    this.host = host;
    this.backoff = new Backoff(host.backoff);
    this.firstAttempt = new Promise((resolve) => (this.settleFirstAttempt = resolve));
  }

  get connected(): boolean {
    return this.connection !== undefined && !this.connection.closed;
  }

  /** A GRAB awaits its reply. */
  get grabOutstanding(): boolean {
    return this.grabbing;
  }

  /** Start connecting; resolves after the first attempt (registered, or failed). */
  start(): Promise<void> {
    void this.connect();
    return this.firstAttempt;
  }

  /** Tell the server about a new registration (and make sure it took effect). */
  async register(registration: Registration): Promise<void> {
    const connection = this.connection;
    if (connection === undefined || connection.closed) return;
    this.sendRegistration(connection, registration);
    // A sleeping worker is not woken for jobs already queued (spec 1.4): look now.
    this.wake();
    await this.roundTrip(connection);
  }

  unregister(name: string): void {
    if (this.connected) this.connection!.send(PacketType.CANT_DO, [Buffer.from(name, 'utf8')]);
  }

  /** Send a GRAB if this connection may: up, not already grabbing, not asleep. */
  tryGrab(): boolean {
    if (this.stopped || this.grabbing || this.sleeping || !this.connected || !this.host.canGrab()) return false;
    this.grabbing = true;
    this.connection!.send(PacketType.GRAB_JOB_UNIQ);
    return true;
  }

  /** Send a packet for a job; dropped when the connection that assigned it is gone. */
  sender(connection: Connection): (type: number, fields: readonly Field[]) => void {
    return (type, fields) => {
      if (!connection.closed) connection.send(type, fields);
    };
  }

  get current(): Connection | undefined {
    return this.connection;
  }

  /** Stop reconnecting and close (the server requeues jobs still held here). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.pollTimer);
    this.connection?.close();
    this.settleFirstAttempt();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let connection: Connection;
    try {
      connection = await Connection.open(
        this.address,
        {
          onPacket: (type, args) => this.receive(connection, type, args),
          onClose: (error) => this.lost(connection, error),
        },
        { connectTimeoutMs: this.host.connectTimeoutMs },
      );
    } catch (error) {
      this.host.connectionChanged(this, false, error);
      this.scheduleReconnect();
      this.settleFirstAttempt();
      return;
    }
    if (this.stopped) {
      connection.close();
      return;
    }
    this.connection = connection;
    this.grabbing = false;
    this.sleeping = false;
    if (this.host.clientId !== undefined) connection.send(PacketType.SET_CLIENT_ID, [Buffer.from(this.host.clientId, 'utf8')]);
    for (const registration of this.host.registrations()) this.sendRegistration(connection, registration);
    await this.roundTrip(connection);
    if (connection.closed) {
      this.settleFirstAttempt(); // lost during setup: lost() already scheduled the retry
      return;
    }
    this.backoff.succeed();
    this.host.connectionChanged(this, true);
    this.settleFirstAttempt();
    this.wake();
  }

  private sendRegistration(connection: Connection, { name, timeoutMs }: Registration): void {
    const fn = Buffer.from(name, 'utf8');
    if (timeoutMs > 0) connection.send(PacketType.CAN_DO_TIMEOUT, [fn, String(Math.ceil(timeoutMs))]);
    else connection.send(PacketType.CAN_DO, [fn]);
  }

  /** ECHO round trip: once it returns, everything sent before it has been processed. */
  private async roundTrip(connection: Connection): Promise<void> {
    try {
      await connection.request(PacketType.ECHO_REQ, [Buffer.alloc(0)], [PacketType.ECHO_RES], () => undefined);
    } catch {
      // Connection lost meanwhile (handled by onClose) or an unrelated ERROR: nothing to do.
    }
  }

  private receive(connection: Connection, type: number, args: Buffer[]): void {
    switch (type) {
      case PacketType.NO_JOB:
        this.endGrab();
        if (!this.stopped && !connection.closed) {
          // Spec 1.4: sleep only after NO_JOB; the server answers with NOOP when work arrives.
          connection.send(PacketType.PRE_SLEEP);
          this.sleeping = true;
          this.armPoll();
        }
        this.host.grabEnded();
        return;
      case PacketType.JOB_ASSIGN_UNIQ:
      case PacketType.JOB_ASSIGN_ALL:
      case PacketType.JOB_ASSIGN: {
        this.endGrab();
        const unique = type === PacketType.JOB_ASSIGN ? '' : args[2]!.toString('utf8');
        this.host.assigned(this, connection, {
          handle: bytesToKey(args[0]!),
          functionName: args[1]!.toString('utf8'),
          unique,
          workload: Buffer.from(args[args.length - 1]!),
        });
        return;
      }
      case PacketType.NOOP:
        this.wake();
        return;
      case PacketType.ERROR:
        this.host.warn(new ServerError(bytesToKey(args[0]!), args[1]!.toString('utf8')));
        return;
      default:
        return;
    }
  }

  private endGrab(): void {
    this.grabbing = false;
  }

  /** NOOP, poll timer, or a new registration: grab again if allowed. */
  private wake(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.sleeping = false;
    this.tryGrab();
  }

  /**
   * While asleep, look again now and then: gearmand 1.1.x never wakes workers for epoch jobs
   * that become due (spec 1.4), and a NOOP lost to a race would otherwise stall us.
   */
  private armPoll(): void {
    clearTimeout(this.pollTimer);
    if (this.host.pollIntervalMs <= 0) return;
    this.pollTimer = setTimeout(() => this.wake(), this.host.pollIntervalMs);
    this.pollTimer.unref();
  }

  private lost(connection: Connection, error: Error | undefined): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    clearTimeout(this.pollTimer);
    this.sleeping = false;
    if (this.grabbing) {
      this.grabbing = false;
      this.host.grabEnded();
    }
    if (this.stopped) return; // our own close(): nothing to report or retry
    this.host.connectionChanged(this, false, error ?? new ConnectionLostError(this.address.key));
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const wait = this.backoff.fail();
    this.reconnectTimer = setTimeout(() => void this.connect(), wait);
  }
}
