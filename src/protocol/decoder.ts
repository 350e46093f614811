import { copyOf, latin1Of } from './bytes.js';
import { ProtocolError } from './errors.js';
import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES, MAX_PACKET_TYPE, packetLayouts } from './packets.js';

/**
 * A binary packet: its type and fields. Fields are read where they lie in the receive
 * buffer, so a frame is valid only during the onFrame call: copy anything that must outlive
 * it. `key`, `copy` and `fieldLength` read one field without making a Buffer view of it
 * (the server's hot path); `args` has them all as views, made on first use.
 * For a data packet the data is the last field (`fieldCount === argc + 1`).
 */
export class BinaryFrame implements PacketFrame {
  // Fields are `declare`d and set in the constructor: class field initializers run as a
  // separate function per instance, and one frame is made per packet (or one per decoder,
  // see FrameDecoderOptions.reuseFrame).
  declare readonly kind: 'packet';
  /** True for `\0REQ`, false for `\0RES` (gearmand answers the latter with INVALID_MAGIC). */
  declare request: boolean;
  declare type: number;
  declare private buf: Buffer;
  /** Start and end offset in `buf` of each field, in order (the first 2 × fieldCount entries). */
  declare private bounds: number[];
  /** Fields of this packet (read-only to consumers). */
  declare fieldCount: number;
  declare private views: Buffer[] | undefined;

  constructor(request: boolean, type: number, buf: Buffer, bounds: number[], fieldCount: number) {
    this.kind = 'packet';
    this.bounds = bounds;
    this.refill(request, type, buf, fieldCount);
  }

  /** @internal Point a reused frame at the next packet, its bounds already in the array it was made with. */
  refill(request: boolean, type: number, buf: Buffer, fieldCount: number): void {
    this.request = request;
    this.type = type;
    this.buf = buf;
    this.fieldCount = fieldCount;
    this.views = undefined;
  }

  /** Every field as a view into the receive buffer. */
  get args(): Buffer[] {
    if (this.views === undefined) {
      const views: Buffer[] = [];
      for (let i = 0; i < 2 * this.fieldCount; i += 2) views.push(this.buf.subarray(this.bounds[i], this.bounds[i + 1]));
      this.views = views;
    }
    return this.views;
  }

  fieldLength(i: number): number {
    return this.bounds[2 * i + 1]! - this.bounds[2 * i]!;
  }

  /** Field `i` as a latin1 string: a lossless key for names, uniques and handles. */
  key(i: number): string {
    return latin1Of(this.buf, this.bounds[2 * i]!, this.bounds[2 * i + 1]!);
  }

  /**
   * key(i), except that `previous` itself comes back when the field holds its bytes: a
   * client names the same function in every submit, and reusing the string saves decoding
   * it and, in the engine's lookup, hashing it again.
   */
  keyOr(i: number, previous: string): string {
    const start = this.bounds[2 * i]!;
    const end = this.bounds[2 * i + 1]!;
    const n = end - start;
    if (n === previous.length) {
      const buf = this.buf;
      let k = 0;
      while (k < n && buf[start + k] === previous.charCodeAt(k)) k++;
      if (k === n) return previous;
    }
    return latin1Of(this.buf, start, end);
  }

  /** Field `i` copied into memory of its own. */
  copy(i: number): Buffer {
    return copyOf(this.buf, this.bounds[2 * i]!, this.bounds[2 * i + 1]!);
  }
}

/** One admin text line, without its LF and an optional CR before it. */
export interface TextFrame {
  readonly kind: 'text';
  readonly line: Buffer;
}

export type Frame = BinaryFrame | TextFrame;

/** A packet as plain data: what a frame becomes once copied out of the receive buffer. */
export interface PacketFrame {
  readonly kind: 'packet';
  readonly request: boolean;
  readonly type: number;
  readonly args: Buffer[];
}

/** A frame that owns its bytes (ownFrame), safe to keep after the onFrame call. */
export type OwnedFrame = PacketFrame | TextFrame;

/** Copy a frame out of the receive buffer, to keep it past the onFrame call. */
export function ownFrame(frame: Frame): OwnedFrame {
  if (frame.kind === 'text') return { kind: 'text', line: Buffer.from(frame.line) };
  return { kind: 'packet', request: frame.request, type: frame.type, args: frame.args.map((a) => Buffer.from(a)) };
}

export interface DecoderLimits {
  /** Largest payload accepted; a header declaring more is refused before any of it is read. */
  readonly maxPacketSize: number;
  /** Longest admin text line, LF excluded. */
  readonly maxLineLength: number;
}

