import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FrameDecoder,
  PacketType as T,
  ProtocolError,
  encodePacket,
  encodeRequest,
  packetLayouts,
  type Frame,
} from '../../src/protocol/index.js';
import { decodeAll } from './decode-all.js';

const hex = (s: string) => Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex');

test('Appendix A: worked byte examples encode to the exact bytes', () => {
  assert.deepEqual(encodeRequest(T.CAN_DO, ['reverse']), hex('00524551 00000001 00000007 72657665727365'));
  assert.deepEqual(encodeRequest(T.PRE_SLEEP), hex('00524551 00000004 00000000'));
  assert.deepEqual(
    encodeRequest(T.SUBMIT_JOB, ['reverse', '', Buffer.from('test')]),
    hex('00524551 00000007 0000000d 7265766572736500 00 74657374'),
  );
  assert.deepEqual(encodePacket(T.NOOP), hex('00524553 00000006 00000000'));
  assert.deepEqual(encodePacket(T.JOB_CREATED, ['H:lap:1']), hex('00524553 00000008 00000007 483a6c61703a31'));
  const assign = encodePacket(T.JOB_ASSIGN, ['H:lap:1', 'reverse', Buffer.from('test')]);
  assert.equal(assign.readUInt32BE(4), 0x0b);
  assert.equal(assign.readUInt32BE(8), 0x14);
  assert.equal(assign.subarray(12).toString('latin1'), 'H:lap:1\0reverse\0test');
  const status = encodePacket(T.STATUS_RES, ['H:x:9', '0', '0', '0', '0']);
  assert.deepEqual(status, Buffer.concat([hex('00524553 00000014 0000000d'), Buffer.from('H:x:9\x000\x000\x000\x000', 'latin1')]));
  const error = encodePacket(T.ERROR, ['UNKNOWN_OPTION', 'Server does not recognize given option']);
  assert.equal(error.readUInt32BE(4), 0x13);
  assert.equal(error.subarray(12).toString(), 'UNKNOWN_OPTION\0Server does not recognize given option');
});

/** A sample payload for every packet type: fields, and data when the type carries it. */
function sampleFields(type: number): (string | Buffer)[] {
  const layout = packetLayouts[type]!;
  const fields: (string | Buffer)[] = [];
  for (let i = 0; i < layout.argc; i++) fields.push(`f${i}-${layout.name}`);
  if (layout.data) fields.push(Buffer.from([0, 1, 2, 0, 255]));
  return fields;
}

test('every packet type round-trips through encoder and decoder, both magics', () => {
  for (let type = 1; type <= 42; type++) {
    const layout = packetLayouts[type]!;
    const fields = sampleFields(type);
    for (const request of [true, false]) {
      const frames = decodeAll(encodePacket(type, fields, request));
      assert.equal(frames.length, 1, layout.name);
      const frame = frames[0]!;
      assert.equal(frame.kind, 'packet');
      if (frame.kind !== 'packet') continue;
      assert.equal(frame.type, type);
      assert.equal(frame.request, request);
      const expected = fields.map((f) => (typeof f === 'string' ? Buffer.from(f, 'latin1') : f));
      assert.deepEqual(frame.args, expected, layout.name);
    }
  }
});

test('the last field of a non-data packet keeps embedded NULs (no terminator expected)', () => {
  // A trailing NUL sent by a peer becomes part of the field, as in gearmand (spec 1.4 CAN_DO).
  const frames = decodeAll(Buffer.concat([encodeRequest(T.CAN_DO, ['fn\0']), encodeRequest(T.WORK_FAIL, ['H:a:1'])]));
  assert.deepEqual(
    frames.map((f) => f.kind === 'packet' && f.args),
    [[Buffer.from('fn\0', 'latin1')], [Buffer.from('H:a:1')]],
  );
});

test('text lines and binary packets mix on one stream; CRLF and LF both end a line', () => {
  const bytes = Buffer.concat([
    Buffer.from('status\r\n'),
    encodeRequest(T.ECHO_REQ, [Buffer.from('hi')]),
    Buffer.from('workers\n'),
  ]);
  for (const chunk of [1, 3, bytes.length]) {
    const frames = decodeAll(bytes, chunk);
    assert.equal(frames.length, 3);
    assert.deepEqual(frames[0], { kind: 'text', line: Buffer.from('status') });
    assert.equal(frames[1]!.kind, 'packet');
    assert.deepEqual(frames[2], { kind: 'text', line: Buffer.from('workers') });
  }
});

