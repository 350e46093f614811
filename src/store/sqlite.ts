/**
 * SQLite store: one file, WAL journal, group commit (one transaction per batch).
 *
 * Durability of an acknowledged add (an add resolves only after its COMMIT returned):
 * - synchronous=NORMAL (default): in WAL mode a commit is in the OS page cache when COMMIT
 *   returns, so it survives the process crashing or being killed (kill -9), but a power loss
 *   or kernel crash may lose the last commits. Fast: no fsync per commit.
 * - synchronous=FULL: the WAL is fsynced at every commit, so commits also survive power loss.
 * - synchronous=EXTRA: FULL plus a directory sync, for the paranoid.
 *
 * Schema version 2 (a meta table holds it, spec 7 B10 fixes are built in): every text column
 * that holds client bytes is a BLOB; empty data is a zero-length BLOB, never NULL; the reducer
 * is kept. Rows are numbered by the store, `seq` (the rowid), and replay in that order: a new
 * row gets one above every row in the table, so live rows replay in the order they were added.
 * Keys the store hands out (newKey) are their row's seq, a number, so adds and removes touch
 * one B-tree, the table's: the unique index on job_key of version 1 doubled the cost of an add
 * (4.1 against 2.3 µs, 200k rows of 100 bytes, 1,000 per transaction). Such a row's `job_key`
 * is NULL. Any other key (rows of a version 1 file, callers that make their own) is kept in
 * `job_key` and its seq in memory.
 * A version 1 file is migrated in place at open, in one transaction, keeping seq.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BatchedStore, type BatchedStoreOptions } from './batched-store.js';
import { DEFAULT_WAL_LIMIT_BYTES, WalCheckpointer } from './sqlite-checkpointer.js';
import { StoreError, StoreErrorCode, unavailable } from './errors.js';
import { JOB_COLUMNS, ROW_WIDTH, UPDATE_SEQ_ON_CONFLICT, jobFromRow, putRow } from './sql-rows.js';
import { checkSchemaVersion, checkTableName, integerOf, nameBytes } from './validate.js';
import { Priority, type StoreKey, type StoredJob } from './types.js';

export const SqliteSynchronous = { NORMAL: 'NORMAL', FULL: 'FULL', EXTRA: 'EXTRA' } as const;
export type SqliteSynchronous = (typeof SqliteSynchronous)[keyof typeof SqliteSynchronous];

export const SQLITE_SCHEMA_VERSION = 2;

export interface SqliteStoreOptions extends BatchedStoreOptions {
  file: string;
  /** gearmand's --libsqlite3-table; ours holds a different schema, so the default differs. */
  table?: string;
  synchronous?: SqliteSynchronous;
  /**
   * WAL size at which writes wait for the checkpoint thread to catch up (sqlite-checkpointer.ts).
   * 0: no thread, SQLite checkpoints inside commits every 1000 pages. Default 64 MiB.
   */
  walLimitBytes?: number;
  /** Told when the checkpoint thread fails (the store then checkpoints on its own thread). */
  onCheckpointFailure?: (error: Error) => void;
}

/**
 * Rows per multi-row INSERT: one statement step per 16 rows instead of per row cut the SQLite
 * cost of an add by a fifth to a third (200k rows, 1000 per transaction); more rows per
 * statement gained nothing more. 16 x 8 parameters is far below SQLite's limit (32766).
 */
const ROWS_PER_INSERT = 16;

/** Parameters per row: seq, then the shared columns (putRow). */
const SQLITE_ROW_WIDTH = 1 + ROW_WIDTH;

/**
 * A plain row: its key is its seq (job_key NULL), its unique and reducer are empty, as for
 * nearly every job the server stores. Its statement binds seq, function name, data, priority
 * and time, 5 parameters instead of 8: better-sqlite3's binding cost as much as SQLite's own
 * work per row (callgrind), and the key's string was converted to UTF-8 for every row.
 */
const PLAIN_ROW = "(?, NULL, ?, X'', ?, ?, ?, X'')";
const PLAIN_ROW_WIDTH = 5;
/**
 * A plain row of a normal-priority job to run now (most of them): its priority and time are
 * SQL literals too, 3 parameters. Every number bound is a double SQLite converts to an integer:
 * two fewer per row: pipelined durable submits 582-648k/s before, 631-649k/s after (3 interleaved runs).
 */
const NOW_ROW = `(?, NULL, ?, X'', ?, ${Priority.NORMAL}, 0, X'')`;
const NOW_ROW_WIDTH = 3;

/** Row shapes from the most to the least specific: 16 rows go by the least specific shape among them. */
const RowShape = { NOW: 0, PLAIN: 1, FULL: 2 } as const;
type RowShape = (typeof RowShape)[keyof typeof RowShape];

