import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameDecoder,
  PacketBuilder,
  encodePacket,
  encodeRequest,
  packetLayouts,
  packetName,
  type Field,
  type OwnedFrame,
} from '../../src/protocol/index.js';
import { decodeAll } from './decode-all.js';

/**
 * Literal wire bytes for every binary packet type, checked both ways against the codec.
 * Type numbers, field counts and bytes are typed here from gearman-spec 1.1-1.2 and
 * Appendix A, never taken from src/protocol/packets.ts: an error in that shared table
 * would pass codec.test.ts's round trip (its encoder and decoder read the same table)
 * but fails here.
 */

const hex = (s: string) => Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex');

/** Who sends a type (spec 1.2 "dir"): REQ types go to the server, RES types come from it, both = W→S and S→C. */
type Direction = 'REQ' | 'RES' | 'both';

interface SpecRow {
  readonly type: number;
  readonly name: string;
  readonly dir: Direction;
  /** NUL-separated fields before the data (the spec's "args"). */
  readonly argc: number;
  /** Whether an opaque data blob follows (the spec's "data"). */
  readonly data: boolean;
}

/** gearman-spec 1.2, typed row by row (# / name / dir / argc/data). */
const SPEC_TABLE: readonly SpecRow[] = [
  { type: 1, name: 'CAN_DO', dir: 'REQ', argc: 1, data: false },
  { type: 2, name: 'CANT_DO', dir: 'REQ', argc: 1, data: false },
  { type: 3, name: 'RESET_ABILITIES', dir: 'REQ', argc: 0, data: false },
  { type: 4, name: 'PRE_SLEEP', dir: 'REQ', argc: 0, data: false },
  // "(unused)" in the spec: a valid header, answered with ERROR INVALID_COMMAND.
  { type: 5, name: 'UNUSED', dir: 'REQ', argc: 0, data: false },
  { type: 6, name: 'NOOP', dir: 'RES', argc: 0, data: false },
  { type: 7, name: 'SUBMIT_JOB', dir: 'REQ', argc: 2, data: true },
  { type: 8, name: 'JOB_CREATED', dir: 'RES', argc: 1, data: false },
  { type: 9, name: 'GRAB_JOB', dir: 'REQ', argc: 0, data: false },
  { type: 10, name: 'NO_JOB', dir: 'RES', argc: 0, data: false },
  { type: 11, name: 'JOB_ASSIGN', dir: 'RES', argc: 2, data: true },
  { type: 12, name: 'WORK_STATUS', dir: 'both', argc: 3, data: false },
  { type: 13, name: 'WORK_COMPLETE', dir: 'both', argc: 1, data: true },
  { type: 14, name: 'WORK_FAIL', dir: 'both', argc: 1, data: false },
  { type: 15, name: 'GET_STATUS', dir: 'REQ', argc: 1, data: false },
  { type: 16, name: 'ECHO_REQ', dir: 'REQ', argc: 0, data: true },
  { type: 17, name: 'ECHO_RES', dir: 'RES', argc: 0, data: true },
  { type: 18, name: 'SUBMIT_JOB_BG', dir: 'REQ', argc: 2, data: true },
  { type: 19, name: 'ERROR', dir: 'RES', argc: 2, data: false },
  { type: 20, name: 'STATUS_RES', dir: 'RES', argc: 5, data: false },
  { type: 21, name: 'SUBMIT_JOB_HIGH', dir: 'REQ', argc: 2, data: true },
  { type: 22, name: 'SET_CLIENT_ID', dir: 'REQ', argc: 1, data: false },
  { type: 23, name: 'CAN_DO_TIMEOUT', dir: 'REQ', argc: 2, data: false },
  { type: 24, name: 'ALL_YOURS', dir: 'REQ', argc: 0, data: false },
  { type: 25, name: 'WORK_EXCEPTION', dir: 'both', argc: 1, data: true },
  { type: 26, name: 'OPTION_REQ', dir: 'REQ', argc: 1, data: false },
  { type: 27, name: 'OPTION_RES', dir: 'RES', argc: 1, data: false },
  { type: 28, name: 'WORK_DATA', dir: 'both', argc: 1, data: true },
  { type: 29, name: 'WORK_WARNING', dir: 'both', argc: 1, data: true },
  { type: 30, name: 'GRAB_JOB_UNIQ', dir: 'REQ', argc: 0, data: false },
  { type: 31, name: 'JOB_ASSIGN_UNIQ', dir: 'RES', argc: 3, data: true },
  { type: 32, name: 'SUBMIT_JOB_HIGH_BG', dir: 'REQ', argc: 2, data: true },
  { type: 33, name: 'SUBMIT_JOB_LOW', dir: 'REQ', argc: 2, data: true },
  { type: 34, name: 'SUBMIT_JOB_LOW_BG', dir: 'REQ', argc: 2, data: true },
  { type: 35, name: 'SUBMIT_JOB_SCHED', dir: 'REQ', argc: 7, data: true },
  { type: 36, name: 'SUBMIT_JOB_EPOCH', dir: 'REQ', argc: 3, data: true },
  { type: 37, name: 'SUBMIT_REDUCE_JOB', dir: 'REQ', argc: 4, data: true },
  { type: 38, name: 'SUBMIT_REDUCE_JOB_BACKGROUND', dir: 'REQ', argc: 4, data: true },
  { type: 39, name: 'GRAB_JOB_ALL', dir: 'REQ', argc: 0, data: false },
  { type: 40, name: 'JOB_ASSIGN_ALL', dir: 'RES', argc: 4, data: true },
  { type: 41, name: 'GET_STATUS_UNIQUE', dir: 'REQ', argc: 1, data: false },
  { type: 42, name: 'STATUS_RES_UNIQUE', dir: 'RES', argc: 6, data: false },
];