test('an oversize header is refused before its payload is read', () => {
  const decoder = new FrameDecoder({ maxPacketSize: 1024, maxLineLength: 100 });
  const header = Buffer.alloc(12);
  header.writeUInt32BE(0x00524551, 0);
  header.writeUInt32BE(T.SUBMIT_JOB, 4);
  header.writeUInt32BE(0xffffffff, 8);
  assert.throws(() => decoder.push(header, () => {}), (e: unknown) => e instanceof ProtocolError && e.code === 'ARGUMENT_TOO_LARGE');
  assert.equal(decoder.bufferedBytes, 0);
});

test('bad magic, unknown types and missing terminators are typed protocol errors', () => {
  const bad = Buffer.from('\0XYZ\0\0\0\x01\0\0\0\0', 'latin1');
  assert.throws(() => decodeAll(bad), (e: unknown) => e instanceof ProtocolError && e.code === 'INVALID_MAGIC');
  const unknown = encodePacket(43, [], true);
  assert.throws(() => decodeAll(unknown), (e: unknown) => e instanceof ProtocolError && e.code === 'INVALID_COMMAND');
  // SUBMIT_JOB needs two NUL-terminated fields; gearmand would read past the packet here.
  const short = encodePacket(T.SUBMIT_JOB, ['fn-without-terminators'], true);
  assert.throws(() => decodeAll(short), (e: unknown) => e instanceof ProtocolError && e.code === 'INVALID_PACKET');
});

test('an admin line over the limit is refused without waiting for its end', () => {
  const decoder = new FrameDecoder({ maxPacketSize: 1024, maxLineLength: 16 });
  assert.throws(() => decoder.push(Buffer.from('x'.repeat(100)), () => {}), (e: unknown) => e instanceof ProtocolError && e.code === 'LINE_TOO_LONG');
});

test('a large packet split into many chunks arrives whole', () => {
  const data = Buffer.alloc(3 * 1024 * 1024, 7);
  const bytes = encodeRequest(T.SUBMIT_JOB_BG, ['fn', 'u', data]);
  const frames = decodeAll(bytes, 65536);
  assert.equal(frames.length, 1);
  const frame = frames[0]!;
  assert.ok(frame.kind === 'packet' && frame.args[2]!.equals(data));
});

test('property: any packet sequence survives any chunking', () => {
  const packetArb = fc.record({
    type: fc.integer({ min: 1, max: 42 }),
    request: fc.boolean(),
    fields: fc.array(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).filter((b) => b !== 0)), { maxLength: 8 }),
    data: fc.uint8Array({ maxLength: 200 }),
  });
  fc.assert(
    fc.property(fc.array(packetArb, { maxLength: 10 }), fc.integer({ min: 1, max: 64 }), (packets, chunk) => {
      const encoded = packets.map((p) => {
        const layout = packetLayouts[p.type]!;
        const fields: Buffer[] = [];
        for (let i = 0; i < layout.argc; i++) fields.push(Buffer.from(p.fields[i] ?? Buffer.alloc(0)));
        if (layout.data) fields.push(Buffer.from(p.data));
        // Only a data packet's blob or a last field may hold NULs; sample fields have none.
        return { fields, bytes: encodePacket(p.type, fields, p.request) };
      });
      // The server's decoder hands out one refilled frame; it must read exactly as new ones.
      for (const reuseFrame of [false, true]) {
        const frames = decodeAll(Buffer.concat(encoded.map((e) => e.bytes)), chunk, reuseFrame);
        assert.equal(frames.length, packets.length);
        frames.forEach((frame, i) => {
          assert.ok(frame.kind === 'packet');
          assert.equal(frame.type, packets[i]!.type);
          assert.equal(frame.request, packets[i]!.request);
          assert.deepEqual(frame.args, encoded[i]!.fields);
        });
      }
    }),
    { numRuns: 300 },
  );
});

