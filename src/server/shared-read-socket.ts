import { Socket } from 'node:net';
import { runInReadBatch } from './output-batch.js';
import { streamBinding } from './stream-binding.js';

/**
 * One receive buffer for every plain-TCP Gearman connection. Node's default read path
 * allocates a 64 KiB buffer per read, copies the bytes into an exact-size one and pushes it
 * through a Readable stream; with `onread` the kernel writes into this buffer and the bytes
 * go straight to the session. Sharing it is safe because a read is handled to the end
 * before the next one starts, and FrameDecoder keeps nothing of a chunk past `push`.
 */
const sharedReadBuffer = Buffer.allocUnsafe(64 * 1024);

interface SocketInternals {
  _handle?: unknown;
  _server?: unknown;
  server?: unknown;
}

/**
 * Re-wrap a socket accepted with `pauseOnConnect` so that its bytes arrive through
 * `onBytes(buffer, length)`: the first `length` bytes of `buffer`, valid only during the
 * call. The returned socket replaces the original in every respect (write, pause/resume,
 * end, destroy, events); the original is left without its handle and must not be used.
 * `allowHalfOpen`: the peer's end of sending does not end ours (the owner then decides when to end).
 */
export function withSharedReadBuffer(accepted: Socket, onBytes: (buffer: Buffer, length: number) => void, allowHalfOpen = false): Socket {
  const raw = accepted as unknown as SocketInternals;
  const socket = new Socket({
    // The accepted libuv handle; `handle` is how Node itself (cluster, child_process) builds
    // sockets over existing handles.
    handle: raw._handle,
    readable: true,
    writable: true,
    allowHalfOpen,
    onread: {
      buffer: sharedReadBuffer,
      callback: (bytes: number, buffer: Uint8Array) => {
        // What the read produced is written before this returns (output-batch.ts).
        runInReadBatch(onBytes, buffer as Buffer, bytes);
        return true;
      },
    },
  } as ConstructorParameters<typeof Socket>[0]);
  // The server counts connections through `_server` (maxConnections, close()); move it over.
  const fast = socket as unknown as SocketInternals;
  fast._server = raw._server;
  fast.server = raw.server;
  raw._handle = null;
  raw._server = null;
  takeDataReads(socket, onBytes);
  return socket;
}

/**
 * Bytes read go straight to `onBytes`; end of stream and errors still take Node's path.
 * Node's handler for every read also looks up the socket, refreshes its idle timer
 * (socket.setTimeout, unused here) and checks whether it was destroyed (then the handle no
 * longer reads); skipping that is a few percent of the server's user-space CPU per job.
 */
function takeDataReads(socket: Socket, onBytes: (buffer: Buffer, length: number) => void): void {
  const handle = (socket as unknown as { _handle?: { onread?: (this: unknown, arrayBuffer: unknown) => unknown } })._handle;
  const nodeOnRead = handle?.onread;
  if (streamBinding === undefined || handle === undefined || typeof nodeOnRead !== 'function') return;
  const { streamBaseState, kReadBytesOrError } = streamBinding;
  handle.onread = function onread(this: unknown, arrayBuffer: unknown): unknown {
    const nread = streamBaseState[kReadBytesOrError]!;
    if (nread <= 0) return nodeOnRead.call(this, arrayBuffer);
    runInReadBatch(onBytes, sharedReadBuffer, nread);
    return undefined; // keep reading into the same buffer
  };
}
