import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FrameDecoder, PacketType, encodeRequest, packetName, type Field, type Frame } from '../protocol/index.js';
import { ConnectionLostError, ResponseProtocolError, ServerError, TimeoutError, AbortError } from './errors.js';
import type { ResolvedAddress } from './options.js';

/** What a connection does with packets that are not the reply to a pending request. */
export interface ConnectionHandlers {
  /** WORK_*, NOOP, NO_JOB, JOB_ASSIGN*, and ERROR packets when no request awaits a reply. */
  onPacket?(type: number, args: Buffer[]): void;
  /** Admin text lines (views into the receive buffer: copy what you keep). */
  onText?(line: Buffer): void;
  /** Called once when the socket closes, with the reason if it was not a local close(). */
  onClose?(error: Error | undefined): void;
}

/** A request awaiting its reply. Gearman replies arrive in request order on a connection. */
interface PendingReply {
  readonly replyTypes: readonly number[];
  /** Runs synchronously while the reply is decoded, so state is updated before the next packet. */
  readonly onReply: (type: number, args: Buffer[]) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  /** Timed out or aborted: the reply will still arrive and is then dropped. */
  abandoned: boolean;
}

/**
 * One TCP connection to one job server: frames bytes with FrameDecoder, batches writes,
 * matches replies to requests in FIFO order and hands every other packet to its owner.
 */
export class Connection {
  readonly address: ResolvedAddress;
  private readonly socket: Socket;
  private readonly handlers: ConnectionHandlers;
  private readonly decoder = new FrameDecoder();
  private readonly pending: PendingReply[] = [];
  private pendingHead = 0;
  private corked = false;
  private isClosed = false;

  private constructor(address: ResolvedAddress, socket: Socket, handlers: ConnectionHandlers) {
    this.address = address;
    this.socket = socket;
    this.handlers = handlers;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.teardown(error));
    socket.on('close', () => this.teardown(new ConnectionLostError(address.key)));
  }

  /** Open a connection; rejects on refusal, timeout or abort. */
  static open(
    address: ResolvedAddress,
    handlers: ConnectionHandlers,
    options: { connectTimeoutMs: number; signal?: AbortSignal },
  ): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) return reject(signal.reason);
      const { host, port, tls } = address;
      // TLS: connected once the handshake has verified the server, not at the TCP connect.
      const socket =
        tls === undefined
          ? netConnect({ host, port })
          : tlsConnect({ ...tls, host, port, servername: tls.servername ?? (isIP(host) === 0 ? host : undefined), rejectUnauthorized: true });
      const fail = (error: Error) => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (error: Error) => fail(error);
      const onAbort = () => fail(signal?.reason instanceof Error ? signal.reason : new AbortError(`connect to ${address.key}`));
      const timer = setTimeout(() => fail(new TimeoutError(`connect to ${address.key}`, options.connectTimeoutMs)), options.connectTimeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
        cleanup();
        resolve(new Connection(address, socket, handlers));
      });
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Requests sent whose reply has not arrived yet (abandoned ones included). */
  get awaitingReplies(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Send a packet that has no reply (CAN_DO, PRE_SLEEP, WORK_*, SET_CLIENT_ID...). */
  send(type: number, fields: readonly Field[] = []): void {
    this.write(encodeRequest(type, fields));
  }

  /** Send raw bytes (admin text commands). */
  write(bytes: Buffer | string): void {
    if (this.isClosed) throw new ConnectionLostError(this.address.key);
    if (!this.corked) {
      // Gather everything written in this tick into one TCP segment.
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  /**
   * Send a request and wait for its reply: one of `replyTypes`, or ERROR (rejects with
   * ServerError). `onReply` runs synchronously when the reply is decoded; its result resolves.
   */
  request<T>(
    type: number,
    fields: readonly Field[],
    replyTypes: readonly number[],
    onReply: (type: number, args: Buffer[]) => T,
    signal?: AbortSignal,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (this.isClosed) return reject(new ConnectionLostError(this.address.key));
      const entry: PendingReply = {
        replyTypes,
        onReply,
        resolve: resolve as (value: unknown) => void,
        reject,
        abandoned: false,
      };
      if (signal !== undefined) {
        const onAbort = () => {
          entry.abandoned = true;
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const settle = (fn: (v: never) => void) => (v: never) => {
          signal.removeEventListener('abort', onAbort);
          fn(v);
        };
        Object.assign(entry, { resolve: settle(resolve as never), reject: settle(reject as never) });
      }
      this.pending.push(entry);
      this.write(encodeRequest(type, fields));
    });
  }

  /** Close now; pending requests reject with ConnectionLostError. */
  close(): void {
    this.teardown(undefined);
  }

  private receive(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (frame) => this.dispatch(frame));
    } catch (error) {
      this.teardown(new ResponseProtocolError(`bad data from ${this.address.key}: ${(error as Error).message}`, error));
    }
  }

  private dispatch(frame: Frame): void {
    if (this.isClosed) return; // frames after a teardown in the same chunk belong to nobody
    if (frame.kind === 'text') {
      this.handlers.onText?.(frame.line);
      return;
    }
    const { type, args } = frame;
    const head = this.pending[this.pendingHead];
    if (head !== undefined && (type === PacketType.ERROR || head.replyTypes.includes(type))) {
      this.shiftPending();
      if (head.abandoned) return;
      if (type === PacketType.ERROR) {
        head.reject(new ServerError(args[0]!.toString('latin1'), args[1]!.toString('utf8')));
        return;
      }
      try {
        head.resolve(head.onReply(type, args));
      } catch (error) {
        head.reject(error as Error);
      }
      return;
    }
    if (this.handlers.onPacket === undefined) {
      this.teardown(new ResponseProtocolError(`unexpected ${packetName(type)} from ${this.address.key}`));
      return;
    }
    this.handlers.onPacket(type, args);
  }

  private shiftPending(): void {
    this.pending[this.pendingHead++] = undefined as never;
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
  }

  private teardown(error: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (error === undefined) {
      // Local close: flush what this tick wrote (final WORK_COMPLETE, say), then FIN.
      if (this.corked) this.socket.uncork();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    } else {
      this.socket.destroy();
    }
    const lost = error ?? new ConnectionLostError(this.address.key);
    const waiting = this.pending.slice(this.pendingHead);
    this.pending.length = 0;
    this.pendingHead = 0;
    for (const entry of waiting) if (!entry.abandoned) entry.reject(lost instanceof ConnectionLostError ? lost : new ConnectionLostError(this.address.key, lost));
    this.handlers.onClose?.(error);
  }
}
