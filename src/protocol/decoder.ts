import { ProtocolError } from './errors.js';
import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES, MAX_PACKET_TYPE, packetLayouts } from './packets.js';

/** A binary packet: its fields (and, for data packets, the data blob as the last element). */
export interface BinaryFrame {
  readonly kind: 'packet';
  /** True for `\0REQ`, false for `\0RES` (gearmand answers the latter with INVALID_MAGIC). */
  readonly request: boolean;
  readonly type: number;
  /**
   * Fields as views into the receive buffer: copy anything that must outlive the callback.
   * For a data packet `args.length === argc + 1` and the last element is the data.
   */
  readonly args: Buffer[];
}

/** One admin text line, without its LF and an optional CR before it. */
export interface TextFrame {
  readonly kind: 'text';
  readonly line: Buffer;
}

export type Frame = BinaryFrame | TextFrame;

export interface DecoderLimits {
  /** Largest payload accepted; a header declaring more is refused before any of it is read. */
  readonly maxPacketSize: number;
  /** Longest admin text line, LF excluded. */
  readonly maxLineLength: number;
}

export const defaultDecoderLimits: DecoderLimits = {
  maxPacketSize: 16 * 1024 * 1024,
  maxLineLength: 8192, // gearmand's receive buffer (GEARMAND_RECV_BUFFER_SIZE)
};

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

  constructor(limits: DecoderLimits = defaultDecoderLimits) {
    this.limits = limits;
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
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.failed) throw new ProtocolError('INVALID_PACKET', 'decoder already failed');
    let buf: Buffer;
    if (this.needed > 0) {
      this.parts.push(Buffer.from(chunk));
      this.partsLength += chunk.length;
      if (this.partsLength < this.needed) return;
      buf = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
      this.needed = 0;
    } else if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    } else {
      buf = chunk;
    }
    try {
      this.parse(buf, onFrame);
    } catch (err) {
      this.failed = true;
      this.rest = undefined;
      this.parts = [];
      this.partsLength = 0;
      throw err;
    }
  }

  private parse(buf: Buffer, onFrame: (frame: Frame) => void): void {
    const { maxPacketSize, maxLineLength } = this.limits;
    let off = 0;
    const end = buf.length;
    while (off < end) {
      if (buf[off] !== 0) {
        const searchEnd = Math.min(end, off + maxLineLength + 2);
        const lf = buf.indexOf(LF, off);
        if (lf === -1 || lf >= searchEnd) {
          if (end - off > maxLineLength + 1) {
            throw new ProtocolError('LINE_TOO_LONG', `admin line longer than ${maxLineLength} bytes`);
          }
          this.keep(buf, off);
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
        this.keep(buf, off);
        return;
      }
      const magic = buf.readUInt32BE(off);
      if (magic !== MAGIC_REQ && magic !== MAGIC_RES) {
        throw new ProtocolError('INVALID_MAGIC', 'packet magic is neither \\0REQ nor \\0RES');
      }
      const type = buf.readUInt32BE(off + 4);
      const size = buf.readUInt32BE(off + 8);
      if (size > maxPacketSize) {
        // Refused on the header alone: nothing of the claimed size is ever allocated.
        throw new ProtocolError('ARGUMENT_TOO_LARGE', `packet of ${size} bytes exceeds the limit of ${maxPacketSize}`);
      }
      const total = HEADER_SIZE + size;
      if (end - off < total) {
        const pending = buf.subarray(off);
        if (total > 64 * 1024) {
          this.parts = [Buffer.from(pending)];
          this.partsLength = pending.length;
          this.needed = total;
        } else {
          this.keep(buf, off);
        }
        return;
      }
      const payload = buf.subarray(off + HEADER_SIZE, off + total);
      off += total;
      onFrame({ kind: 'packet', request: magic === MAGIC_REQ, type, args: splitPayload(type, payload) });
    }
  }

  private keep(buf: Buffer, off: number): void {
    // Copy the tail so a small remainder never pins a large receive chunk.
    this.rest = Buffer.from(buf.subarray(off));
  }
}

/**
 * Split a payload into the fields of its type. Unlike gearmand, the NUL search is bounded
 * by the declared size (gearman-spec 7, group B item 1): missing terminators are an error.
 */
export function splitPayload(type: number, payload: Buffer): Buffer[] {
  const layout = type <= MAX_PACKET_TYPE ? packetLayouts[type] : undefined;
  if (layout === undefined) {
    throw new ProtocolError('INVALID_COMMAND', `unknown packet type ${type}`);
  }
  const { argc, data } = layout;
  if (argc === 0) return data ? [payload] : [];
  const nulFields = data ? argc : argc - 1;
  const args: Buffer[] = [];
  let start = 0;
  const end = payload.length;
  for (let i = 0; i < nulFields; i++) {
    // A loop, not indexOf: fields are short and the call into C++ costs more than the scan.
    let nul = start;
    while (nul < end && payload[nul] !== 0) nul++;
    if (nul === end) {
      throw new ProtocolError(
        'INVALID_PACKET',
        `${layout.name} needs ${nulFields} NUL-terminated field(s) before its ${data ? 'data' : 'last field'}`,
      );
    }
    args.push(payload.subarray(start, nul));
    start = nul + 1;
  }
  args.push(payload.subarray(start));
  return args;
}