const specRow = (type: number): SpecRow => {
  const row = SPEC_TABLE.find((r) => r.type === type);
  assert.ok(row !== undefined, `type ${type} is not in the spec table`);
  return row;
};

/** Fields a frame of this spec row has: argc, plus one for the data blob. */
const fieldCount = (row: SpecRow) => row.argc + (row.data ? 1 : 0);

interface Fixture {
  /** The spec's name for `type`, and what the fixture shows. */
  readonly what: string;
  readonly type: number;
  /** `\0REQ` (true) or `\0RES` (false). */
  readonly request: boolean;
  /** Fields in wire order, the data blob last (strings are latin1: one char per byte). */
  readonly fields: readonly Field[];
  /** The whole packet: magic, type, size, then the payload (a field's hex includes its NUL terminator). */
  readonly wire: string;
  /** Set when the magic is the one the spec's direction does not send (gearmand still parses it). */
  readonly wrongMagic?: true;
}

const REQ = true;
const RES = false;

// Handle "H:lap:1" is 48 3a 6c 61 70 3a 31; function "reverse" is 72 65 76 65 72 73 65.
const FIXTURES: readonly Fixture[] = [
  // Appendix A step 1.
  { what: 'CAN_DO "reverse"', type: 1, request: REQ, fields: ['reverse'], wire: '00524551 00000001 00000007  72657665727365' },
  // Spec 1.1/1.4: no terminator is expected, so a trailing NUL sent by a peer is part of the name.
  { what: 'CAN_DO "fn\\0": a trailing NUL belongs to the last field', type: 1, request: REQ, fields: ['fn\0'], wire: '00524551 00000001 00000003  666e00' },
  { what: 'CANT_DO "reverse"', type: 2, request: REQ, fields: ['reverse'], wire: '00524551 00000002 00000007  72657665727365' },
  { what: 'RESET_ABILITIES', type: 3, request: REQ, fields: [], wire: '00524551 00000003 00000000' },
  // Appendix A step 2.
  { what: 'PRE_SLEEP', type: 4, request: REQ, fields: [], wire: '00524551 00000004 00000000' },
  { what: '(unused) type 5', type: 5, request: REQ, fields: [], wire: '00524551 00000005 00000000' },
  // Appendix A step 4.
  { what: 'NOOP', type: 6, request: RES, fields: [], wire: '00524553 00000006 00000000' },
  // Appendix A step 3: an empty unique is a lone NUL.
  { what: 'SUBMIT_JOB "reverse", empty unique, "test"', type: 7, request: REQ, fields: ['reverse', '', Buffer.from('test')], wire: '00524551 00000007 0000000d  7265766572736500 00 74657374' },
  // Appendix A step 5.
  { what: 'JOB_CREATED "H:lap:1"', type: 8, request: RES, fields: ['H:lap:1'], wire: '00524553 00000008 00000007  483a6c61703a31' },
  { what: 'GRAB_JOB', type: 9, request: REQ, fields: [], wire: '00524551 00000009 00000000' },
  { what: 'NO_JOB', type: 10, request: RES, fields: [], wire: '00524553 0000000a 00000000' },
  // Appendix A step 6 (size 0x14).
  { what: 'JOB_ASSIGN handle, function, data', type: 11, request: RES, fields: ['H:lap:1', 'reverse', Buffer.from('test')], wire: '00524553 0000000b 00000014  483a6c61703a3100 7265766572736500 74657374' },
  { what: 'WORK_STATUS 1/4 from a worker', type: 12, request: REQ, fields: ['H:lap:1', '1', '4'], wire: '00524551 0000000c 0000000b  483a6c61703a3100 3100 34' },
  { what: 'WORK_STATUS 1/4 forwarded to a client', type: 12, request: RES, fields: ['H:lap:1', '1', '4'], wire: '00524553 0000000c 0000000b  483a6c61703a3100 3100 34' },
  { what: 'WORK_STATUS with an empty numerator and an empty last field', type: 12, request: REQ, fields: ['H:lap:1', '', ''], wire: '00524551 0000000c 00000009  483a6c61703a3100 00' },
  // Appendix A step 7 (type 0x0d, size 0x0c), both directions with the same payload.
  { what: 'WORK_COMPLETE "tset" from a worker', type: 13, request: REQ, fields: ['H:lap:1', Buffer.from('tset')], wire: '00524551 0000000d 0000000c  483a6c61703a3100 74736574' },
  { what: 'WORK_COMPLETE "tset" forwarded to a client', type: 13, request: RES, fields: ['H:lap:1', Buffer.from('tset')], wire: '00524553 0000000d 0000000c  483a6c61703a3100 74736574' },
  { what: 'WORK_COMPLETE with empty data: the payload ends with the handle\'s NUL', type: 13, request: RES, fields: ['H:lap:1', Buffer.alloc(0)], wire: '00524553 0000000d 00000008  483a6c61703a3100' },
  { what: 'WORK_FAIL from a worker', type: 14, request: REQ, fields: ['H:lap:1'], wire: '00524551 0000000e 00000007  483a6c61703a31' },
  { what: 'WORK_FAIL forwarded to a client', type: 14, request: RES, fields: ['H:lap:1'], wire: '00524553 0000000e 00000007  483a6c61703a31' },
  // Spec 3.4: a WORK_FAIL made by exception conversion carries a trailing NUL; it is part of the field.
  { what: 'WORK_FAIL "H:lap:1\\0" (exception conversion)', type: 14, request: RES, fields: ['H:lap:1\0'], wire: '00524553 0000000e 00000008  483a6c61703a3100' },
  { what: 'GET_STATUS "H:x:9"', type: 15, request: REQ, fields: ['H:x:9'], wire: '00524551 0000000f 00000005  483a783a39' },
  { what: 'ECHO_REQ of binary data with NULs', type: 16, request: REQ, fields: [Buffer.from([0x00, 0x68, 0x69, 0x00, 0xff])], wire: '00524551 00000010 00000005  00686900ff' },
  // Spec 1.7: an empty ECHO payload is allowed; the frame still has its (empty) data field.
  { what: 'ECHO_REQ with empty data', type: 16, request: REQ, fields: [Buffer.alloc(0)], wire: '00524551 00000010 00000000' },
  { what: 'ECHO_RES of binary data with NULs', type: 17, request: RES, fields: [Buffer.from([0x00, 0x68, 0x69, 0x00, 0xff])], wire: '00524553 00000011 00000005  00686900ff' },
  { what: 'SUBMIT_JOB_BG, empty unique, data 00 01 00 ff', type: 18, request: REQ, fields: ['fn', '', Buffer.from([0x00, 0x01, 0x00, 0xff])], wire: '00524551 00000012 00000008  666e00 00 000100ff' },
  // Appendix A: ERROR for an unknown option (53 bytes: 14 + NUL + 38).
  {
    what: 'ERROR UNKNOWN_OPTION',
    type: 19,
    request: RES,
    fields: ['UNKNOWN_OPTION', 'Server does not recognize given option'],
    wire: '00524553 00000013 00000035  554e4b4e4f574e5f4f5054494f4e00 53657276657220646f6573206e6f74207265636f676e697a6520676976656e206f7074696f6e',
  },
  { what: 'ERROR INVALID_COMMAND', type: 19, request: RES, fields: ['INVALID_COMMAND', 'Command not expected'], wire: '00524553 00000013 00000024  494e56414c49445f434f4d4d414e4400 436f6d6d616e64206e6f74206578706563746564' },
  // Appendix A: 13 bytes (6 + 2 + 2 + 2 + 1), the final "0" without a NUL.
  { what: 'STATUS_RES for an unknown handle', type: 20, request: RES, fields: ['H:x:9', '0', '0', '0', '0'], wire: '00524553 00000014 0000000d  483a783a3900 3000 3000 3000 30' },
  { what: 'STATUS_RES known, running, 3/10', type: 20, request: RES, fields: ['H:lap:1', '1', '1', '3', '10'], wire: '00524553 00000014 00000010  483a6c61703a3100 3100 3100 3300 3130' },
  { what: 'SUBMIT_JOB_HIGH with PNG-like binary data', type: 21, request: REQ, fields: ['resize', 'img-42', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00])], wire: '00524551 00000015 00000017  726573697a6500 696d672d343200 89504e470d0a1a0a00' },
  { what: 'SET_CLIENT_ID "worker-7"', type: 22, request: REQ, fields: ['worker-7'], wire: '00524551 00000016 00000008  776f726b65722d37' },
  { what: 'CAN_DO_TIMEOUT "reverse" 5000', type: 23, request: REQ, fields: ['reverse', '5000'], wire: '00524551 00000017 0000000c  7265766572736500 35303030' },
  { what: 'ALL_YOURS', type: 24, request: REQ, fields: [], wire: '00524551 00000018 00000000' },
  { what: 'WORK_EXCEPTION "boom\\0trace" from a worker', type: 25, request: REQ, fields: ['H:lap:1', Buffer.from('boom\0trace', 'latin1')], wire: '00524551 00000019 00000012  483a6c61703a3100 626f6f6d007472616365' },
  { what: 'WORK_EXCEPTION "boom\\0trace" forwarded to a client', type: 25, request: RES, fields: ['H:lap:1', Buffer.from('boom\0trace', 'latin1')], wire: '00524553 00000019 00000012  483a6c61703a3100 626f6f6d007472616365' },
  { what: 'OPTION_REQ "exceptions"', type: 26, request: REQ, fields: ['exceptions'], wire: '00524551 0000001a 0000000a  657863657074696f6e73' },
  { what: 'OPTION_REQ with an empty payload: one empty field', type: 26, request: REQ, fields: [''], wire: '00524551 0000001a 00000000' },
  { what: 'OPTION_RES "exceptions"', type: 27, request: RES, fields: ['exceptions'], wire: '00524553 0000001b 0000000a  657863657074696f6e73' },
  { what: 'WORK_DATA "\\0\\0chunk\\0" from a worker', type: 28, request: REQ, fields: ['H:lap:1', Buffer.from('\0\0chunk\0', 'latin1')], wire: '00524551 0000001c 00000010  483a6c61703a3100 00006368756e6b00' },
  { what: 'WORK_DATA "\\0\\0chunk\\0" forwarded to a client', type: 28, request: RES, fields: ['H:lap:1', Buffer.from('\0\0chunk\0', 'latin1')], wire: '00524553 0000001c 00000010  483a6c61703a3100 00006368756e6b00' },
  { what: 'WORK_WARNING "low disk\\0" from a worker', type: 29, request: REQ, fields: ['H:lap:1', Buffer.from('low disk\0', 'latin1')], wire: '00524551 0000001d 00000011  483a6c61703a3100 6c6f77206469736b00' },
  { what: 'WORK_WARNING "low disk\\0" forwarded to a client', type: 29, request: RES, fields: ['H:lap:1', Buffer.from('low disk\0', 'latin1')], wire: '00524553 0000001d 00000011  483a6c61703a3100 6c6f77206469736b00' },
  { what: 'GRAB_JOB_UNIQ', type: 30, request: REQ, fields: [], wire: '00524551 0000001e 00000000' },
  { what: 'JOB_ASSIGN_UNIQ handle, function, unique "abc", data', type: 31, request: RES, fields: ['H:lap:1', 'reverse', 'abc', Buffer.from('test')], wire: '00524553 0000001f 00000018  483a6c61703a3100 7265766572736500 61626300 74657374' },
  { what: 'JOB_ASSIGN_UNIQ with an empty unique and empty data', type: 31, request: RES, fields: ['H:lap:3', 'reverse', '', Buffer.alloc(0)], wire: '00524553 0000001f 00000011  483a6c61703a3300 7265766572736500 00' },
  { what: 'SUBMIT_JOB_HIGH_BG with data "\\0"', type: 32, request: REQ, fields: ['fn', 'u-1', Buffer.from([0x00])], wire: '00524551 00000020 00000008  666e00 752d3100 00' },
  { what: 'SUBMIT_JOB_LOW unique "-", data "same\\0data"', type: 33, request: REQ, fields: ['fn', '-', Buffer.from('same\0data', 'latin1')], wire: '00524551 00000021 0000000e  666e00 2d00 73616d650064617461' },
  { what: 'SUBMIT_JOB_LOW_BG with empty data', type: 34, request: REQ, fields: ['fn', 'u-2', Buffer.alloc(0)], wire: '00524551 00000022 00000007  666e00 752d3200' },
  // function, unique, minute 30, hour 2, mday 1, month 12, wday 0, data "x\0y".
  { what: 'SUBMIT_JOB_SCHED 30 2 1 12 0', type: 35, request: REQ, fields: ['fn', 'u-3', '30', '2', '1', '12', '0', Buffer.from('x\0y', 'latin1')], wire: '00524551 00000023 00000016  666e00 752d3300 333000 3200 3100 313200 3000 780079' },
  { what: 'SUBMIT_JOB_EPOCH 1767225600, data ff 00', type: 36, request: REQ, fields: ['fn', 'u-4', '1767225600', Buffer.from([0xff, 0x00])], wire: '00524551 00000024 00000014  666e00 752d3400 3137363732323536303000 ff00' },
  // Spec 1.2 note: four NUL-terminated fields; libgearman sends an empty aggregator.
  { what: 'SUBMIT_REDUCE_JOB with an empty aggregator', type: 37, request: REQ, fields: ['count', 'u-5', 'sum', '', Buffer.from('a b\0c', 'latin1')], wire: '00524551 00000025 00000014  636f756e7400 752d3500 73756d00 00 6120620063' },
  { what: 'SUBMIT_REDUCE_JOB_BACKGROUND, aggregator "agg", data "\\0"', type: 38, request: REQ, fields: ['count', 'u-6', 'sum', 'agg', Buffer.from([0x00])], wire: '00524551 00000026 00000013  636f756e7400 752d3600 73756d00 61676700 00' },
  { what: 'GRAB_JOB_ALL', type: 39, request: REQ, fields: [], wire: '00524551 00000027 00000000' },
  { what: 'JOB_ASSIGN_ALL handle, function, unique, reducer, data', type: 40, request: RES, fields: ['H:lap:2', 'count', 'u-5', 'sum', Buffer.from('a b\0c', 'latin1')], wire: '00524553 00000028 0000001b  483a6c61703a3200 636f756e7400 752d3500 73756d00 6120620063' },
  { what: 'GET_STATUS_UNIQUE "abc"', type: 41, request: REQ, fields: ['abc'], wire: '00524551 00000029 00000003  616263' },
  // Spec 1.2 note: the first field is the unique asked for; client_count "2" has no NUL.
  { what: 'STATUS_RES_UNIQUE "abc" known, 2 clients', type: 42, request: RES, fields: ['abc', '1', '0', '0', '0', '2'], wire: '00524553 0000002a 0000000d  61626300 3100 3000 3000 3000 32' },
  // Spec 1.1/1.2: gearmand parses these, then answers ERROR (INVALID_COMMAND / INVALID_MAGIC).
  { what: 'JOB_CREATED sent to the server (\\0REQ)', type: 8, request: REQ, fields: ['H:lap:1'], wire: '00524551 00000008 00000007  483a6c61703a31', wrongMagic: true },
  { what: 'SUBMIT_JOB with \\0RES magic', type: 7, request: RES, fields: ['reverse', '', Buffer.from('test')], wire: '00524553 00000007 0000000d  7265766572736500 00 74657374', wrongMagic: true },
];

