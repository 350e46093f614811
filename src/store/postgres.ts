/**
 * PostgreSQL store: a pg Pool, group commit (a batch is one statement when it fits, otherwise one
 * transaction), schema version in a meta table. COMMIT returns once the server made the batch
 * durable (synchronous_commit defaults to on), and only then do the adds resolve.
 *
 * Schema version 1 differs from gearmand's `queue` table on purpose (spec 7 B10): rows are keyed
 * by the engine's job key (no (unique, function) collisions), bytes columns are BYTEA sent and
 * read in binary-safe form, priority and when are typed integers, the reducer is kept, and
 * `seq` (BIGSERIAL) gives the replay order across restarts.
 */
import pg from 'pg';
import { BatchedStore, type BatchedStoreOptions } from './batched-store.js';
import { conninfoToPoolConfig } from './conninfo.js';
import { StoreError, StoreErrorCode, unavailable } from './errors.js';
import { JOB_COLUMNS, UPDATE_ON_CONFLICT, jobFromRow, putRow } from './sql-rows.js';
import { checkSchemaVersion, checkTableName } from './validate.js';
import type { StoreKey, StoredJob } from './types.js';

export const POSTGRES_SCHEMA_VERSION = 1;

export interface PostgresStoreOptions extends BatchedStoreOptions {
  /** libpq connection string (URI or keyword=value); empty = PG* environment variables. */
  conninfo?: string;
  /** gearmand's --libpq-table; ours holds a different schema, so the default differs. */
  table?: string;
  /** Shown in pg_stat_activity; lets an operator find (or a test terminate) our sessions. */
  applicationName?: string;
  poolSize?: number;
}

/** node-postgres sends at most 65535 parameters per statement; 7 per row. */
const ROWS_PER_INSERT = 1000;

export class PostgresStore extends BatchedStore {
  readonly name = 'postgres';
  readonly table: string;
  private readonly pool: pg.Pool;
  private readonly jobsTable: string;
  private readonly metaTable: string;
  private poolEnded = false;

  constructor(options: PostgresStoreOptions) {
    super(options);
    this.table = checkTableName(this.name, options.table ?? 'gearport_queue');
    this.jobsTable = `"${this.table}"`;
    this.metaTable = `"${this.table}_meta"`;
    let fromConninfo: pg.PoolConfig;
    try {
      fromConninfo = conninfoToPoolConfig(options.conninfo ?? '');
    } catch (error) {
      throw new StoreError(StoreErrorCode.INVALID, this.name, `bad conninfo: ${(error as Error).message}`, { cause: error });
    }
    this.pool = new pg.Pool({
      ...fromConninfo,
      application_name: options.applicationName ?? fromConninfo.application_name ?? 'gearport',
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: Math.min(fromConninfo.connectionTimeoutMillis ?? Infinity, options.timeoutMs),
      idleTimeoutMillis: 10_000,
      keepAlive: true,
    });
    // An idle connection died (server restart, pg_terminate_backend): the pool drops it and
    // connects again on next use. Only an outage if the server does not answer a probe.
    this.pool.on('error', (error) => {
      this.withTimeout('probe', this.probe())
        .then(() => undefined)
        .catch(() => this.reportHealth(false, unavailable(this.name, 'connection lost', error)));
    });
  }

  protected async openBackend(): Promise<StoredJob[]> {
    await this.inTransaction(async (client) => {
      // Two servers opening the same table at once must not both create it.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`gearport-store:${this.table}`]);
      await this.checkOrCreateSchema(client);
    });
    return this.replay();
  }

  protected async writeBatch(adds: StoredJob[], removes: StoreKey[]): Promise<void> {
    const statements = this.batchStatements(adds, removes);
    await this.withClient(async (client) => {
      if (statements.length === 1) {
        await client.query(statements[0]!);
        return;
      }
      await client.query('BEGIN');
      for (const statement of statements) await client.query(statement);
      await client.query('COMMIT');
    });
  }

  protected override async probe(): Promise<void> {
    await this.withClient((client) => client.query('SELECT 1'));
  }

  protected async closeBackend(): Promise<void> {
    if (this.poolEnded) return;
    this.poolEnded = true;
    await this.pool.end();
  }