/** A number key is the row's own seq (newKey()); a string key is the caller's (job_key). */
function rowShape(job: StoredJob): RowShape {
  if (typeof job.key !== 'number' || job.unique.length !== 0 || job.reducer.length !== 0) return RowShape.FULL;
  return job.priority === Priority.NORMAL && job.when === 0 ? RowShape.NOW : RowShape.PLAIN;
}

function createJobsTable(jobs: string): string {
  return `CREATE TABLE ${jobs} (
      seq INTEGER PRIMARY KEY,
      job_key TEXT,
      function_name BLOB NOT NULL,
      unique_key BLOB NOT NULL,
      data BLOB NOT NULL,
      priority INTEGER NOT NULL,
      when_to_run INTEGER NOT NULL,
      reducer BLOB NOT NULL)`;
}

interface Statements {
  upsert: Database.Statement;
  upsertMany: Database.Statement;
  upsertPlainMany: Database.Statement;
  upsertNowMany: Database.Statement;
  remove: Database.Statement;
  writeBatch: Database.Transaction<(adds: StoredJob[], seqs: number[], removes: StoreKey[]) => void>;
}

export class SqliteStore extends BatchedStore {
  readonly name = 'sqlite';
  readonly file: string;
  readonly table: string;
  readonly synchronous: SqliteSynchronous;
  readonly walLimitBytes: number;
  private readonly onCheckpointFailure: (error: Error) => void;
  private db?: Database.Database;
  private checkpointer?: WalCheckpointer;
  private statements?: Statements;
  /** The seq of every stored job whose key is a string: committed rows only (updated after each COMMIT). */
  private readonly seqOf = new Map<string, number>();
  /** Above every seq in the table and every key handed out. */
  private nextSeq = 1;
  /** Each add's seq in the batch being written (reused). */
  private readonly batchSeqs: number[] = [];

  constructor(options: SqliteStoreOptions) {
    super(options);
    this.file = options.file;
    this.table = checkTableName(this.name, options.table ?? 'gearport_queue');
    this.synchronous = options.synchronous ?? SqliteSynchronous.NORMAL;
    if (!Object.values(SqliteSynchronous).includes(this.synchronous)) {
      throw new StoreError(StoreErrorCode.INVALID, this.name, `synchronous must be NORMAL, FULL or EXTRA, not ${String(this.synchronous)}`);
    }
    this.walLimitBytes = options.walLimitBytes ?? DEFAULT_WAL_LIMIT_BYTES;
    if (!Number.isSafeInteger(this.walLimitBytes) || this.walLimitBytes < 0) {
      throw new StoreError(StoreErrorCode.INVALID, this.name, `walLimitBytes must be a whole number of bytes, 0 or more, not ${String(options.walLimitBytes)}`);
    }
    this.onCheckpointFailure = options.onCheckpointFailure ?? (() => undefined);
  }

  /**
   * The next row's number: adding a job with this key needs no lookup, and the key is a number
   * (no string to make, keep and parse per job).
   */
  newKey(): number {
    // Before open the numbers above the table's rows are not known yet.
    if (!this.statements) throw new StoreError(StoreErrorCode.CLOSED, this.name, 'newKey() needs the store open');
    return this.nextSeq++;
  }

  protected override numberKeysBelow(): number {
    return this.nextSeq;
  }

  /** The open connection, for tests that need to reach under the store (e.g. to fill the disk). */
  get database(): Database.Database | undefined {
    return this.db;
  }

