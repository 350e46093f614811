import { latin1Of, writeBytes, writeLatin1 } from './bytes.js';
import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES } from './packets.js';

/** A packet field: bytes, or a string whose chars are bytes (latin1, so any byte round-trips). */
export type Field = Buffer | string;

/**
 * Encode a packet: fields joined by NUL, no terminator after the last one (gearman-spec 1.1).
 * For data packets pass the data blob as the last field.
 */
export function encodePacket(type: number, fields: readonly Field[] = [], request = false): Buffer {
  let size = fields.length > 0 ? fields.length - 1 : 0;
  for (let i = 0; i < fields.length; i++) size += fields[i]!.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + size);
  writeHeader(out, 0, request ? MAGIC_REQ : MAGIC_RES, type, size);
  let off = HEADER_SIZE;
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) out[off++] = 0;
    off = writeField(out, off, fields[i]!);
  }
  return out;
}

/** Write a field's bytes at `off`; returns the offset after them. */
export function writeField(out: Buffer, off: number, field: Field): number {
  return typeof field === 'string' ? writeLatin1(out, off, field) : writeBytes(out, off, field, 0, field.length);
}

/** Write a 12-byte packet header at `off`. */
export function writeHeader(out: Buffer, off: number, magic: number, type: number, size: number): void {
  out[off] = magic >>> 24;
  out[off + 1] = (magic >>> 16) & 0xff;
  out[off + 2] = (magic >>> 8) & 0xff;
  out[off + 3] = magic & 0xff;
  out[off + 4] = type >>> 24;
  out[off + 5] = (type >>> 16) & 0xff;
  out[off + 6] = (type >>> 8) & 0xff;
  out[off + 7] = type & 0xff;
  out[off + 8] = size >>> 24;
  out[off + 9] = (size >>> 16) & 0xff;
  out[off + 10] = (size >>> 8) & 0xff;
  out[off + 11] = size & 0xff;
}

/** A request packet, as clients and workers send them. */
export function encodeRequest(type: number, fields: readonly Field[] = []): Buffer {
  return encodePacket(type, fields, true);
}

/** Packets with an empty payload are the same bytes every time. */
const emptyPackets = new Map<number, Buffer>();
export function emptyPacket(type: number, request = false): Buffer {
  const key = request ? -type : type;
  let packet = emptyPackets.get(key);
  if (packet === undefined) {
    packet = encodePacket(type, [], request);
    emptyPackets.set(key, packet);
  }
  return packet;
}

/** Bytes as a latin1 string: a lossless, cheap key for names, uniques and handles. */
export function bytesToKey(bytes: Buffer): string {
  return latin1Of(bytes, 0, bytes.length);
}

