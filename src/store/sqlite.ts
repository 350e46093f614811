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
 * Schema version 1 (a meta table holds it, spec 7 B10 fixes are built in): rows are keyed by
 * the engine's job key, never by (unique, function), so empty and '-' uniques never collide;
 * every text column that holds client bytes is a BLOB; empty data is a zero-length BLOB, never
 * NULL; the reducer is kept; `seq`, the rowid, gives the replay order. A new row's rowid is
 * above every row's in the table, so the live rows replay in the order they were added.
 * Files made before 2026-11-30 declare `seq` AUTOINCREMENT (never reused); they are read and
 * written the same way, and new files leave it out: it made SQLite update its sqlite_sequence
 * row at every insert, for an order the rowid already keeps.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BatchedStore, type BatchedStoreOptions } from './batched-store.js';
import { StoreError, StoreErrorCode, unavailable } from './errors.js';
import { JOB_COLUMNS, ROW_WIDTH, UPDATE_ON_CONFLICT, jobFromRow, putRow } from './sql-rows.js';
import { checkSchemaVersion, checkTableName } from './validate.js';
import type { StoredJob } from './types.js';

export const SqliteSynchronous = { NORMAL: 'NORMAL', FULL: 'FULL', EXTRA: 'EXTRA' } as const;
export type SqliteSynchronous = (typeof SqliteSynchronous)[keyof typeof SqliteSynchronous];

export const SQLITE_SCHEMA_VERSION = 1;

export interface SqliteStoreOptions extends BatchedStoreOptions {
  file: string;
  /** gearmand's --libsqlite3-table; ours holds a different schema, so the default differs. */
  table?: string;
  synchronous?: SqliteSynchronous;
}

/**
 * Rows per multi-row INSERT: one statement step per 16 rows instead of per row cut the SQLite
 * cost of an add by a fifth to a third (200k rows, 1000 per transaction); more rows per
 * statement gained nothing more. 16 x 7 parameters is far below SQLite's limit (32766).
 */
const ROWS_PER_INSERT = 16;

interface Statements {
  upsert: Database.Statement;
  upsertMany: Database.Statement;
  remove: Database.Statement;
  writeBatch: Database.Transaction<(adds: StoredJob[], removes: string[]) => void>;
}

export class SqliteStore extends BatchedStore {
  readonly name = 'sqlite';
  readonly file: string;
  readonly table: string;
  readonly synchronous: SqliteSynchronous;
  private db?: Database.Database;
  private statements?: Statements;

  constructor(options: SqliteStoreOptions) {
    super(options);
    this.file = options.file;
    this.table = checkTableName(this.name, options.table ?? 'gearport_queue');
    this.synchronous = options.synchronous ?? SqliteSynchronous.NORMAL;
    if (!Object.values(SqliteSynchronous).includes(this.synchronous)) {
      throw new StoreError(StoreErrorCode.INVALID, this.name, `synchronous must be NORMAL, FULL or EXTRA, not ${String(this.synchronous)}`);
    }
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
    const row = '(?, ?, ?, ?, ?, ?, ?)';
    const upsert = db.prepare(`INSERT INTO ${jobs} (${JOB_COLUMNS}) VALUES ${row} ${UPDATE_ON_CONFLICT}`);
    const upsertMany = db.prepare(`INSERT INTO ${jobs} (${JOB_COLUMNS}) VALUES ${Array(ROWS_PER_INSERT).fill(row).join(', ')} ${UPDATE_ON_CONFLICT}`);
    const remove = db.prepare(`DELETE FROM ${jobs} WHERE job_key = ?`);
    // Parameter arrays reused by every statement, emptied after each batch so they pin no workload.
    const many = new Array<unknown>(ROW_WIDTH * ROWS_PER_INSERT);
    const one = new Array<unknown>(ROW_WIDTH);
    const writeBatch = db.transaction((adds: StoredJob[], removes: string[]) => {
      // Rows go in in order (a multi-row INSERT inserts its rows in order), so seq keeps the order of adds.
      let i = 0;
      try {
        for (; i + ROWS_PER_INSERT <= adds.length; i += ROWS_PER_INSERT) {
          for (let j = 0; j < ROWS_PER_INSERT; j++) putRow(many, j * ROW_WIDTH, adds[i + j]!);
          upsertMany.run(many);
        }
        for (; i < adds.length; i++) {
          putRow(one, 0, adds[i]!);
          upsert.run(one);
        }
      } finally {
        many.fill(undefined);
        one.fill(undefined);
      }
      for (const key of removes) remove.run(key);
    });
    this.statements = { upsert, upsertMany, remove, writeBatch };
    return this.replay(db, jobs);
  }

  protected async writeBatch(adds: StoredJob[], removes: string[]): Promise<void> {
    const statements = this.statements;
    if (!statements) throw new StoreError(StoreErrorCode.CLOSED, this.name, 'the database is closed');
    try {
      // Synchronous and short: with WAL + NORMAL a commit is a write() to the WAL, no fsync.
      statements.writeBatch.immediate(adds, removes);
    } catch (error) {
      throw unavailable(this.name, `cannot write to ${this.file}`, error);
    }
  }

  protected async closeBackend(): Promise<void> {
    this.statements = undefined;
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
    db.exec(`CREATE TABLE ${jobs} (
      seq INTEGER PRIMARY KEY,
      job_key TEXT NOT NULL UNIQUE,
      function_name BLOB NOT NULL,
      unique_key BLOB NOT NULL,
      data BLOB NOT NULL,
      priority INTEGER NOT NULL,
      when_to_run INTEGER NOT NULL,
      reducer BLOB NOT NULL)`);
    db.prepare(`INSERT INTO ${meta} (name, value) VALUES ('schema_version', ?)`).run(String(SQLITE_SCHEMA_VERSION));
  }

  private replay(db: Database.Database, jobs: string): StoredJob[] {
    const rows = db
      .prepare(`SELECT seq, ${JOB_COLUMNS} FROM ${jobs} ORDER BY seq`)
      .all() as Array<Record<string, unknown>>;
    return rows.map((row) => jobFromRow(this.name, this.table, row, this.file));
  }
}