export interface FrameDecoderOptions {
  /**
   * Hand every packet to onFrame in the same BinaryFrame object, refilled, instead of a new
   * one per packet: two allocations less per packet on the server's hot path. Only for a
   * consumer that never keeps a frame past its onFrame call (the frame's fields already
   * point into a reused receive buffer); one that does must ownFrame() it.
   */
  readonly reuseFrame?: boolean;
}

/** The most fields any packet type has (SUBMIT_JOB_SCHED: 7 and its data). */
const MAX_FIELDS = packetLayouts.reduce((most, l) => (l === undefined ? most : Math.max(most, l.data ? l.argc + 1 : l.argc)), 0);

export const defaultDecoderLimits: DecoderLimits = {
  maxPacketSize: 16 * 1024 * 1024,
  maxLineLength: 8192, // gearmand's receive buffer (GEARMAND_RECV_BUFFER_SIZE)
};

const NO_BYTES = Buffer.alloc(0);
const LF = 0x0a;
const CR = 0x0d;

/**
 * Incremental decoder for the Gearman port: binary packets and admin text lines mixed on
 * one stream (a first byte other than NUL starts a text line, gearman-spec 2.1).
 * Bytes in, frames out; never touches a socket. Buffers at most one packet or line.
 */
export class FrameDecoder {
  private readonly limits: DecoderLimits;
  /** Unparsed bytes from earlier chunks when they hold less than one frame. */
  private rest: Buffer | undefined;
  /** While a large packet arrives: its chunks, kept apart to avoid quadratic copying. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private needed = 0;
  private failed = false;
  /** The frame handed out for every packet, and the array its bounds go to, when the consumer allows it (reuseFrame). */
  private readonly shared: BinaryFrame | undefined;
  private readonly sharedBounds = newBounds();

  constructor(limits: DecoderLimits = defaultDecoderLimits, options: FrameDecoderOptions = {}) {
    this.limits = limits;
    this.shared = options.reuseFrame === true ? new BinaryFrame(true, 0, NO_BYTES, this.sharedBounds, 0) : undefined;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return (this.rest?.length ?? 0) + this.partsLength;
  }

  /**
   * Feed a chunk; `onFrame` is called for each complete frame in order. Nothing of `chunk`
   * is kept after the call (the caller may reuse its memory), frames included.
   * Throws ProtocolError on input that cannot be framed; the decoder is unusable after.
   */
  push(chunk: Buffer, onFrame: (frame: Frame) => void, length = chunk.length): void {
    if (this.failed) throw new ProtocolError('INVALID_PACKET', 'decoder already failed');
    let buf = chunk; // the common case: parse in place, only the first `length` bytes
    let end = length;
    if (this.rest !== undefined || this.needed > 0) {
      const joined = this.join(length === chunk.length ? chunk : chunk.subarray(0, length));
      if (joined === undefined) return; // a large packet still arriving
      buf = joined;
      end = joined.length;
    }
    try {
      this.parse(buf, end, onFrame);
    } catch (err) {
      this.failed = true;
      this.rest = undefined;
      this.parts = [];
      this.partsLength = 0;
      throw err;
    } finally {
      // The reused frame would otherwise keep the last read's buffer alive while the
      // connection idles: a TLS socket's chunk, or a joined whole packet of up to 16 MiB.
      this.shared?.refill(true, 0, NO_BYTES, 0);
    }
  }

  /** What earlier pushes left, with `chunk` after it; undefined while a large packet is incomplete. */
  private join(chunk: Buffer): Buffer | undefined {
    if (this.needed > 0) {
      this.parts.push(Buffer.from(chunk));
      this.partsLength += chunk.length;
      if (this.partsLength < this.needed) return undefined;
      const buf = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
      this.needed = 0;
      return buf;
    }
    const buf = Buffer.concat([this.rest!, chunk]);
    this.rest = undefined;
    return buf;
  }