  protected async openBackend(): Promise<StoredJob[]> {
    const db = this.connect();
    this.db = db;
    const jobs = `"${this.table}"`;
    const meta = `"${this.table}_meta"`;
    db.transaction(() => this.checkOrCreateSchema(db, jobs, meta)).immediate();
    const row = `(${Array(SQLITE_ROW_WIDTH).fill('?').join(', ')})`;
    const columns = `seq, ${JOB_COLUMNS}`;
    const upsert = db.prepare(`INSERT INTO ${jobs} (${columns}) VALUES ${row} ${UPDATE_SEQ_ON_CONFLICT}`);
    const upsertMany = db.prepare(`INSERT INTO ${jobs} (${columns}) VALUES ${Array(ROWS_PER_INSERT).fill(row).join(', ')} ${UPDATE_SEQ_ON_CONFLICT}`);
    const upsertPlainMany = db.prepare(`INSERT INTO ${jobs} (${columns}) VALUES ${Array(ROWS_PER_INSERT).fill(PLAIN_ROW).join(', ')} ${UPDATE_SEQ_ON_CONFLICT}`);
    const upsertNowMany = db.prepare(`INSERT INTO ${jobs} (${columns}) VALUES ${Array(ROWS_PER_INSERT).fill(NOW_ROW).join(', ')} ${UPDATE_SEQ_ON_CONFLICT}`);
    const remove = db.prepare(`DELETE FROM ${jobs} WHERE seq = ?`);
    // Parameter arrays reused by every statement, emptied after each batch so they pin no workload.
    const many = new Array<unknown>(SQLITE_ROW_WIDTH * ROWS_PER_INSERT);
    const plain = new Array<unknown>(PLAIN_ROW_WIDTH * ROWS_PER_INSERT);
    const now = new Array<unknown>(NOW_ROW_WIDTH * ROWS_PER_INSERT);
    const one = new Array<unknown>(SQLITE_ROW_WIDTH);
    const seqOf = this.seqOf;
    /** One row at `values[at, at + SQLITE_ROW_WIDTH)`: a key that is its seq is stored as NULL. */
    const putFullRow = (values: unknown[], at: number, job: StoredJob, seq: number): void => {
      values[at] = seq;
      putRow(values, at + 1, job);
      if (typeof job.key === 'number') values[at + 1] = null;
    };
    /** Rows `i` to `i + ROWS_PER_INSERT` at `width` values each: seq, function name, data, and for a plain row priority and time. */
    const putPlainRows = (values: unknown[], width: number, adds: StoredJob[], seqs: number[], i: number): void => {
      for (let j = 0; j < ROWS_PER_INSERT; j++) {
        const job = adds[i + j]!;
        const at = j * width;
        values[at] = seqs[i + j];
        values[at + 1] = nameBytes(job.functionName);
        values[at + 2] = job.data;
        if (width === PLAIN_ROW_WIDTH) {
          values[at + 3] = job.priority;
          values[at + 4] = job.when;
        }
      }
    };
    const writeBatch = db.transaction((adds: StoredJob[], seqs: number[], removes: StoreKey[]) => {
      let i = 0;
      try {
        for (; i + ROWS_PER_INSERT <= adds.length; i += ROWS_PER_INSERT) {
          let shape: RowShape = RowShape.NOW;
          for (let j = 0; j < ROWS_PER_INSERT && shape !== RowShape.FULL; j++) shape = Math.max(shape, rowShape(adds[i + j]!)) as RowShape;
          // Spread, not the array: better-sqlite3 reads an array's items one property lookup at a
          // time, and arguments directly (200k adds: about a quarter less time per add).
          if (shape === RowShape.NOW) {
            putPlainRows(now, NOW_ROW_WIDTH, adds, seqs, i);
            upsertNowMany.run(...now);
          } else if (shape === RowShape.PLAIN) {
            putPlainRows(plain, PLAIN_ROW_WIDTH, adds, seqs, i);
            upsertPlainMany.run(...plain);
          } else {
            for (let j = 0; j < ROWS_PER_INSERT; j++) putFullRow(many, j * SQLITE_ROW_WIDTH, adds[i + j]!, seqs[i + j]!);
            upsertMany.run(...many);
          }
        }
        for (; i < adds.length; i++) {
          putFullRow(one, 0, adds[i]!, seqs[i]!);
          upsert.run(...one);
        }
      } finally {
        many.fill(undefined);
        plain.fill(undefined);
        now.fill(undefined);
        one.fill(undefined);
      }
      for (const key of removes) {
        const seq = typeof key === 'number' ? key : seqOf.get(key);
        if (seq !== undefined) remove.run(seq);
      }
    });
    this.statements = { upsert, upsertMany, upsertPlainMany, upsertNowMany, remove, writeBatch };
    const replayed = this.replay(db, jobs);
    if (this.walLimitBytes > 0) this.checkpointer = new WalCheckpointer(db, this.file, this.walLimitBytes, this.base.timeoutMs / 2, this.onCheckpointFailure);
    return replayed;
  }

  protected async writeBatch(adds: StoredJob[], removes: StoreKey[]): Promise<void> {
    // Past the WAL limit: no commit until the checkpoint thread has copied every frame, so that this one starts the WAL over.
    if (this.checkpointer?.walFull) await this.checkpointer.catchUp();
    const statements = this.statements;
    if (!statements) throw new StoreError(StoreErrorCode.CLOSED, this.name, 'the database is closed');
    const seqOf = this.seqOf;
    const seqs = this.batchSeqs;
    // A key of newKey() is its row; another stored key keeps its row (an upsert); a new one goes after every row.
    let next = this.nextSeq;
    let foreign = 0;
    for (let i = 0; i < adds.length; i++) {
      const key = adds[i]!.key;
      if (typeof key === 'number') seqs[i] = key;
      else {
        seqs[i] = seqOf.get(key) ?? next++;
        foreign++;
      }
    }
    seqs.length = adds.length;
    try {
      // Synchronous and short: with WAL + NORMAL a commit is a write() to the WAL, no fsync (and no checkpoint: the thread's).
      statements.writeBatch.immediate(adds, seqs, removes);
    } catch (error) {
      throw unavailable(this.name, `cannot write to ${this.file}`, error);
    }
    this.checkpointer?.committed();
    // Committed: only now do the keys' rows change in memory (a failed write changed nothing).
    this.nextSeq = next;
    if (foreign > 0) {
      for (let i = 0; i < adds.length; i++) {
        const key = adds[i]!.key;
        if (typeof key === 'string') seqOf.set(key, seqs[i]!);
      }
    }
    if (seqOf.size > 0) for (const key of removes) if (typeof key === 'string') seqOf.delete(key);
  }