  /** One statement when the batch fits (atomic by itself, one round trip), else several. */
  private batchStatements(adds: StoredJob[], removes: StoreKey[]): pg.QueryConfig[] {
    const removeSql = `DELETE FROM ${this.jobsTable} WHERE job_key = ANY($1::text[])`;
    if (removes.length > 0 && adds.length > 0 && adds.length <= ROWS_PER_INSERT) {
      // adds and removes never share a key (group-commit.ts), so one snapshot is enough.
      const insert = this.upsert(adds, 1);
      return [{ text: `WITH removed AS (${removeSql}) ${insert.text}`, values: [removes, ...(insert.values ?? [])] }];
    }
    const statements: pg.QueryConfig[] = [];
    for (let start = 0; start < adds.length; start += ROWS_PER_INSERT) {
      statements.push(this.upsert(adds.slice(start, start + ROWS_PER_INSERT), 0));
    }
    if (removes.length > 0) statements.push({ text: removeSql, values: [removes] });
    return statements;
  }

  private upsert(jobs: StoredJob[], firstParam: number): pg.QueryConfig {
    const values: unknown[] = [];
    const rows: string[] = [];
    for (const job of jobs) {
      const at = firstParam + values.length;
      rows.push(`($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6}, $${at + 7})`);
      putRow(values, values.length, job);
    }
    return { text: `INSERT INTO ${this.jobsTable} (${JOB_COLUMNS}) VALUES ${rows.join(', ')} ${UPDATE_ON_CONFLICT}`, values };
  }

  private async checkOrCreateSchema(client: pg.PoolClient): Promise<void> {
    const found = await client.query<{ meta: boolean; jobs: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS meta, to_regclass($2) IS NOT NULL AS jobs',
      [this.metaTable, this.jobsTable],
    );
    const { meta, jobs } = found.rows[0]!;
    if (meta) {
      const stored = await client.query<{ value: string }>(`SELECT value FROM ${this.metaTable} WHERE name = 'schema_version'`);
      checkSchemaVersion(this.name, stored.rows[0]?.value, POSTGRES_SCHEMA_VERSION, `table ${this.table}`, `${this.table}_meta`);
      if (!jobs) throw new StoreError(StoreErrorCode.CORRUPT, this.name, `table ${this.table}_meta exists but table ${this.table} is missing`);
      return;
    }
    if (jobs) {
      throw new StoreError(
        StoreErrorCode.SCHEMA_UNSUPPORTED,
        this.name,
        `table ${this.table} exists but has no ${this.table}_meta schema version (a gearmand queue table?); choose another table name`,
      );
    }
    await client.query(`CREATE TABLE ${this.metaTable} (name TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    await client.query(`CREATE TABLE ${this.jobsTable} (
      seq BIGSERIAL PRIMARY KEY,
      job_key TEXT NOT NULL UNIQUE,
      function_name BYTEA NOT NULL,
      unique_key BYTEA NOT NULL,
      data BYTEA NOT NULL,
      priority SMALLINT NOT NULL,
      when_to_run BIGINT NOT NULL,
      reducer BYTEA NOT NULL)`);
    await client.query(`INSERT INTO ${this.metaTable} (name, value) VALUES ('schema_version', $1)`, [String(POSTGRES_SCHEMA_VERSION)]);
  }

  private async replay(): Promise<StoredJob[]> {
    const result = await this.withClient((client) =>
      client.query<Record<string, unknown>>(`SELECT seq, ${JOB_COLUMNS} FROM ${this.jobsTable} ORDER BY seq`),
    );
    return result.rows.map((row) => jobFromRow(this.name, this.table, row));
  }

  private async inTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.withClient(async (client) => {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    });
  }

  /**
   * Run `work` on a pooled connection, bounded by timeoutMs: a connection that stops answering
   * is destroyed (which fails the pending query), never waited on forever. A connection that
   * saw any error is destroyed too, so no half-done transaction goes back to the pool.
   */
  private async withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const timeoutMs = this.base.timeoutMs;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(this.name, 'cannot connect', error);
    }
    let released = false;
    let timedOut = false;
    // pg emits 'error' on a checked-out client whose connection dies; unhandled, that would
    // crash the process. The pending query fails too, which is how the caller learns of it.
    const ignoreConnectionError = (): void => {};
    client.on('error', ignoreConnectionError);
    const release = (error?: Error): void => {
      if (released) return;
      released = true;
      // A destroyed client keeps the listener: it may still report its socket closing.
      if (!error) client.off('error', ignoreConnectionError);
      client.release(error ?? false);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      release(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      const result = await work(client);
      release();
      return result;
    } catch (error) {
      release(error instanceof Error ? error : new Error(String(error)));
      if (error instanceof StoreError) throw error;
      throw unavailable(this.name, timedOut ? `no answer within ${timeoutMs} ms` : 'query failed', error);
    } finally {
      clearTimeout(timer);
    }
  }
}
