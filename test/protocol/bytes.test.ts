import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decimalDigits, parseDecimal, writeDecimal } from '../../src/protocol/bytes.js';

test('parseDecimal reads back what writeDecimal writes, for every positive integer of up to 15 digits', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 999_999_999_999_999 }), fc.string({ maxLength: 8 }), (n, head) => {
      const digits = decimalDigits(n);
      const out = Buffer.alloc(digits);
      writeDecimal(out, 0, n, digits);
      assert.equal(parseDecimal(head + out.toString('latin1'), head.length), n);
    }),
  );
});

test('parseDecimal gives 0 for anything not written that way', () => {
  for (const text of ['', '0', '007', '-5', '+5', '5 ', ' 5', '1.5', '1e3', 'x1', '1234567890123456', '١٢']) {
    assert.equal(parseDecimal(text, 0), 0, JSON.stringify(text));
  }
  assert.equal(parseDecimal('H:host:', 7), 0, 'nothing after the prefix');
});
