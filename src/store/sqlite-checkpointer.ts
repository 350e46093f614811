/**
 * Checkpoints of the SQLite store's WAL, off the event loop's thread.
 *
 * SQLite copies the WAL back into the database file every 1000 pages by default, inside the
 * commit that crosses the mark: that commit then takes 10-15 ms instead of under 1 (the copy and
 * two fsyncs), every such stall holds up every job in flight, and the copies were a third of
 * the store's time under a flood of background submits. Here the main connection never
 * checkpoints (wal_autocheckpoint=0); a thread with its own connection runs PASSIVE checkpoints,
 * which neither wait for nor block the main thread's commits (sqlite-checkpoint-thread.ts).
 *
 * A passive checkpoint only copies what was committed when it began, and SQLite starts the WAL
 * over only when a write begins with every frame copied, so under steady writes the WAL would
 * never start over. When it holds more than `walLimitBytes`, the store asks for a catch-up
 * before its next write: no commit happens meanwhile (the event loop goes on; the batch waits),
 * the thread copies the rest, and that write starts the WAL over. `journal_size_limit` then
 * cuts the file back, so the WAL on disk stays near the limit. A reader of an old snapshot
 * (another program's open transaction on the file) keeps frames from being copied and the WAL
 * from starting over: the thread then answers once it has copied what it may, and the WAL
 * grows past the limit until the reader is done, as it would with SQLite's own checkpoints.
 *
 * If the thread fails (cannot open the file, an I/O error), the main connection goes back to
 * SQLite's own checkpoints: slower, never wrong.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** The shared words between the store and its checkpoint thread. */
export const Slot = {
  /** Counts every reason to wake the thread: a commit, a catch-up request, the stop. */
  WAKES: 0,
  /** Catch-ups asked for; the thread answers each number it has caught up to with a message. */
  CATCH_UP: 1,
  /** Set to 1 to end the thread. */
  STOP: 2,
} as const;

export interface CheckpointThreadData {
  readonly file: string;
  /** The main connection's synchronous mode: a checkpoint syncs as that mode promises. */
  readonly synchronous: string;
  readonly shared: Int32Array;
}

/** Default of --sqlite-wal-limit. */
export const DEFAULT_WAL_LIMIT_BYTES = 64 * 1024 * 1024;

const THREAD_SCRIPT = new URL('./sqlite-checkpoint-thread.js', import.meta.url);

/** SQLite's own rhythm, for when there is no thread: a checkpoint every 1000 pages. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

export class WalCheckpointer {
  private readonly shared = new Int32Array(new SharedArrayBuffer(3 * 4));
  private readonly worker: Worker;
  private readonly walFile: string;
  /** The WAL file's size after the last commit. */
  private walBytes = 0;
  private failed = false;
  private readonly exited: Promise<void>;
  /** Callers waiting for a catch-up, with the number it was asked as. */
  private waiting: Array<{ upTo: number; resolve: () => void }> = [];

  /**
   * Start checkpointing `file`, whose main connection is `db`. `walLimitBytes` is the WAL size
   * at which writes wait for a catch-up; `timeoutMs` bounds that wait (then the write goes on).
   * `script` is the thread's code (tests give a broken one).
   */
  constructor(
    private readonly db: Database.Database,
    file: string,
    private readonly walLimitBytes: number,
    private readonly timeoutMs: number,
    private readonly onFailure: (error: Error) => void,
    script: URL = THREAD_SCRIPT,
  ) {
    this.walFile = `${file}-wal`;
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${walLimitBytes}`);
    const synchronous = String(db.pragma('synchronous', { simple: true }));
    const data: CheckpointThreadData = { file, synchronous, shared: this.shared };
    this.worker = new Worker(script, { workerData: data });
    this.worker.on('message', (upTo: number) => this.caughtUp(upTo));
    // After the 'message' listener: adding one refs the worker's port again, and the thread would keep the process alive.
    this.worker.unref();
    this.exited = new Promise((resolve) => {
      this.worker.once('error', (error) => this.fail(error));
      this.worker.once('exit', (code) => {
        this.fail(new Error(`the checkpoint thread ended (exit code ${code})`));
        resolve();
      });
    });
  }

  /** After each commit of the main connection. */
  committed(): void {
    // The file's size is the WAL's: each start-over cuts the file back to the limit
    // (journal_size_limit), so past the limit means that many bytes in use.
    // Never throws: the commit is done, and its jobs must be acknowledged whatever stat says.
    try {
      this.walBytes = statSync(this.walFile, { throwIfNoEntry: false })?.size ?? 0;
    } catch {
      this.walBytes = 0;
    }
    Atomics.add(this.shared, Slot.WAKES, 1);
    Atomics.notify(this.shared, Slot.WAKES);
  }

  /** True when the WAL has grown past the limit: wait for catchUp() before the next write. */
  get walFull(): boolean {
    return !this.failed && this.walBytes > this.walLimitBytes;
  }

  /**
   * Resolves once every frame committed so far is in the database file (all that readers of
   * older snapshots allow: while one is open the WAL cannot start over anyway), or after timeoutMs.
   */
  catchUp(): Promise<void> {
    if (this.failed) return Promise.resolve();
    const upTo = Atomics.add(this.shared, Slot.CATCH_UP, 1) + 1;
    this.wake();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w.resolve !== done);
        resolve();
      }, this.timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.push({ upTo, resolve: done });
    });
  }

  /** End the thread (before the main connection closes, so that close is the last checkpoint). */
  async stop(): Promise<void> {
    Atomics.store(this.shared, Slot.STOP, 1);
    this.wake();
    this.worker.ref(); // unref'd while it runs; its exit must keep the process alive until then
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(r, this.timeoutMs, false)))]);
    clearTimeout(timer);
    if (!stopped) await this.worker.terminate();
  }

  /** A catch-up or the stop: ends the thread's sleep, and its pause between passes too. */
  private wake(): void {
    Atomics.add(this.shared, Slot.WAKES, 1);
    Atomics.notify(this.shared, Slot.CATCH_UP);
    Atomics.notify(this.shared, Slot.WAKES);
  }

  private caughtUp(upTo: number): void {
    const ready = this.waiting.filter((w) => w.upTo <= upTo);
    this.waiting = this.waiting.filter((w) => w.upTo > upTo);
    for (const w of ready) w.resolve();
  }

  /** The thread is gone: SQLite checkpoints on the main connection again, and nobody waits for the thread. */
  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    if (Atomics.load(this.shared, Slot.STOP) === 0) {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
      this.onFailure(error);
    }
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.resolve();
  }
}
