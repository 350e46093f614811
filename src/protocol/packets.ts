/**
 * The Gearman binary packet table (gearman-spec 1.2; libgearman/command.cc).
 * `argc` NUL-separated fields; with `data` an opaque blob follows them, without it the
 * last field runs to the end of the payload and carries no terminator.
 */
export const PacketType = {
  CAN_DO: 1,
  CANT_DO: 2,
  RESET_ABILITIES: 3,
  PRE_SLEEP: 4,
  UNUSED: 5,
  NOOP: 6,
  SUBMIT_JOB: 7,
  JOB_CREATED: 8,
  GRAB_JOB: 9,
  NO_JOB: 10,
  JOB_ASSIGN: 11,
  WORK_STATUS: 12,
  WORK_COMPLETE: 13,
  WORK_FAIL: 14,
  GET_STATUS: 15,
  ECHO_REQ: 16,
  ECHO_RES: 17,
  SUBMIT_JOB_BG: 18,
  ERROR: 19,
  STATUS_RES: 20,
  SUBMIT_JOB_HIGH: 21,
  SET_CLIENT_ID: 22,
  CAN_DO_TIMEOUT: 23,
  ALL_YOURS: 24,
  WORK_EXCEPTION: 25,
  OPTION_REQ: 26,
  OPTION_RES: 27,
  WORK_DATA: 28,
  WORK_WARNING: 29,
  GRAB_JOB_UNIQ: 30,
  JOB_ASSIGN_UNIQ: 31,
  SUBMIT_JOB_HIGH_BG: 32,
  SUBMIT_JOB_LOW: 33,
  SUBMIT_JOB_LOW_BG: 34,
  SUBMIT_JOB_SCHED: 35,
  SUBMIT_JOB_EPOCH: 36,
  SUBMIT_REDUCE_JOB: 37,
  SUBMIT_REDUCE_JOB_BACKGROUND: 38,
  GRAB_JOB_ALL: 39,
  JOB_ASSIGN_ALL: 40,
  GET_STATUS_UNIQUE: 41,
  STATUS_RES_UNIQUE: 42,
} as const;

export type PacketTypeName = keyof typeof PacketType;
export type PacketTypeCode = (typeof PacketType)[PacketTypeName];

export interface PacketLayout {
  readonly name: PacketTypeName;
  readonly code: number;
  /** Number of fields before the optional data blob. */
  readonly argc: number;
  /** Whether an opaque data blob follows the fields. */
  readonly data: boolean;
}

// [argc, data] per type, exactly libgearman's command table.
const layouts: Record<PacketTypeName, readonly [number, boolean]> = {
  CAN_DO: [1, false],
  CANT_DO: [1, false],
  RESET_ABILITIES: [0, false],
  PRE_SLEEP: [0, false],
  UNUSED: [0, false],
  NOOP: [0, false],
  SUBMIT_JOB: [2, true],
  JOB_CREATED: [1, false],
  GRAB_JOB: [0, false],
  NO_JOB: [0, false],
  JOB_ASSIGN: [2, true],
  WORK_STATUS: [3, false],
  WORK_COMPLETE: [1, true],
  WORK_FAIL: [1, false],
  GET_STATUS: [1, false],
  ECHO_REQ: [0, true],
  ECHO_RES: [0, true],
  SUBMIT_JOB_BG: [2, true],
  ERROR: [2, false],
  STATUS_RES: [5, false],
  SUBMIT_JOB_HIGH: [2, true],
  SET_CLIENT_ID: [1, false],
  CAN_DO_TIMEOUT: [2, false],
  ALL_YOURS: [0, false],
  WORK_EXCEPTION: [1, true],
  OPTION_REQ: [1, false],
  OPTION_RES: [1, false],
  WORK_DATA: [1, true],
  WORK_WARNING: [1, true],
  GRAB_JOB_UNIQ: [0, false],
  JOB_ASSIGN_UNIQ: [3, true],
  SUBMIT_JOB_HIGH_BG: [2, true],
  SUBMIT_JOB_LOW: [2, true],
  SUBMIT_JOB_LOW_BG: [2, true],
  SUBMIT_JOB_SCHED: [7, true],
  SUBMIT_JOB_EPOCH: [3, true],
  SUBMIT_REDUCE_JOB: [4, true],
  SUBMIT_REDUCE_JOB_BACKGROUND: [4, true],
  GRAB_JOB_ALL: [0, false],
  JOB_ASSIGN_ALL: [4, true],
  GET_STATUS_UNIQUE: [1, false],
  STATUS_RES_UNIQUE: [6, false],
};

/** Layout by type code; index 0 and codes above 42 are undefined (not Gearman packets). */
export const packetLayouts: readonly (PacketLayout | undefined)[] = (() => {
  const table: (PacketLayout | undefined)[] = [];
  for (const [name, code] of Object.entries(PacketType) as [PacketTypeName, number][]) {
    const [argc, data] = layouts[name];
    table[code] = { name, code, argc, data };
  }
  return table;
})();

export const MAX_PACKET_TYPE = 42;

export function packetName(code: number): string {
  return packetLayouts[code]?.name ?? `UNKNOWN(${code})`;
}

/** Magic prefixes: requests go to the server, responses come from it. */
export const MAGIC_REQ = 0x00524551; // "\0REQ"
export const MAGIC_RES = 0x00524553; // "\0RES"
export const HEADER_SIZE = 12;