  /** Frames in `buf[0, end)`; an incomplete one at the end is kept for the next push. */
  private parse(buf: Buffer, end: number, onFrame: (frame: Frame) => void): void {
    const { maxPacketSize, maxLineLength } = this.limits;
    let off = 0;
    while (off < end) {
      if (buf[off] !== 0) {
        const searchEnd = Math.min(end, off + maxLineLength + 2);
        const lf = buf.indexOf(LF, off);
        if (lf === -1 || lf >= searchEnd) {
          if (end - off > maxLineLength + 1) {
            throw new ProtocolError('LINE_TOO_LONG', `admin line longer than ${maxLineLength} bytes`);
          }
          this.keep(buf, off, end);
          return;
        }
        let lineEnd = lf;
        if (lineEnd > off && buf[lineEnd - 1] === CR) lineEnd--;
        if (lineEnd - off > maxLineLength) {
          throw new ProtocolError('LINE_TOO_LONG', `admin line longer than ${maxLineLength} bytes`);
        }
        const lineStart = off;
        off = lf + 1;
        onFrame({ kind: 'text', line: buf.subarray(lineStart, lineEnd) });
        continue;
      }
      if (end - off < HEADER_SIZE) {
        this.keep(buf, off, end);
        return;
      }
      const magic = uint32At(buf, off);
      if (magic !== MAGIC_REQ && magic !== MAGIC_RES) {
        throw new ProtocolError('INVALID_MAGIC', 'packet magic is neither \\0REQ nor \\0RES');
      }
      const type = uint32At(buf, off + 4);
      const size = uint32At(buf, off + 8);
      if (size > maxPacketSize) {
        // Refused on the header alone: nothing of the claimed size is ever allocated.
        throw new ProtocolError('ARGUMENT_TOO_LARGE', `packet of ${size} bytes exceeds the limit of ${maxPacketSize}`);
      }
      const total = HEADER_SIZE + size;
      if (end - off < total) {
        // Refused on the header, as gearmand does, rather than after waiting for a payload
        // that may never come (complete packets get the same error from fieldBounds).
        if (type > MAX_PACKET_TYPE || packetLayouts[type] === undefined) throw unknownType(type);
        const pending = buf.subarray(off, end);
        if (total > 64 * 1024) {
          this.parts = [Buffer.from(pending)];
          this.partsLength = pending.length;
          this.needed = total;
        } else {
          this.keep(buf, off, end);
        }
        return;
      }
      const start = off + HEADER_SIZE;
      off += total;
      const shared = this.shared;
      if (shared === undefined) {
        const bounds = newBounds();
        onFrame(new BinaryFrame(magic === MAGIC_REQ, type, buf, bounds, fieldBounds(type, buf, start, off, bounds)));
      } else {
        shared.refill(magic === MAGIC_REQ, type, buf, fieldBounds(type, buf, start, off, this.sharedBounds));
        onFrame(shared);
      }
    }
  }

  private keep(buf: Buffer, off: number, end: number): void {
    // Copied: the receive buffer is reused, and a small remainder must not pin a large chunk.
    this.rest = Buffer.from(buf.subarray(off, end));
  }
}

/**
 * The big-endian 32-bit number at `off`; the caller has checked that 4 bytes are there.
 * Buffer.readUInt32BE is a call with its own range checks, three per packet.
 */
function uint32At(buf: Buffer, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

function unknownType(type: number): ProtocolError {
  return new ProtocolError('INVALID_COMMAND', `unknown packet type ${type}`);
}

/** Room for the start and end of every field of any packet. */
function newBounds(): number[] {
  return new Array<number>(2 * MAX_FIELDS).fill(0);
}

/**
 * Where the fields of a packet of `type` lie in `buf[start, end)`: the start and end of each,
 * written into `bounds`; returns the number of fields. Unlike gearmand, the NUL search is
 * bounded by the declared size (gearman-spec 7, group B item 1): missing terminators are an error.
 */
function fieldBounds(type: number, buf: Buffer, start: number, end: number, bounds: number[]): number {
  const layout = type <= MAX_PACKET_TYPE ? packetLayouts[type] : undefined;
  if (layout === undefined) throw unknownType(type);
  const { argc, data } = layout;
  if (argc === 0) {
    if (!data) return 0;
    bounds[0] = start;
    bounds[1] = end;
    return 1;
  }
  const nulFields = data ? argc : argc - 1;
  let from = start;
  for (let i = 0; i < nulFields; i++) {
    // A loop, not indexOf: fields are short and the call into C++ costs more than the scan.
    let nul = from;
    while (nul < end && buf[nul] !== 0) nul++;
    if (nul === end) {
      throw new ProtocolError(
        'INVALID_PACKET',
        `${layout.name} needs ${nulFields} NUL-terminated field(s) before its ${data ? 'data' : 'last field'}`,
      );
    }
    bounds[2 * i] = from;
    bounds[2 * i + 1] = nul;
    from = nul + 1;
  }
  bounds[2 * nulFields] = from;
  bounds[2 * nulFields + 1] = end;
  return nulFields + 1;
}
