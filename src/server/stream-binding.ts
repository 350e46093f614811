/**
 * Node's stream binding, under net.Socket: the write request class and the shared state
 * array through which the C++ side reports a read's byte count and whether a write went
 * async. The hot paths of the Gearman port use it to skip the stream machinery around a
 * TCP handle (socket-output.ts, shared-read-socket.ts). Undefined where this Node does not
 * offer it; the callers then fall back to the public socket API.
 */
export interface WriteRequest {
  oncomplete?: (this: WriteRequest, status: number) => void;
  data?: Buffer | string | null;
  [key: string]: unknown;
}

export interface StreamBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
  kReadBytesOrError: number;
}

function load(): StreamBinding | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamBinding> }).binding('stream_wrap');
    const { WriteWrap, streamBaseState, kLastWriteWasAsync, kReadBytesOrError } = binding;
    if (typeof WriteWrap !== 'function' || !(streamBaseState instanceof Int32Array)) return undefined;
    if (typeof kLastWriteWasAsync !== 'number' || typeof kReadBytesOrError !== 'number') return undefined;
    return { WriteWrap, streamBaseState, kLastWriteWasAsync, kReadBytesOrError };
  } catch {
    return undefined;
  }
}

export const streamBinding = load();