const fieldBytes = (f: Field) => (typeof f === 'string' ? Buffer.from(f, 'latin1') : Buffer.from(f));

/** The frame a fixture's bytes must decode to. */
function expectedFrame(fx: Fixture): OwnedFrame {
  return { kind: 'packet', request: fx.request, type: fx.type, args: fx.fields.map(fieldBytes) };
}

test('the fixtures are well formed: header as typed, field count from the spec table', () => {
  for (const fx of FIXTURES) {
    const bytes = hex(fx.wire);
    const row = specRow(fx.type);
    assert.ok(fx.what.startsWith(row.name) || row.type === 5, `${fx.what}: named after ${row.name}`);
    assert.equal(bytes.readUInt32BE(0), fx.request ? 0x00524551 : 0x00524553, `${fx.what}: magic`);
    assert.equal(bytes.readUInt32BE(4), fx.type, `${fx.what}: type`);
    assert.equal(bytes.readUInt32BE(8), bytes.length - 12, `${fx.what}: size`);
    assert.equal(fx.fields.length, fieldCount(row), `${fx.what}: ${row.argc} field(s)${row.data ? ' and data' : ''}`);
    // Fields joined by single NULs, nothing after the last one (spec 1.1, 7 group A item 1).
    const payloadSize = fx.fields.reduce((n, f) => n + f.length, Math.max(0, fx.fields.length - 1));
    assert.equal(bytes.length - 12, payloadSize, `${fx.what}: payload is the fields and their separators`);
    if (fx.wrongMagic === undefined) {
      if (row.dir !== 'both') assert.equal(fx.request, row.dir === 'REQ', `${fx.what}: direction`);
    } else {
      assert.notEqual(row.dir, 'both');
      assert.notEqual(fx.request, row.dir === 'REQ', `${fx.what}: the other magic`);
    }
  }
});

