import { decimalDigits, writeBytes, writeDecimal } from './bytes.js';
import { writeField, writeHeader, type Field } from './encoder.js';
import { HEADER_SIZE, MAGIC_RES } from './packets.js';

/** A builder's buffer is kept between writes up to this size; a larger one goes after use. */
const KEEP_AT_MOST = 64 * 1024;
const FIRST_SIZE = 512;

/**
 * A connection's outgoing packets, encoded one after another into one buffer that is
 * written whole and then reused: no Buffer per packet and no concatenation, which on the
 * server's hot path (JOB_CREATED, JOB_ASSIGN, WORK_COMPLETE for every job) cost more than
 * the encoding itself. Pure: it never touches a socket.
 */
export class PacketBuilder {
  private buf: Buffer | undefined;
  /** Bytes appended since the last reset. */
  length = 0;
  /**
   * The last two views of `buf`: a connection's writes mostly repeat two sizes (a client's
   * JOB_CREATED and WORK_COMPLETE, a worker's JOB_ASSIGN), so most writes need no new view.
   */
  private viewA: Buffer | undefined;
  private viewB: Buffer | undefined;

  /** Append a response packet of up to four fields (the data blob last, as in encodePacket). */
  packet(type: number, a?: Field, b?: Field, c?: Field, d?: Field): void {
    const size = (a === undefined ? 0 : a.length) + restSize(b, c, d);
    const out = this.reserve(HEADER_SIZE + size);
    let off = this.length;
    writeHeader(out, off, MAGIC_RES, type, size);
    off += HEADER_SIZE;
    if (a !== undefined) off = writeField(out, off, a);
    this.length = writeRest(out, off, b, c, d);
  }

  /**
   * Append a response packet whose first field is a job handle, `head` (its `<prefix>:`
   * bytes) followed by `id` in decimal, and up to three more fields: the bytes of
   * packet(type, head + id, b, c, d) without making the handle string (a concatenation, a
   * number formatted and its chars copied one by one, three times per foreground job).
   */
  handlePacket(type: number, head: Buffer, id: number, b?: Field, c?: Field, d?: Field): void {
    const digits = decimalDigits(id);
    const size = head.length + digits + restSize(b, c, d);
    const out = this.reserve(HEADER_SIZE + size);
    let off = this.length;
    writeHeader(out, off, MAGIC_RES, type, size);
    off = writeBytes(out, off + HEADER_SIZE, head, 0, head.length);
    off = writeDecimal(out, off, id, digits);
    this.length = writeRest(out, off, b, c, d);
  }

  /** Append bytes already encoded. */
  bytes(data: Buffer): void {
    const out = this.reserve(data.length);
    this.length = writeField(out, this.length, data);
  }

  /** What has been appended, as a view of the builder's buffer. */
  view(): Buffer {
    const length = this.length;
    const a = this.viewA;
    if (a !== undefined && a.length === length) return a;
    const b = this.viewB;
    if (b !== undefined && b.length === length) return b;
    const made = this.buf!.subarray(0, length);
    this.viewB = a;
    this.viewA = made;
    return made;
  }

  /**
   * Start again from empty. `reusable`: the last view has been fully consumed (written by
   * the kernel); otherwise a write still holds it and the next packets go to a new buffer.
   */
  reset(reusable: boolean): void {
    this.length = 0;
    if (!reusable || (this.buf !== undefined && this.buf.length > KEEP_AT_MOST)) this.forget();
  }

  /** Let go of the buffer (a write may still hold it) and its views. */
  private forget(): void {
    this.buf = undefined;
    this.viewA = undefined;
    this.viewB = undefined;
  }

  private reserve(n: number): Buffer {
    const buf = this.buf;
    const need = this.length + n;
    if (buf !== undefined && need <= buf.length) return buf;
    let size = buf === undefined ? FIRST_SIZE : buf.length * 2;
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    if (buf !== undefined && this.length > 0) buf.copy(grown, 0, 0, this.length);
    this.forget();
    this.buf = grown;
    return grown;
  }
}

/** Bytes of the fields after a packet's first, each behind its NUL separator. */
function restSize(b: Field | undefined, c: Field | undefined, d: Field | undefined): number {
  let size = 0;
  if (b !== undefined) size += 1 + b.length;
  if (c !== undefined) size += 1 + c.length;
  if (d !== undefined) size += 1 + d.length;
  return size;
}

/** Write the fields after a packet's first at `off`, each behind a NUL; returns the offset after them. */
function writeRest(out: Buffer, off: number, b: Field | undefined, c: Field | undefined, d: Field | undefined): number {
  if (b !== undefined) {
    out[off++] = 0;
    off = writeField(out, off, b);
  }
  if (c !== undefined) {
    out[off++] = 0;
    off = writeField(out, off, c);
  }
  if (d !== undefined) {
    out[off++] = 0;
    off = writeField(out, off, d);
  }
  return off;
}
