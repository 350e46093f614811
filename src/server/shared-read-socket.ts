import { Socket } from 'node:net';
import { runInReadBatch } from './output-batch.js';

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
 * `onBytes(chunk)`, a view valid only during the call. The returned socket replaces the
 * original in every respect (write, pause/resume, end, destroy, events); the original is
 * left without its handle and must not be used. `allowHalfOpen`: the peer's end of sending
 * does not end ours (the owner then decides when to end).
 */
export function withSharedReadBuffer(accepted: Socket, onBytes: (chunk: Buffer) => void, allowHalfOpen = false): Socket {
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
        runInReadBatch(onBytes, (buffer as Buffer).subarray(0, bytes));
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
  return socket;
}
