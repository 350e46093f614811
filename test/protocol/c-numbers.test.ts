import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LONG_MAX, LONG_MIN, statusNumber, strtol } from '../../src/protocol/c-numbers.js';

test('strtol reads as C does: blanks, a sign, digits; the rest ignored; no digits is 0', () => {
  assert.equal(strtol('42'), 42n);
  assert.equal(strtol(' \t-17xyz'), -17n);
  assert.equal(strtol('+8'), 8n);
  assert.equal(strtol('abc'), 0n);
  assert.equal(strtol(''), 0n);
  assert.equal(strtol('- 5'), 0n);
  assert.equal(strtol('9223372036854775807'), LONG_MAX);
  assert.equal(strtol('-9223372036854775808'), LONG_MIN);
});

test('strtol is undefined past a 64-bit long (ERANGE)', () => {
  assert.equal(strtol('9223372036854775808'), undefined);
  assert.equal(strtol('-9223372036854775809'), undefined);
  assert.equal(strtol('9'.repeat(40)), undefined);
});

test('statusNumber is the low 32 bits of the long atoi read, clamped at its ends', () => {
  assert.equal(statusNumber('5'), 5);
  assert.equal(statusNumber('-5'), 4294967291);
  assert.equal(statusNumber('4294967296'), 0);
  assert.equal(statusNumber('x'), 0);
  assert.equal(statusNumber('9'.repeat(30)), 4294967295); // LONG_MAX
  assert.equal(statusNumber('-' + '9'.repeat(30)), 0); // LONG_MIN
  fc.assert(
    fc.property(fc.bigInt({ min: LONG_MIN, max: LONG_MAX }), (n) => {
      assert.equal(statusNumber(String(n)), Number(((n % 2n ** 32n) + 2n ** 32n) % 2n ** 32n));
    }),
  );
});
