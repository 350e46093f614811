/**
 * Numbers in packet fields, read as gearmand reads them: with C's strtol / strtoll / atoi on a
 * 64-bit Linux (base 10, `long` of 64 bits). Clients rely on what gearmand accepts, so these
 * keep its edges: leading blanks, an optional sign, digits; the rest of the field is ignored,
 * and no digits at all reads as 0.
 */

export const LONG_MAX = 2n ** 63n - 1n;
export const LONG_MIN = -(2n ** 63n);

/** C isspace() in the "C" locale. */
const LEADING = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/;

/** Up to 15 digits a double holds exactly: the common case needs no BigInt. */
const PLAIN = /^[0-9]{1,15}$/;

/** The field's leading number, clamped to a 64-bit long as C clamps it, and whether it fit. */
function cLong(text: string): { readonly value: bigint; readonly fits: boolean } {
  const [, sign, digits] = LEADING.exec(text)!;
  if (digits === '') return { value: 0n, fits: true };
  const value = sign === '-' ? -BigInt(digits!) : BigInt(digits!);
  if (value > LONG_MAX) return { value: LONG_MAX, fits: false };
  if (value < LONG_MIN) return { value: LONG_MIN, fits: false };
  return { value, fits: true };
}

/**
 * strtol / strtoll: the value, or `undefined` when it is out of a 64-bit long's range (errno
 * ERANGE; C then returns LONG_MAX or LONG_MIN).
 */
export function strtol(text: string): bigint | undefined {
  const { value, fits } = cLong(text);
  return fits ? value : undefined;
}

/**
 * A WORK_STATUS numerator or denominator as gearmand keeps it: `atoi` (strtol, clamped at the
 * range's ends, cast to int) stored in a uint32_t, so `-5` is 4294967291 and 2^32 + 7 is 7
 * (spec 1.6, 1.7: STATUS_RES shows unsigned decimals).
 */
export function statusNumber(text: string): number {
  if (PLAIN.test(text)) {
    const n = Number(text);
    if (n <= 0xffffffff) return n;
  }
  return Number(BigInt.asUintN(32, cLong(text).value));
}
