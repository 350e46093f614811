/**
 * Durable background jobs (issue 5): pick a store by type. gearmand's `-q/--queue-type` names
 * map onto ours with `storeTypeFromQueueType` (spec 4.1).
 */
import { StoreError, StoreErrorCode } from './errors.js';
import { MemoryStore } from './memory.js';
import { PostgresStore } from './postgres.js';
import { RedisStore } from './redis.js';
import { SqliteStore, type SqliteSynchronous } from './sqlite.js';
import type { JobStore, StoreStats } from './types.js';

export * from './types.js';
export { StoreError, StoreErrorCode, isStoreError } from './errors.js';
export { MemoryStore } from './memory.js';
export { SqliteStore, SqliteSynchronous, SQLITE_SCHEMA_VERSION } from './sqlite.js';
export { PostgresStore, POSTGRES_SCHEMA_VERSION } from './postgres.js';
export { RedisStore, REDIS_SCHEMA_VERSION } from './redis.js';
export { conninfoToPoolConfig } from './conninfo.js';

export const StoreType = { MEMORY: 'memory', SQLITE: 'sqlite', POSTGRES: 'postgres', REDIS: 'redis' } as const;
export type StoreType = (typeof StoreType)[keyof typeof StoreType];

/** Bound on every wait for a backend, unless told otherwise. */
export const DEFAULT_STORE_TIMEOUT_MS = 5000;

export interface StoreOptions {
  type: StoreType;
  sqlite?: {
    /** The database file (its directory is created if missing). */
    file: string;
    /** Default 'gearport_queue' (plus '<table>_meta'). */
    table?: string;
    /** Default NORMAL: survives kill -9 / process crash; FULL also survives power loss. */
    synchronous?: SqliteSynchronous;
    /** WAL size at which writes wait for the checkpoint thread; 0 = checkpoints inside commits. Default 64 MiB. */
    walLimitBytes?: number;
    onCheckpointFailure?: (error: Error) => void;
  };
  postgres?: {
    /** libpq connection string, URI or keyword=value (gearmand's --libpq-conninfo); empty = PG* env. */
    conninfo?: string;
    /** Default 'gearport_queue' (plus '<table>_meta'). */
    table?: string;
    /** Default 'gearport'. */
    applicationName?: string;
    /** Default 4. */
    poolSize?: number;
  };
  redis?: {
    /** Default 127.0.0.1. */
    host?: string;
    /** Default 6379. */
    port?: number;
    /** A Redis 6 ACL user; default none (the `default` user, AUTH with the password alone). */
    username?: string;
    password?: string;
    db?: number;
    /** Default 'gearport:'. */
    keyPrefix?: string;
  };
  /** Bound on every wait (connect, commit, replay). Default 5000 ms. */
  timeoutMs?: number;
  /** Extra time to gather adds/removes into one transaction. Default 0 (the current tick). */
  batchWindowMs?: number;
}

/** A store with its counters and health always present. */
export type ObservableJobStore = JobStore & {
  readonly stats: StoreStats;
  onHealthChange: NonNullable<JobStore['onHealthChange']>;
};

export function createStore(options: StoreOptions): ObservableJobStore {
  const timeoutMs = options.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new StoreError(StoreErrorCode.INVALID, options.type, `timeoutMs must be a positive number, not ${String(options.timeoutMs)}`);
  }
  const common = { timeoutMs, batchWindowMs: options.batchWindowMs };
  switch (options.type) {
    case StoreType.MEMORY:
      return new MemoryStore();
    case StoreType.SQLITE:
      if (!options.sqlite?.file) throw new StoreError(StoreErrorCode.INVALID, 'sqlite', 'a database file is required (gearmand: --libsqlite3-db)');
      return new SqliteStore({ ...common, ...options.sqlite });
    case StoreType.POSTGRES:
      return new PostgresStore({ ...common, ...options.postgres });
    case StoreType.REDIS:
      return new RedisStore({ ...common, ...options.redis });
    default:
      throw new StoreError(StoreErrorCode.INVALID, String((options as { type: unknown }).type), 'unknown store type (memory, sqlite, postgres, redis)');
  }
}

/**
 * gearmand's queue-type names, matched ignoring case as gearmand does (spec 4.1). `libpq` is
 * what gearmand's docs say (the code only knows `postgres`); accepting both costs nothing.
 * Returns undefined for a name we do not support (mysql, libmemcached, ...).
 */
export function storeTypeFromQueueType(queueType: string): StoreType | undefined {
  const names: Record<string, StoreType> = {
    builtin: StoreType.MEMORY,
    memory: StoreType.MEMORY,
    none: StoreType.MEMORY,
    libsqlite3: StoreType.SQLITE,
    sqlite: StoreType.SQLITE,
    sqlite3: StoreType.SQLITE,
    postgres: StoreType.POSTGRES,
    postgresql: StoreType.POSTGRES,
    libpq: StoreType.POSTGRES,
    redis: StoreType.REDIS,
  };
  return names[queueType.toLowerCase()];
}
