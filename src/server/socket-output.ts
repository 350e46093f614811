import type { Socket } from 'node:net';
import { streamBinding, type WriteRequest } from './stream-binding.js';

/** Where a session's output goes, and how much of it the peer has not taken yet. */
export interface SocketOutput {
  /** Write `data`; true when the kernel took it all at once, so its memory may be reused. */
  write(data: Buffer): boolean;
  /** Write a string of bytes (one char per byte), saving the Buffer a caller would build. */
  writeLatin1(text: string): void;
  /** Bytes written but not yet taken by the kernel: what the output limits count. */
  readonly pendingBytes: number;
}

/**
 * The output of a plain-TCP socket goes to its handle (HandleWriter below) where Node's
 * stream binding allows; TLS sockets and the fallback write through the stream.
 * `onDrain` is called when pending output has all been taken.
 */
export function openOutput(socket: Socket, toHandle: boolean, onDrain: () => void): SocketOutput {
  return (toHandle ? HandleWriter.for(socket, onDrain) : undefined) ?? new StreamOutput(socket, onDrain);
}

class StreamOutput implements SocketOutput {
  private readonly socket: Socket;
  /** After each write: report a drain once nothing is left (the 'drain' event only follows a full buffer). */
  private readonly afterWrite: () => void;

  constructor(socket: Socket, onDrain: () => void) {
    this.socket = socket;
    this.afterWrite = () => {
      if (socket.writableLength === 0) onDrain();
    };
  }

  write(data: Buffer): boolean {
    this.socket.write(data, this.afterWrite);
    return false; // the stream may hold it (TLS, a full buffer)
  }

  writeLatin1(text: string): void {
    this.socket.write(text, 'latin1', this.afterWrite);
  }

  get pendingBytes(): number {
    return this.socket.writableLength;
  }
}

/**
 * Writes straight to a TCP socket's libuv handle, skipping the Writable stream around it.
 * A Gearman connection writes once per event-loop turn and almost every write completes
 * at once (loopback, LAN), so the stream's bookkeeping per write (write request object,
 * state updates, an afterWrite tick) was most of the user-space cost of a write. The
 * handle's `writeBuffer` is what `socket.write` itself ends in.
 *
 * It needs Node's stream binding (for the write request class); where that is not there
 * `HandleWriter.for` returns undefined and openOutput falls back to the stream.
 */

interface StreamHandle {
  writeBuffer(req: WriteRequest, data: Buffer): number;
  writeLatin1String(req: WriteRequest, data: string): number;
}

const binding = streamBinding;

/**
 * A request object for the next write. It becomes a libuv write request only when a
 * write cannot finish at once; until then one object serves every write.
 */
let spareRequest: WriteRequest | undefined = binding ? new binding.WriteWrap() : undefined;

function onWriteComplete(this: WriteRequest, status: number): void {
  const writer = this.writer as HandleWriter;
  const size = this.data!.length;
  this.data = null;
  writer.completed(size, status);
}

class HandleWriter implements SocketOutput {
  /** Bytes handed to the kernel's queue that it has not taken yet. */
  pendingBytes = 0;
  private readonly socket: Socket;
  private readonly handle: StreamHandle;
  private readonly onDrain: () => void;

  private constructor(socket: Socket, handle: StreamHandle, onDrain: () => void) {
    this.socket = socket;
    this.handle = handle;
    this.onDrain = onDrain;
  }

  /** A writer for a plain TCP socket; undefined where only `socket.write` can be used. */
  static for(socket: Socket, onDrain: () => void): HandleWriter | undefined {
    const handle = (socket as unknown as { _handle?: Partial<StreamHandle> })._handle;
    if (binding === undefined || handle === undefined || typeof handle.writeBuffer !== 'function' || typeof handle.writeLatin1String !== 'function') return undefined;
    return new HandleWriter(socket, handle as StreamHandle, onDrain);
  }

  /** Write `data`; what the kernel does not take at once stays queued (see pendingBytes). */
  write(data: Buffer): boolean {
    const req = spareRequest!;
    return this.written(req, this.handle.writeBuffer(req, data), data);
  }

  writeLatin1(text: string): void {
    const req = spareRequest!;
    this.written(req, this.handle.writeLatin1String(req, text), text);
  }

  /** True when the write finished at once. */
  private written(req: WriteRequest, err: number, data: Buffer | string): boolean {
    if (err !== 0) {
      spareRequest = new binding!.WriteWrap();
      this.socket.destroy(); // EPIPE, ECONNRESET: the peer is gone; 'close' follows
      return false;
    }
    if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) return true;
    // Queued by libuv: this request object is now in use, and `data` must stay alive.
    spareRequest = new binding!.WriteWrap();
    req.oncomplete = onWriteComplete;
    req.data = data;
    req.writer = this;
    this.pendingBytes += data.length;
    return false;
  }

  /** @internal From onWriteComplete. */
  completed(size: number, status: number): void {
    this.pendingBytes -= size;
    if (status < 0) {
      this.socket.destroy();
      return;
    }
    if (this.pendingBytes === 0) this.onDrain();
  }
}
