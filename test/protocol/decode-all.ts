/** Shared by the codec tests: decoding as the server does, from one reused receive buffer. */
import assert from 'node:assert/strict';
import { FrameDecoder, ownFrame, type OwnedFrame } from '../../src/protocol/index.js';

/** What a reused receive buffer holds past the bytes of this read: left-overs of earlier ones. */
export const STALE = Buffer.from('\0REQ\0\0\0\x10\0\0\0\0\nstale\n\0', 'latin1');

/**
 * Decode as the server does: every chunk arrives in one reused receive buffer, larger than
 * the read, passed with the read's length; the bytes past it are stale (NULs, LFs, headers)
 * and the buffer is scribbled over after each push, so a decoder that looked past the length
 * or kept a view of the buffer would fail here.
 */
export function decodeAll(bytes: Buffer, chunkSize = bytes.length, reuseFrame = false): OwnedFrame[] {
  const frames: OwnedFrame[] = [];
  const decoder = new FrameDecoder(undefined, { reuseFrame });
  const receiveBuffer = Buffer.alloc(Math.max(1, Math.min(chunkSize, bytes.length)) + STALE.length);
  for (let i = 0; i < bytes.length; i += chunkSize) {
    receiveBuffer.fill(STALE);
    const n = bytes.copy(receiveBuffer, 0, i, i + chunkSize);
    decoder.push(receiveBuffer, (f) => frames.push(ownFrame(f)), n);
    receiveBuffer.fill(0xee);
  }
  assert.equal(decoder.bufferedBytes, 0, 'nothing left over');
  return frames;
}