test('every spec type 1-42 has a fixture, types sent both ways with both magics', () => {
  assert.deepEqual(
    SPEC_TABLE.map((r) => r.type),
    Array.from({ length: 42 }, (_, i) => i + 1),
  );
  for (const row of SPEC_TABLE) {
    const own = FIXTURES.filter((fx) => fx.type === row.type && fx.wrongMagic === undefined);
    const magics = new Set(own.map((fx) => fx.request));
    const wanted = row.dir === 'both' ? [true, false] : [row.dir === 'REQ'];
    assert.deepEqual([...magics].sort(), wanted.sort(), `${row.name}: fixtures with the magic(s) it is sent with`);
  }
});

test('the packet table in src matches the spec table (number, name, argc, data)', () => {
  for (const row of SPEC_TABLE) {
    assert.equal(packetName(row.type), row.name, `type ${row.type}`);
    const layout = packetLayouts[row.type];
    assert.ok(layout !== undefined, row.name);
    assert.deepEqual({ argc: layout.argc, data: layout.data }, { argc: row.argc, data: row.data }, row.name);
  }
  assert.equal(packetLayouts[0], undefined, 'type 0 is not a binary packet');
  assert.equal(packetLayouts[43], undefined, 'no type above 42');
});

test('the encoder writes exactly the fixture bytes', () => {
  for (const fx of FIXTURES) {
    const bytes = hex(fx.wire);
    assert.deepEqual(encodePacket(fx.type, fx.fields, fx.request), bytes, fx.what);
    if (fx.request) assert.deepEqual(encodeRequest(fx.type, fx.fields), bytes, fx.what);
  }
});

