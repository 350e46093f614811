import { MAX_UNIQUE_BYTES } from '../engine/engine.js';
import { LONG_MAX, LONG_MIN, strtol } from '../protocol/c-numbers.js';
import { Priority, type Assignment, type EngineError } from '../engine/types.js';
import type { BinaryFrame } from '../protocol/decoder.js';
import { bytesToKey, encodePacket } from '../protocol/encoder.js';
import { PacketType as T } from '../protocol/packets.js';
import { cString } from '../protocol/c-strings.js';
import { asciiLower } from '../protocol/admin.js';
import type { GearSession } from './gear-session.js';

const EXCEPTIONS = 'exceptions';
const notExpected: EngineError = { code: 'INVALID_COMMAND', text: 'Command not expected' };
const badMagic: EngineError = { code: 'INVALID_MAGIC', text: 'Request magic expected' };
const unknownOption: EngineError = { code: 'UNKNOWN_OPTION', text: 'Server does not recognize given option' };
const handleTooLong: EngineError = { code: 'ARGUMENT_TOO_LARGE', text: 'Job handle too large' };
const uniqueTooLong: EngineError = { code: 'ARGUMENT_TOO_LARGE', text: 'Unique value too large' };
const timeoutInvalid: EngineError = { code: 'INVALID_ARGUMENT', text: 'CAN_DO_TIMEOUT value out of range' };
const epochInvalid: EngineError = { code: 'INVALID_ARGUMENT', text: 'Epoch value out of range' };
const denominatorInvalid: EngineError = { code: 'INVALID_ARGUMENT', text: 'WORK_STATUS denominator too long' };
const tooManyFunctions: EngineError = { code: 'QUEUE_ERROR', text: 'Too many functions' };

/** Priority and background flag of each submit type (spec 1.5). */
const submitKinds: Record<number, readonly [Priority, boolean]> = {
  [T.SUBMIT_JOB]: [Priority.NORMAL, false],
  [T.SUBMIT_JOB_BG]: [Priority.NORMAL, true],
  [T.SUBMIT_JOB_HIGH]: [Priority.HIGH, false],
  [T.SUBMIT_JOB_HIGH_BG]: [Priority.HIGH, true],
  [T.SUBMIT_JOB_LOW]: [Priority.LOW, false],
  [T.SUBMIT_JOB_LOW_BG]: [Priority.LOW, true],
  [T.SUBMIT_JOB_EPOCH]: [Priority.NORMAL, true],
  [T.SUBMIT_REDUCE_JOB]: [Priority.NORMAL, false],
  [T.SUBMIT_REDUCE_JOB_BACKGROUND]: [Priority.NORMAL, true],
};