  protected async closeBackend(): Promise<void> {
    this.statements = undefined;
    // The thread first: the main connection's close is then the last one, which checkpoints and removes the WAL.
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
    const db = this.db;
    this.db = undefined;
    if (db?.open) db.close();
  }

  private connect(): Database.Database {
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const db = new Database(this.file, { timeout: this.base.timeoutMs });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.synchronous}`);
      return db;
    } catch (error) {
      throw unavailable(this.name, `cannot open ${this.file}`, error);
    }
  }

  private checkOrCreateSchema(db: Database.Database, jobs: string, meta: string): void {
    const exists = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)`).pluck().all(this.table, `${this.table}_meta`);
    if (exists.includes(`${this.table}_meta`)) {
      const stored = db.prepare(`SELECT value FROM ${meta} WHERE name = 'schema_version'`).pluck().get();
      checkSchemaVersion(this.name, stored, SQLITE_SCHEMA_VERSION, `${this.file}: table ${this.table}`, `${this.table}_meta`);
      if (!exists.includes(this.table)) {
        throw new StoreError(StoreErrorCode.CORRUPT, this.name, `${this.file}: table ${this.table}_meta exists but table ${this.table} is missing`);
      }
      if (integerOf(stored) === 1) this.migrateFromVersion1(db, jobs, meta);
      return;
    }
    if (exists.includes(this.table)) {
      throw new StoreError(
        StoreErrorCode.SCHEMA_UNSUPPORTED,
        this.name,
        `${this.file}: table ${this.table} exists but has no ${this.table}_meta schema version (a gearmand queue table?); choose another table name`,
      );
    }
    db.exec(`CREATE TABLE ${meta} (name TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    db.exec(createJobsTable(jobs));
    db.prepare(`INSERT INTO ${meta} (name, value) VALUES ('schema_version', ?)`).run(String(SQLITE_SCHEMA_VERSION));
  }

  /**
   * Version 1 kept a unique index on job_key (and, in files made before 2026-11-30, an
   * AUTOINCREMENT seq). SQLite cannot drop either in place, so the rows are copied, in seq
   * order and keeping seq, into a version 2 table that then takes the old one's name.
   */
  private migrateFromVersion1(db: Database.Database, jobs: string, meta: string): void {
    const staging = `${this.table}_v2`;
    const taken = db.prepare(`SELECT name FROM sqlite_master WHERE name = ?`).pluck().get(staging);
    if (taken !== undefined) {
      throw new StoreError(StoreErrorCode.CORRUPT, this.name, `${this.file}: cannot upgrade table ${this.table} to schema version 2: table ${staging} is in the way`);
    }
    db.exec(createJobsTable(`"${staging}"`));
    db.exec(`INSERT INTO "${staging}" (seq, ${JOB_COLUMNS}) SELECT seq, ${JOB_COLUMNS} FROM ${jobs} ORDER BY seq`);
    db.exec(`DROP TABLE ${jobs}`);
    db.exec(`ALTER TABLE "${staging}" RENAME TO ${jobs}`);
    db.prepare(`UPDATE ${meta} SET value = ? WHERE name = 'schema_version'`).run(String(SQLITE_SCHEMA_VERSION));
  }

  private replay(db: Database.Database, jobs: string): StoredJob[] {
    const rows = db
      .prepare(`SELECT seq, ${JOB_COLUMNS} FROM ${jobs} ORDER BY seq`)
      .all() as Array<Record<string, unknown>>;
    // A NULL job_key is a key that is its row's seq (newKey()).
    for (const row of rows) row.job_key ??= row.seq;
    const replayed = rows.map((row) => jobFromRow(this.name, this.table, row, this.file));
    this.seqOf.clear();
    for (let i = 0; i < rows.length; i++) {
      const key = replayed[i]!.key;
      const seq = rows[i]!.seq as number;
      if (typeof key === 'number') continue;
      if (this.seqOf.has(key)) {
        throw new StoreError(StoreErrorCode.CORRUPT, this.name, `${this.file}: rows seq=${this.seqOf.get(key)} and seq=${seq} of ${this.table} share job_key ${JSON.stringify(key)}; delete one, then start again`);
      }
      this.seqOf.set(key, seq);
    }
    this.nextSeq = rows.length > 0 ? (rows[rows.length - 1]!.seq as number) + 1 : 1;
    return replayed;
  }
}