test('the server\'s PacketBuilder writes exactly the response fixture bytes', () => {
  const all = new PacketBuilder();
  const expected: Buffer[] = [];
  for (const fx of FIXTURES) {
    if (fx.request || fx.fields.length > 4) continue; // packet() takes up to four fields; JOB_ASSIGN_ALL goes through encodePacket
    const bytes = hex(fx.wire);
    const [a, b, c, d] = fx.fields;
    const one = new PacketBuilder();
    one.packet(fx.type, a, b, c, d);
    assert.deepEqual(one.view(), bytes, fx.what);
    all.packet(fx.type, a, b, c, d);
    expected.push(bytes);
    // A handle written from its job number: "H:lap:1" is head "H:lap:" and id 1.
    const handle = typeof a === 'string' ? /^(H:[^:]*:)([1-9][0-9]*)$/.exec(a) : null;
    if (handle !== null) {
      const fromId = new PacketBuilder();
      fromId.handlePacket(fx.type, Buffer.from(handle[1]!, 'latin1'), Number(handle[2]), b, c, d);
      assert.deepEqual(fromId.view(), bytes, `${fx.what} (handlePacket)`);
    }
  }
  assert.ok(expected.length >= 15);
  assert.deepEqual(all.view(), Buffer.concat(expected), 'one after another in one buffer');
});

