/**
 * Byte copies and latin1 conversions of the codec's hot path, in one place. Short runs are
 * copied byte by byte in JavaScript: for the handles, names and small results of a typical
 * job that is cheaper than a call into Buffer's C++ (and its argument checks).
 */

/** Up to this many bytes are copied in JavaScript; longer runs go through Buffer's C++. */
export const SHORT_RUN = 64;

/**
 * Buffer's own latin1 methods, under toString/write (present in every Node since 0.x, not in
 * its typings): they skip the encoding lookup and argument checks of the public wrappers.
 */
interface Latin1Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(text: string, offset: number, length: number): number;
}

/** `buf[start, end)` as a latin1 string (one char per byte, so any bytes round-trip). */
export function latin1Of(buf: Buffer, start: number, end: number): string {
  // Most uniques are empty: no call into C++ for them.
  return start === end ? '' : (buf as unknown as Latin1Buffer).latin1Slice(start, end);
}

/** Write a latin1 string's bytes at `off`; returns the offset after them. */
export function writeLatin1(out: Buffer, off: number, text: string): number {
  const n = text.length;
  if (n > SHORT_RUN) return off + (out as unknown as Latin1Buffer).latin1Write(text, off, n);
  for (let k = 0; k < n; k++) out[off++] = text.charCodeAt(k);
  return off;
}

/** Copy `src[start, end)` to `out` at `off`; returns the offset after it. */
export function writeBytes(out: Buffer, off: number, src: Buffer, start: number, end: number): number {
  if (end - start > SHORT_RUN) return off + src.copy(out, off, start, end);
  for (let k = start; k < end; k++) out[off++] = src[k]!;
  return off;
}

/** `src[start, end)` copied into memory of its own. */
export function copyOf(src: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start); // from Buffer's pool when small, as Buffer.from
  writeBytes(out, 0, src, start, end);
  return out;
}

/** How many decimal digits `n` (a non-negative integer) has. */
export function decimalDigits(n: number): number {
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  return digits;
}

/** Write `n` (a non-negative integer of `digits` digits) in decimal at `off`; returns the offset after it. */
export function writeDecimal(out: Buffer, off: number, n: number, digits: number): number {
  const end = off + digits;
  let v = n;
  for (let at = end - 1; at >= off; at--) {
    const rest = Math.floor(v / 10);
    out[at] = 0x30 + (v - rest * 10);
    v = rest;
  }
  return end;
}

/**
 * The positive integer written in `text` from `start` to its end as writeDecimal writes it
 * (digits only, no leading zero, at most 15 of them, so it is exact); 0 when it is not one.
 */
export function parseDecimal(text: string, start: number): number {
  const end = text.length;
  if (end === start || end - start > 15) return 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9 || (digit === 0 && i === start)) return 0;
    n = n * 10 + digit;
  }
  return n;
}