/** One handler per packet type behind one switch; the spec section is cited where it rules. */
export function dispatchPacket(session: GearSession, frame: BinaryFrame): void {
  if (!frame.request) return session.replyError(badMagic); // spec 1.1: \0RES parsed, then refused
  const { engine } = session.ctx;
  const peer = session.peer;
  switch (frame.type) {
    case T.SUBMIT_JOB:
    case T.SUBMIT_JOB_BG:
    case T.SUBMIT_JOB_HIGH:
    case T.SUBMIT_JOB_HIGH_BG:
    case T.SUBMIT_JOB_LOW:
    case T.SUBMIT_JOB_LOW_BG:
    case T.SUBMIT_JOB_EPOCH:
    case T.SUBMIT_REDUCE_JOB:
    case T.SUBMIT_REDUCE_JOB_BACKGROUND:
      return submit(session, frame);

    case T.GRAB_JOB:
    case T.GRAB_JOB_UNIQ:
    case T.GRAB_JOB_ALL: {
      const job = engine.grab(peer);
      if (job === undefined) return session.replyPacket(T.NO_JOB);
      return replyAssignment(session, frame.type, job);
    }
    case T.PRE_SLEEP:
      // Work already waiting: NOOP now instead of sleeping (spec 1.4).
      if (engine.preSleep(peer)) session.replyPacket(T.NOOP);
      return;
    case T.CAN_DO:
      if (!engine.canDo(peer, frame.key(0))) session.replyError(tooManyFunctions);
      return;
    case T.CAN_DO_TIMEOUT: {
      // strtol; over 20 bytes, out of range or at LONG_MIN/LONG_MAX gearmand drops the
      // connection (we answer why); 0 or less means no timeout (spec 1.4, 1.8).
      // Measured whole, NULs included (gearmand refuses one over 20 bytes even when a NUL ends
      // its digits early, unlike the C strings of GET_STATUS); strtol stops at a NUL.
      const text = frame.key(1);
      const timeout = text.length > 20 ? undefined : strtol(text);
      if (timeout === undefined || timeout === LONG_MAX || timeout === LONG_MIN) return session.replyError(timeoutInvalid);
      if (!engine.canDo(peer, frame.key(0), timeout > 0n ? Number(timeout) : 0)) session.replyError(tooManyFunctions);
      return;
    }
    case T.CANT_DO:
      return engine.cantDo(peer, frame.key(0));
    case T.RESET_ABILITIES:
      return engine.resetAbilities(peer);
    case T.SET_CLIENT_ID:
      return engine.setClientId(peer, frame.key(0));

    case T.WORK_DATA:
    case T.WORK_WARNING:
      return orError(session, engine.workData(peer, frame.key(0), frame.copy(1), frame.type === T.WORK_WARNING));
    case T.WORK_STATUS:
      // spec 1.6; measured as a C string (gearmand's "%.*s" copy stops at a NUL), forwarded whole.
      if (frame.fieldLength(2) > 11 && cString(frame.key(2)).length > 11) return session.replyError(denominatorInvalid);
      return orError(session, engine.workStatus(peer, frame.key(0), frame.copy(1), frame.copy(2)));
    case T.WORK_COMPLETE:
      return orError(session, engine.workComplete(peer, frame.key(0), frame.copy(1)));
    case T.WORK_FAIL: {
      const handle = frame.key(0);
      const err = engine.workFail(peer, handle);
      if (err === undefined) return;
      // gearmand looks the job up by the handle copied with "%.*s", which stops at the first
      // NUL (spec 1.6): a handle with a NUL and anything after it fails that job. Only an
      // unknown or long handle can have one, so the cut is made only then.
      const cut = cString(handle);
      return orError(session, cut === handle ? err : engine.workFail(peer, cut));
    }
    case T.WORK_EXCEPTION:
      return orError(session, engine.workException(peer, frame.key(0), frame.copy(1)));

    case T.GET_STATUS: {
      // gearmand copies the handle with "%.*s" and answers with that copy (spec 1.7).
      const found = lookUpCString(frame.key(0), 63, (handle) => engine.status(handle));
      if (found === undefined) return session.replyError(handleTooLong); // gearmand drops the connection
      const { key: handle, status: s } = found;
      return session.reply(
        encodePacket(T.STATUS_RES, [handle, s.known ? '1' : '0', s.running ? '1' : '0', String(s.numerator), String(s.denominator)]),
      );
    }
    case T.GET_STATUS_UNIQUE: {
      // A C string, as GET_STATUS's handle.
      const found = lookUpCString(frame.key(0), MAX_UNIQUE_BYTES, (unique) => engine.statusByUnique(unique));
      if (found === undefined) return session.replyError(uniqueTooLong); // gearmand drops the connection
      const { key: unique, status: s } = found;
      return session.reply(
        encodePacket(T.STATUS_RES_UNIQUE, [
          unique,
          s.known ? '1' : '0',
          s.running ? '1' : '0',
          String(s.numerator),
          String(s.denominator),
          String(s.clients),
        ]),
      );
    }
    case T.OPTION_REQ: {
      // Compared as a C string (gearmand copies it with "%.*s", which stops at the first NUL),
      // so whatever follows a NUL is ignored, however long it is (spec 1.7).
      // Only a 10-byte name can match: a long payload is never decoded.
      const raw = frame.args[0]!;
      const nul = raw.indexOf(0);
      const end = nul === -1 ? raw.length : nul;
      if (end === EXCEPTIONS.length && asciiLower(bytesToKey(raw.subarray(0, end))) === EXCEPTIONS) {
        session.exceptions = true;
        return session.reply(encodePacket(T.OPTION_RES, [raw]));
      }
      return session.replyError(unknownOption);
    }
    case T.ECHO_REQ:
      return session.reply(encodePacket(T.ECHO_RES, [frame.args[0]!]));

    default:
      // Response-only types, SUBMIT_JOB_SCHED and ALL_YOURS (spec 1.11).
      return session.replyError(notExpected);
  }
}

