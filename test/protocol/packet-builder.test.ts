import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodePacket, PacketBuilder, PacketType as T, type Field } from '../../src/protocol/index.js';

const field = fc.oneof(
  fc.string({ maxLength: 80 }).map((s) => Buffer.from(s, 'latin1').toString('latin1')),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
);

test('packets appended to a builder are the bytes encodePacket makes, in order', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 42 }), fc.array(field, { maxLength: 4 })), { maxLength: 40 }), (packets) => {
      const builder = new PacketBuilder();
      const expected: Buffer[] = [];
      for (const [type, fields] of packets) {
        builder.packet(type, ...(fields as [Field?, Field?, Field?, Field?]));
        expected.push(encodePacket(type, fields));
      }
      builder.bytes(encodePacket(T.NOOP));
      expected.push(encodePacket(T.NOOP));
      assert.deepEqual(builder.view(), Buffer.concat(expected));
      assert.equal(builder.length, Buffer.concat(expected).length);
    }),
  );
});

test('after reset(false) a held view is never written over; after reset(true) the memory is reused', () => {
  const builder = new PacketBuilder();
  builder.packet(T.JOB_CREATED, 'H:x:1');
  const held = builder.view();
  const copy = Buffer.from(held);
  builder.reset(false); // a queued write still holds `held`
  builder.packet(T.JOB_CREATED, 'H:x:2');
  assert.deepEqual(held, copy);
  const second = builder.view();
  builder.reset(true);
  builder.packet(T.JOB_CREATED, 'H:x:3');
  assert.equal(builder.view().buffer, second.buffer, 'the same memory serves the next packets');
  assert.equal(builder.view().byteOffset, second.byteOffset);
});

test('a buffer grown past 64 KiB for one large packet is let go after its write', () => {
  const builder = new PacketBuilder();
  builder.packet(T.WORK_COMPLETE, 'H:x:1', Buffer.alloc(200_000, 7));
  const big = builder.view();
  assert.equal(big.length, 12 + 'H:x:1'.length + 1 + 200_000);
  builder.reset(true);
  builder.packet(T.NOOP);
  assert.notEqual(builder.view().buffer, big.buffer);
  assert.deepEqual(builder.view(), encodePacket(T.NOOP));
});

test('a view is never of a buffer the builder has let go, even at a size it has seen before', () => {
  // view() keeps the last views of its buffer for sizes that repeat; after reset(false) or a
  // growth the buffer is new, and a kept view of the old one would show old bytes.
  const builder = new PacketBuilder();
  builder.packet(T.JOB_CREATED, 'H:x:1');
  const first = builder.view();
  builder.reset(false);
  builder.packet(T.JOB_CREATED, 'H:x:2');
  assert.deepEqual(builder.view(), encodePacket(T.JOB_CREATED, ['H:x:2']));
  assert.ok(builder.view().buffer !== first.buffer || builder.view().byteOffset !== first.byteOffset, 'a new buffer after reset(false)');
  assert.deepEqual(first, encodePacket(T.JOB_CREATED, ['H:x:1']), 'the held view is left alone');
  builder.reset(true);
  builder.packet(T.WORK_COMPLETE, 'H:x:2', Buffer.alloc(600, 1)); // grows past the first 512 bytes
  builder.reset(true);
  builder.packet(T.JOB_CREATED, 'H:x:3');
  assert.deepEqual(builder.view(), encodePacket(T.JOB_CREATED, ['H:x:3']));
});

test('property: over many writes each view holds exactly the packets of its own write', () => {
  const step = fc.record({
    packets: fc.array(fc.tuple(fc.constantFrom(T.JOB_CREATED, T.WORK_COMPLETE, T.NOOP), fc.array(field, { maxLength: 2 })), { minLength: 1, maxLength: 3 }),
    taken: fc.boolean(), // did the kernel take the write at once (reset(true))?
  });
  fc.assert(
    fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
      const builder = new PacketBuilder();
      const held: Array<{ view: Buffer; bytes: Buffer }> = [];
      for (const { packets, taken } of steps) {
        const expected = Buffer.concat(packets.map(([type, fields]) => encodePacket(type, fields)));
        for (const [type, fields] of packets) builder.packet(type, ...(fields as [Field?, Field?]));
        const view = builder.view();
        assert.deepEqual(view, expected);
        if (!taken) held.push({ view, bytes: expected });
        builder.reset(taken);
      }
      for (const { view, bytes } of held) assert.deepEqual(view, bytes, 'a view a write still holds was written over');
    }),
  );
});

test('handlePacket writes the bytes of packet() with the handle <head><id>, for any id', () => {
  const ids = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom(9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER));
  fc.assert(
    fc.property(
      fc.constantFrom(T.JOB_CREATED, T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.WORK_COMPLETE, T.WORK_STATUS, T.WORK_FAIL),
      fc.string({ maxLength: 30 }).map((s) => Buffer.from(`H:${s}:`, 'latin1')),
      ids,
      fc.array(field, { maxLength: 3 }),
      (type, head, id, rest) => {
        const builder = new PacketBuilder();
        builder.packet(T.NOOP);
        builder.handlePacket(type, head, id, ...(rest as [Field?, Field?, Field?]));
        const handle = head.toString('latin1') + String(id);
        assert.deepEqual(builder.view(), Buffer.concat([encodePacket(T.NOOP), encodePacket(type, [handle, ...rest])]));
      },
    ),
  );
});