test('the decoder reads each fixture as its type, magic and fields', () => {
  for (const fx of FIXTURES) {
    const bytes = hex(fx.wire);
    const count = fieldCount(specRow(fx.type));
    for (const reuseFrame of [false, true]) {
      assert.deepEqual(decodeAll(bytes, bytes.length, reuseFrame), [expectedFrame(fx)], `${fx.what} (reuseFrame ${reuseFrame})`);
    }
    // The accessors the server reads fields through on its hot path.
    let seen = 0;
    new FrameDecoder().push(bytes, (frame) => {
      seen++;
      assert.ok(frame.kind === 'packet', fx.what);
      assert.equal(frame.fieldCount, count, fx.what);
      fx.fields.forEach((field, i) => {
        const want = fieldBytes(field);
        assert.equal(frame.fieldLength(i), want.length, `${fx.what} field ${i} length`);
        assert.equal(frame.key(i), want.toString('latin1'), `${fx.what} field ${i} key`);
        assert.deepEqual(frame.copy(i), want, `${fx.what} field ${i} copy`);
      });
    });
    assert.equal(seen, 1, fx.what);
  }
});

test('multi-field packets arriving one byte at a time decode to the same fields', () => {
  const multi = FIXTURES.filter((fx) => fx.fields.length >= 5);
  assert.ok(multi.some((fx) => fx.type === 35) && multi.some((fx) => fx.type === 42), 'SUBMIT_JOB_SCHED and STATUS_RES_UNIQUE among them');
  for (const fx of multi) {
    for (const reuseFrame of [false, true]) {
      assert.deepEqual(decodeAll(hex(fx.wire), 1, reuseFrame), [expectedFrame(fx)], `${fx.what} (reuseFrame ${reuseFrame})`);
    }
  }
});

