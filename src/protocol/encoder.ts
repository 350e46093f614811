import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES } from './packets.js';

/** A packet field: bytes, or a string whose chars are bytes (latin1, so any byte round-trips). */
export type Field = Buffer | string;

function fieldLength(field: Field): number {
  return typeof field === 'string' ? field.length : field.length;
}

/**
 * Encode a packet: fields joined by NUL, no terminator after the last one (gearman-spec 1.1).
 * For data packets pass the data blob as the last field.
 */
export function encodePacket(type: number, fields: readonly Field[] = [], request = false): Buffer {
  let size = fields.length > 0 ? fields.length - 1 : 0;
  for (let i = 0; i < fields.length; i++) size += fieldLength(fields[i]!);
  const out = Buffer.allocUnsafe(HEADER_SIZE + size);
  out.writeUInt32BE(request ? MAGIC_REQ : MAGIC_RES, 0);
  out.writeUInt32BE(type, 4);
  out.writeUInt32BE(size, 8);
  let off = HEADER_SIZE;
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) out[off++] = 0;
    const field = fields[i]!;
    if (typeof field === 'string') off += out.write(field, off, 'latin1');
    else off += field.copy(out, off);
  }
  return out;
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
  return bytes.toString('latin1');
}
