/** Which Gearman packets each right guards (client-certificate rights, src/security/cert-rights.ts). */
import type { EngineError } from '../engine/types.js';
import { PacketType as T } from '../protocol/packets.js';
import type { PeerRights } from './cert-rights.js';

const registerTypes: ReadonlySet<number> = new Set([T.CAN_DO, T.CAN_DO_TIMEOUT]);
const submitTypes: ReadonlySet<number> = new Set([
  T.SUBMIT_JOB,
  T.SUBMIT_JOB_BG,
  T.SUBMIT_JOB_HIGH,
  T.SUBMIT_JOB_HIGH_BG,
  T.SUBMIT_JOB_LOW,
  T.SUBMIT_JOB_LOW_BG,
  T.SUBMIT_JOB_EPOCH,
  T.SUBMIT_JOB_SCHED,
  T.SUBMIT_REDUCE_JOB,
  T.SUBMIT_REDUCE_JOB_BACKGROUND,
]);

const registerDenied: EngineError = { code: 'PERMISSION_DENIED', text: 'This client certificate may not register functions' };
const submitDenied: EngineError = { code: 'PERMISSION_DENIED', text: 'This client certificate may not submit jobs' };

/**
 * The ERROR to answer instead of running a packet the connection has no right to, or
 * undefined. The connection stays open, as for other refused packets (spec 1.11).
 * Work results need a job, and a job needs a CAN_DO, so guarding CAN_DO guards them too.
 */
export function deniedByRights(type: number, rights: PeerRights): EngineError | undefined {
  if (!rights.register && registerTypes.has(type)) return registerDenied;
  if (!rights.submit && submitTypes.has(type)) return submitDenied;
  return undefined;
}
