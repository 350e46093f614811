import { Backoff } from './backoff.js';
import { ClientSession } from './client-session.js';
import { ClosedError, NoServerAvailableError } from './errors.js';
import { delay } from './guard.js';
import { failoverOrder } from './hash.js';
import type { BackoffOptions, ResolvedAddress } from './options.js';

export interface PoolOptions {
  connectTimeoutMs: number;
  backoff: BackoffOptions;
  /** How long a call waits for some server to accept a connection before giving up. */
  unavailableTimeoutMs: number;
  exceptions: boolean;
  clientId: string | undefined;
}

/** One server: a lazily opened session, reopened on demand after a loss, with backoff. */
class ServerLink {
  readonly address: ResolvedAddress;
  private readonly backoff: Backoff;
  private session: ClientSession | undefined;
  private connecting: Promise<ClientSession> | undefined;
  lastError: unknown;
  private closed = false;

  constructor(address: ResolvedAddress, private readonly options: PoolOptions) {
    this.address = address;
    this.backoff = new Backoff(options.backoff);
  }

  /** The open session, if any. */
  get current(): ClientSession | undefined {
    return this.session !== undefined && !this.session.isClosed ? this.session : undefined;
  }

  waitMs(): number {
    return this.current !== undefined || this.connecting !== undefined ? 0 : this.backoff.waitMs();
  }

  open(): Promise<ClientSession> {
    const current = this.current;
    if (current !== undefined) return Promise.resolve(current);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<ClientSession> {
    try {
      const session = await ClientSession.open(this.address, {
        connectTimeoutMs: this.options.connectTimeoutMs,
        exceptions: this.options.exceptions,
        clientId: this.options.clientId,
        onClose: (error) => {
          if (error !== undefined) this.lastError = error;
        },
      });
      if (this.closed) {
        session.close();
        throw new ClosedError('client');
      }
      this.backoff.succeed();
      this.session = session;
      return session;
    } catch (error) {
      this.lastError = error;
      this.backoff.fail();
      throw error;
    }
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = undefined;
  }
}

/** The configured servers, chosen by hash of a key with failover to the next one that is up. */
export class ServerPool {
  private readonly links: ServerLink[];
  private closed = false;
  private roundRobin = 0;

  constructor(addresses: readonly ResolvedAddress[], private readonly options: PoolOptions) {
    this.links = addresses.map((address) => new ServerLink(address, options));
  }

  get addresses(): ResolvedAddress[] {
    return this.links.map((link) => link.address);
  }

  /** A distinct key per call, for requests that have no unique to hash. */
  nextKey(): string {
    return String(this.roundRobin++);
  }

  /**
   * The session for `key`: its hashed server if that is up, else the next ones in order.
   * While every server is down, wait for the earliest backoff to pass, up to the limit.
   */
  async acquire(key: string, signal: AbortSignal): Promise<ClientSession> {
    const deadline = Date.now() + this.options.unavailableTimeoutMs;
    for (;;) {
      if (this.closed) throw new ClosedError('client');
      const order = failoverOrder(key, this.links.length).map((i) => this.links[i]!);
      for (const link of order) {
        const current = link.current;
        if (current !== undefined) return current;
        if (link.waitMs() > 0) continue;
        try {
          return await raceAbort(link.open(), signal);
        } catch (error) {
          if (signal.aborted || this.closed) throw signal.aborted ? signal.reason : error;
        }
      }
      const wait = Math.min(...order.map((link) => link.waitMs()));
      if (Date.now() + wait > deadline) {
        throw new NoServerAvailableError(new Map(order.map((link) => [link.address.key, link.lastError ?? 'backing off'])));
      }
      await delay(Math.max(wait, 1), signal);
    }
  }

  /** The session of a given server (for job handles, which only that server knows). */
  async acquireServer(serverKey: string, signal: AbortSignal): Promise<ClientSession> {
    const index = this.links.findIndex((link) => link.address.key === serverKey);
    if (index === -1) throw new RangeError(`server ${serverKey} is not configured`);
    const link = this.links[index]!;
    return raceAbort(link.open(), signal);
  }

  close(): void {
    this.closed = true;
    for (const link of this.links) link.close();
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
