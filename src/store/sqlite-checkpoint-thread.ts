/**
 * The SQLite store's checkpoint thread (started by WalCheckpointer, sqlite-checkpointer.ts):
 * its own connection to the queue file, copying committed WAL frames into the database with
 * PASSIVE checkpoints, which never wait for and never block the main thread's writes.
 *
 * It sleeps in Atomics.wait until the main thread commits, asks for a catch-up or stops
 * (each counts on one shared word, so no wake-up is lost between a check and the wait), and paces its passes so their fsyncs do
 * not follow every commit. It answers a catch-up once a pass begun after it copied everything.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Slot, type CheckpointThreadData } from './sqlite-checkpointer.js';

const { file, synchronous, shared, minIntervalMs } = workerData as CheckpointThreadData;

const db = new Database(file, { timeout: 0 });
db.pragma(`synchronous = ${synchronous}`);

/**
 * One pass; true when it copied every frame committed before it began. False when the file
 * was locked (the main connection closing) or another checkpoint ran: try again later.
 */
function passiveCheckpoint(): boolean {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    return result !== undefined && result.busy === 0 && result.checkpointed === result.log;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return false;
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
    const pause = lastPass + minIntervalMs - Date.now();
    if (pause > 0) Atomics.wait(shared, Slot.CATCH_UP, requested, pause);
  }
  if (Atomics.load(shared, Slot.STOP) !== 0) break;
  const caughtUpTo = Atomics.load(shared, Slot.CATCH_UP);
  const copied = passiveCheckpoint();
  lastPass = Date.now();
  if (copied && caughtUpTo !== handled) {
    handled = caughtUpTo;
    parentPort!.postMessage(handled);
  }
  // Nothing committed, asked or stopped since this pass began (each counts a wake): sleep until one is.
  // After a locked pass, look again a little later even if nothing happens.
  Atomics.wait(shared, Slot.WAKES, wakes, copied ? undefined : 10 * minIntervalMs);
}
db.close();
