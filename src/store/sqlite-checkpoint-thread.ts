/**
 * The SQLite store's checkpoint thread (started by WalCheckpointer, sqlite-checkpointer.ts):
 * its own connection to the queue file, copying committed WAL frames into the database with
 * PASSIVE checkpoints, which never wait for and never block the main thread's writes.
 *
 * It sleeps in Atomics.wait until the main thread commits, asks for a catch-up or stops
 * (each counts on one shared word, so no wake-up is lost between a check and the wait), and paces its passes so their fsyncs do
 * not follow every commit. It answers a catch-up once a pass begun after it copied everything,
 * or everything that readers of older snapshots allow: while one of those is open (another
 * program's transaction on the file), no write can start the WAL over, so waiting for it
 * would only hold the store's writes back (to the catch-up's timeout, every batch).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Slot, type CheckpointThreadData } from './sqlite-checkpointer.js';

const { file, synchronous, shared } = workerData as CheckpointThreadData;

/** Least time between two passes: each with frames to copy syncs the WAL and the file. */
const MIN_INTERVAL_MS = 5;

// fileMustExist: should the file be gone, fail (and hand checkpoints back) rather than checkpoint a new empty one.
const db = new Database(file, { timeout: 0, fileMustExist: true });
db.pragma(`synchronous = ${synchronous}`);

/**
 * One pass: 'copied' when it copied every frame committed before it began; 'readers' when
 * readers of older snapshots kept some frames back (SQLite reports no error then: fewer frames
 * checkpointed than in the log); 'busy' when the file was locked (the main connection closing)
 * or another checkpoint ran. Try again later unless 'copied'.
 */
function passiveCheckpoint(): 'copied' | 'readers' | 'busy' {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (result === undefined || result.busy !== 0) return 'busy';
    return result.checkpointed === result.log ? 'copied' : 'readers';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // Extended codes too (SQLITE_BUSY_RECOVERY, SQLITE_LOCKED_SHAREDCACHE ...): all mean "later".
    if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) return 'busy';
    throw error; // the thread ends with it, and the store checkpoints on its own thread again
  }
}

// From 0, not from the current count: a catch-up asked while the thread was starting is answered too.
let handled = 0;
let lastPass = 0;
for (;;) {
  if (Atomics.load(shared, Slot.STOP) !== 0) break;
  const wakes = Atomics.load(shared, Slot.WAKES);
  const requested = Atomics.load(shared, Slot.CATCH_UP);
  if (requested === handled) {
    // Pace passes (a pass with frames to copy syncs the WAL and the file); a catch-up or a stop cuts the pause short.
    const pause = lastPass + MIN_INTERVAL_MS - Date.now();
    if (pause > 0) Atomics.wait(shared, Slot.CATCH_UP, requested, pause);
  }
  if (Atomics.load(shared, Slot.STOP) !== 0) break;
  const caughtUpTo = Atomics.load(shared, Slot.CATCH_UP);
  const pass = passiveCheckpoint();
  lastPass = Date.now();
  if (pass !== 'busy' && caughtUpTo !== handled) {
    handled = caughtUpTo;
    parentPort!.postMessage(handled);
  }
  // Nothing committed, asked or stopped since this pass began (each counts a wake): sleep until one is.
  // After a locked pass or one held back by readers, look again a little later even if nothing happens.
  Atomics.wait(shared, Slot.WAKES, wakes, pass === 'copied' ? undefined : 10 * MIN_INTERVAL_MS);
}
db.close();