test('with reuseFrame one frame object carries every packet, its fields and views renewed each time', () => {
  const decoder = new FrameDecoder(undefined, { reuseFrame: true });
  const seen: Array<{ frame: object; type: number; fieldCount: number; first: string; args: string[] }> = [];
  const bytes = Buffer.concat([
    encodeRequest(T.SUBMIT_JOB, ['reverse', 'u-1', 'abc']),
    encodePacket(T.JOB_CREATED, ['H:x:1']),
    encodeRequest(T.GRAB_JOB),
    encodeRequest(T.SUBMIT_JOB_SCHED, ['f', 'u', '1', '2', '3', '4', '5', 'data']),
  ]);
  decoder.push(bytes, (f) => {
    assert.ok(f.kind === 'packet');
    seen.push({ frame: f, type: f.type, fieldCount: f.fieldCount, first: f.fieldCount > 0 ? f.key(0) : '', args: f.args.map((a) => a.toString()) });
  });
  assert.deepEqual(
    seen.map(({ type, fieldCount, first, args }) => ({ type, fieldCount, first, args })),
    [
      { type: T.SUBMIT_JOB, fieldCount: 3, first: 'reverse', args: ['reverse', 'u-1', 'abc'] },
      { type: T.JOB_CREATED, fieldCount: 1, first: 'H:x:1', args: ['H:x:1'] },
      { type: T.GRAB_JOB, fieldCount: 0, first: '', args: [] },
      { type: T.SUBMIT_JOB_SCHED, fieldCount: 8, first: 'f', args: ['f', 'u', '1', '2', '3', '4', '5', 'data'] },
    ],
  );
  assert.ok(seen.every((s) => s.frame === seen[0]!.frame), 'one object for every packet');
});

test('a reused frame lets go of the bytes once push returns, so an idle connection holds no packet', () => {
  const decoder = new FrameDecoder(undefined, { reuseFrame: true });
  let kept: (Frame & { kind: 'packet' }) | undefined;
  const big = encodeRequest(T.SUBMIT_JOB, ['f', 'u', Buffer.alloc(200_000, 1)]);
  // Split, so the decoder joins the packet into a buffer of its own.
  decoder.push(big.subarray(0, 100), () => assert.fail('not whole yet'));
  decoder.push(big.subarray(100), (f) => {
    assert.ok(f.kind === 'packet');
    assert.equal(f.fieldLength(2), 200_000);
    kept = f;
  });
  assert.ok(kept !== undefined);
  assert.equal(kept.fieldCount, 0);
  assert.deepEqual(kept.args, []);
});

test('keyOr gives back the string it was handed when the field holds its bytes, else the field', () => {
  const decoder = new FrameDecoder(undefined, { reuseFrame: true });
  const previous = ['reverse', 'x'].join(''); // a string of its own, not the literal
  const got: Array<{ key: string; same: boolean }> = [];
  const names = ['reverse', 'reversE', 'revers', 'reverse\xe9', ''];
  decoder.push(Buffer.concat(names.map((name) => encodeRequest(T.SUBMIT_JOB, [Buffer.from(name, 'latin1'), '', 'data']))), (f) => {
    assert.ok(f.kind === 'packet');
    const key = f.keyOr(0, previous.slice(0, 7));
    got.push({ key, same: key === f.key(0) });
  });
  assert.deepEqual(got.map((g) => g.key), names);
  assert.ok(got.every((g) => g.same));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 20 }), fc.string({ maxLength: 20 }), (bytes, text) => {
      const field = Buffer.from(Buffer.from(bytes).filter((b) => b !== 0));
      const prior = Buffer.from(text, 'latin1').toString('latin1');
      let key = '';
      new FrameDecoder().push(encodeRequest(T.CAN_DO, [field]), (f) => {
        assert.ok(f.kind === 'packet');
        key = f.keyOr(0, prior);
      });
      assert.equal(key, field.toString('latin1'));
    }),
  );
});

test('property: arbitrary bytes yield only frames or a ProtocolError, within the limits', () => {
  const limits = { maxPacketSize: 4096, maxLineLength: 256 };
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
      const decoder = new FrameDecoder(limits);
      try {
        for (const c of chunks) {
          decoder.push(Buffer.from(c), () => {});
          assert.ok(decoder.bufferedBytes <= limits.maxPacketSize + 12 + limits.maxLineLength + 300);
        }
      } catch (err) {
        assert.ok(err instanceof ProtocolError, `unexpected ${String(err)}`);
      }
    }),
    { numRuns: 500 },
  );
});
