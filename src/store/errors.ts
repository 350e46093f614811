/**
 * One error class for every store failure, with a stable code callers branch on (never on the
 * message text). The engine turns STORE_UNAVAILABLE into gearmand's ERROR QUEUE_ERROR (spec 4.1:
 * "If the add fails, the job is destroyed and the client gets ERROR QUEUE_ERROR").
 */
export const StoreErrorCode = {
  /** The backend failed, timed out or is unreachable; the operation was not (known to be) stored. */
  UNAVAILABLE: 'STORE_UNAVAILABLE',
  /** The stored schema version is newer than this code understands, or the table is not ours. */
  SCHEMA_UNSUPPORTED: 'STORE_SCHEMA_UNSUPPORTED',
  /** A stored row cannot be read back as a job. */
  CORRUPT: 'STORE_CORRUPT',
  /** The job or the options given to the store are invalid. */
  INVALID: 'STORE_INVALID',
  /** The store was closed (or never opened). */
  CLOSED: 'STORE_CLOSED',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** Which store raised it: 'memory', 'sqlite', 'postgres', 'redis'. */
  readonly store: string;
  constructor(code: StoreErrorCode, store: string, message: string, options?: { cause?: unknown }) {
    super(`${store} store: ${message}`, options);
    this.name = 'StoreError';
    this.code = code;
    this.store = store;
  }
}

/** Wrap a backend failure as STORE_UNAVAILABLE, keeping the original as `cause`. */
export function unavailable(store: string, what: string, cause: unknown): StoreError {
  if (cause instanceof StoreError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StoreError(StoreErrorCode.UNAVAILABLE, store, `${what}: ${reason}`, { cause });
}

export function isStoreError(value: unknown, code?: StoreErrorCode): value is StoreError {
  return value instanceof StoreError && (code === undefined || value.code === code);
}
