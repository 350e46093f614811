/**
 * Fuzz the Gearman frame decoder: arbitrary bytes in arbitrary chunk splits give frames or
 * one ProtocolError, never another exception, and the decoder never holds more than one
 * frame's worth of bytes (the packet and line limits).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, ProtocolError, encodeRequest, PacketType as T, HEADER_SIZE } from '../../src/protocol/index.js';

const limits = { maxPacketSize: 4096, maxLineLength: 512 };
/** The most an incomplete frame may hold: a full packet (header + payload) or a line with its CR LF. */
const MAX_BUFFERED = HEADER_SIZE + limits.maxPacketSize + limits.maxLineLength + 2;

/** Split `bytes` at the given cut points (any positions, repeats allowed). */
function split(bytes: Uint8Array, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(Buffer.from(bytes.subarray(start, p)));
    start = p;
  }
  return chunks;
}

function feed(chunks: Buffer[]): { frames: number; error: ProtocolError | undefined } {
  const decoder = new FrameDecoder(limits);
  let frames = 0;
  for (const chunk of chunks) {
    try {
      decoder.push(chunk, () => frames++);
    } catch (err) {
      if (err instanceof ProtocolError) return { frames, error: err };
      throw err;
    }
    assert.ok(decoder.bufferedBytes <= MAX_BUFFERED, `decoder holds ${decoder.bufferedBytes} bytes`);
  }
  return { frames, error: undefined };
}

/** Byte soup biased towards the interesting prefixes: magic, headers, NULs, line ends. */
const interestingBytes = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.constantFrom(
    Buffer.from('\0REQ', 'latin1'),
    Buffer.from('\0RES', 'latin1'),
    Buffer.from([0, 0, 0, 0]),
    Buffer.from([0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0, 0, 0x10, 0x01]),
    Buffer.from('\r\n'),
    Buffer.from('\n'),
    Buffer.from([0]),
  ),
  fc.tuple(fc.integer({ min: 0, max: 60 }), fc.uint8Array({ maxLength: 64 })).map(([type, payload]) => {
    const h = Buffer.alloc(12);
    h.write('\0REQ', 0, 'latin1');
    h.writeUInt32BE(type, 4);
    h.writeUInt32BE(payload.length, 8);
    return Buffer.concat([h, payload]);
  }),
  fc.tuple(fc.integer({ min: 0, max: 60 }), fc.nat()).map(([type, size]) => {
    const h = Buffer.alloc(12);
    h.write('\0REQ', 0, 'latin1');
    h.writeUInt32BE(type, 4);
    h.writeUInt32BE(size >>> 0, 8);
    return h;
  }),
);

test('arbitrary bytes in arbitrary chunks: frames or a ProtocolError, bounded buffering', () => {
  fc.assert(
    fc.property(fc.array(interestingBytes, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (parts, cuts) => {
      const bytes = Buffer.concat(parts.map((p) => Buffer.from(p)));
      feed(split(bytes, cuts));
    }),
    { numRuns: 3000 },
  );
});

test('the chunk split never changes the outcome', () => {
  fc.assert(
    fc.property(fc.array(interestingBytes, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (parts, cuts) => {
      const bytes = Buffer.concat(parts.map((p) => Buffer.from(p)));
      const whole = feed([bytes]);
      const pieces = feed(split(bytes, cuts));
      assert.equal(pieces.frames, whole.frames);
      assert.equal(pieces.error?.code, whole.error?.code);
    }),
    { numRuns: 2000 },
  );
});

test('valid packets around garbage: the valid prefix is always decoded', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 10 }), fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), (texts, garbage, cuts) => {
      const good = Buffer.concat(texts.map((t) => encodeRequest(T.ECHO_REQ, [t])));
      const { frames } = feed(split(Buffer.concat([good, garbage]), cuts));
      assert.ok(frames >= texts.length);
    }),
    { numRuns: 1000 },
  );
});

test('a header declaring 4 GiB is refused on the header alone', () => {
  const decoder = new FrameDecoder(limits);
  const h = Buffer.alloc(12);
  h.write('\0REQ', 0, 'latin1');
  h.writeUInt32BE(T.SUBMIT_JOB, 4);
  h.writeUInt32BE(0xffffffff, 8);
  assert.throws(() => decoder.push(h, () => {}), (err: unknown) => err instanceof ProtocolError && err.code === 'ARGUMENT_TOO_LARGE');
  assert.equal(decoder.bufferedBytes, 0);
});