test('all fixtures back to back on one stream, in 1-, 7- and 13-byte chunks', () => {
  const stream = Buffer.concat(FIXTURES.map((fx) => hex(fx.wire)));
  const expected = FIXTURES.map(expectedFrame);
  for (const chunk of [1, 7, 13, stream.length]) {
    for (const reuseFrame of [false, true]) {
      assert.deepEqual(decodeAll(stream, chunk, reuseFrame), expected, `chunks of ${chunk} (reuseFrame ${reuseFrame})`);
    }
  }
});

test('spec 7 group A item 1: the last field of a non-data packet has no terminator', () => {
  // Appendix A STATUS_RES: 13 bytes, the last one the denominator "0" (0x30), no NUL after it.
  const status = hex('00524553 00000014 0000000d  483a783a3900 3000 3000 3000 30');
  assert.deepEqual(encodePacket(20, ['H:x:9', '0', '0', '0', '0']), status);
  assert.equal(status[status.length - 1], 0x30);
  // A peer that adds a NUL anyway: the NUL is part of the last field, not a terminator (spec 1.1).
  const terminated = hex('00524553 00000014 0000000e  483a783a3900 3000 3000 3000 3000');
  const [frame] = decodeAll(terminated);
  assert.ok(frame !== undefined && frame.kind === 'packet');
  assert.equal(frame.args.length, 5);
  assert.deepEqual(frame.args[4], Buffer.from([0x30, 0x00]));
  // The same for a one-field packet: ERROR's text, JOB_CREATED's handle, a whole-payload field.
  const [created] = decodeAll(hex('00524553 00000008 00000008  483a6c61703a3100'));
  assert.ok(created !== undefined && created.kind === 'packet');
  assert.deepEqual(created.args, [Buffer.from('H:lap:1\0', 'latin1')]);
});