/**
 * Look up a handle or unique that gearmand reads as a C string (cut at its first NUL), at most
 * `maxLength` long. A key that is found as sent has no NUL (handles and uniques are stored
 * without one), so the cut and the second lookup happen only for an unknown or long key.
 * Undefined when even the cut key is too long.
 */
function lookUpCString<S extends { readonly known: boolean }>(
  key: string,
  maxLength: number,
  lookUp: (key: string) => S,
): { key: string; status: S } | undefined {
  const status = key.length <= maxLength ? lookUp(key) : undefined;
  if (status?.known) return { key, status };
  const cut = cString(key);
  if (cut.length > maxLength) return undefined;
  return { key: cut, status: cut === key ? status! : lookUp(cut) };
}

function orError(session: GearSession, err: EngineError | undefined): void {
  if (err !== undefined) session.replyError(err);
}

function replyAssignment(session: GearSession, grabType: number, job: Assignment): void {
  if (grabType === T.GRAB_JOB) return session.replyHandlePacket(T.JOB_ASSIGN, job, job.functionName, job.data);
  // GRAB_JOB_ALL answers JOB_ASSIGN_UNIQ unless the job has a reducer (spec 1.4).
  if (grabType === T.GRAB_JOB_ALL && job.reducer !== '') {
    return session.reply(encodePacket(T.JOB_ASSIGN_ALL, [job.handle, job.functionName, job.unique, job.reducer, job.data]));
  }
  return session.replyHandlePacket(T.JOB_ASSIGN_UNIQ, job, job.functionName, job.unique, job.data);
}

function submit(session: GearSession, frame: BinaryFrame): void {
  const type = frame.type;
  const [priority, background] = submitKinds[type]!;
  let when = 0;
  let reducer = '';
  let dataField = 2;
  if (type === T.SUBMIT_JOB_EPOCH) {
    // strtoll: out of range is refused (gearmand drops the connection); non-numeric text and
    // any time already past mean now (spec 1.5 step 2). Beyond 2^53 s no one waits anyway.
    const parsed = strtol(frame.key(2));
    if (parsed === undefined) return session.replyError(epochInvalid);
    when = parsed <= 0n ? 0 : Math.min(Number(parsed), Number.MAX_SAFE_INTEGER);
    dataField = 3;
  } else if (type === T.SUBMIT_REDUCE_JOB || type === T.SUBMIT_REDUCE_JOB_BACKGROUND) {
    reducer = frame.key(2); // field 3 is the unused aggregator
    dataField = 4;
  }
  const functionName = frame.keyOr(0, session.lastFunctionName);
  session.lastFunctionName = functionName;
  const result = session.ctx.engine.submit(background ? undefined : session.peer, {
    functionName,
    unique: frame.key(1),
    // Copied out of the receive buffer, which the next read overwrites.
    data: frame.copy(dataField),
    priority,
    background,
    when,
    reducer,
  });
  if (!result.ok) return session.replyError(result.error);
  if (result.durable === undefined) return session.replyHandlePacket(T.JOB_CREATED, result.job);
  // Background jobs are acknowledged only once stored (issue 5).
  session.replyCreatedWhenStored(result.durable, result.job);
}
