/**
 * One error class per condition, each with a stable `code` to branch on (never the message).
 * Errors that come from the job server keep its own code in `serverCode`.
 */
export const ErrorCode = {
  /** The worker sent WORK_FAIL (or the server failed the job: retries exhausted, `cancel job`). */
  JOB_FAILED: 'JOB_FAILED',
  /** The worker sent WORK_EXCEPTION; its payload is in `data`. */
  JOB_EXCEPTION: 'JOB_EXCEPTION',
  /** The server answered a request with an ERROR packet (`serverCode`, e.g. QUEUE_ERROR). */
  SERVER_ERROR: 'SERVER_ERROR',
  /** An admin command answered `ERR ...` (`serverCode`, e.g. UNKNOWN_JOB). */
  ADMIN_ERROR: 'ADMIN_ERROR',
  /** The call's `timeoutMs` elapsed. */
  TIMEOUT: 'TIMEOUT',
  /** The call's AbortSignal fired. */
  ABORTED: 'ABORTED',
  /** The connection closed while the call waited for the server. */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** No configured server accepted a connection in time. */
  NO_SERVER_AVAILABLE: 'NO_SERVER_AVAILABLE',
  /** The client, worker or admin was closed. */
  CLOSED: 'CLOSED',
  /** The server sent bytes that are not valid Gearman. */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class GearmanError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GearmanError';
    this.code = code;
  }
}

/** WORK_FAIL: the job failed without details (gearman-spec 1.6). */
export class JobFailedError extends GearmanError {
  readonly handle: string;
  constructor(handle: string) {
    super(ErrorCode.JOB_FAILED, `job ${handle} failed`);
    this.name = 'JobFailedError';
    this.handle = handle;
  }
}

/** WORK_EXCEPTION: the worker reported an exception; `data` is its payload (often a message). */
export class JobExceptionError extends GearmanError {
  readonly handle: string;
  readonly data: Buffer;
  constructor(handle: string, data: Buffer) {
    super(ErrorCode.JOB_EXCEPTION, `job ${handle} raised an exception: ${data.toString('utf8')}`);
    this.name = 'JobExceptionError';
    this.handle = handle;
    this.data = data;
  }
}

/** An ERROR packet in reply to a request: `serverCode` is gearmand's code, e.g. `QUEUE_ERROR`. */
export class ServerError extends GearmanError {
  readonly serverCode: string;
  readonly serverMessage: string;
  constructor(serverCode: string, serverMessage: string) {
    super(ErrorCode.SERVER_ERROR, `server error ${serverCode}: ${serverMessage}`);
    this.name = 'ServerError';
    this.serverCode = serverCode;
    this.serverMessage = serverMessage;
  }
}

/** An `ERR <code> <text>` admin reply; `serverCode` is e.g. `UNKNOWN_JOB`. */
export class AdminError extends GearmanError {
  readonly serverCode: string;
  readonly serverMessage: string;
  constructor(serverCode: string, serverMessage: string) {
    super(ErrorCode.ADMIN_ERROR, `admin error ${serverCode}${serverMessage ? `: ${serverMessage}` : ''}`);
    this.name = 'AdminError';
    this.serverCode = serverCode;
    this.serverMessage = serverMessage;
  }
}

export class TimeoutError extends GearmanError {
  constructor(what: string, ms: number) {
    super(ErrorCode.TIMEOUT, `${what} timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export class AbortError extends GearmanError {
  constructor(what: string, reason?: unknown) {
    super(ErrorCode.ABORTED, `${what} was aborted`, { cause: reason });
    this.name = 'AbortError';
  }
}

export class ConnectionLostError extends GearmanError {
  constructor(address: string, cause?: unknown) {
    super(ErrorCode.CONNECTION_LOST, `connection to ${address} was lost`, { cause });
    this.name = 'ConnectionLostError';
  }
}

export class NoServerAvailableError extends GearmanError {
  /** The last error seen per server address. */
  readonly failures: ReadonlyMap<string, unknown>;
  constructor(failures: ReadonlyMap<string, unknown>) {
    const detail = [...failures].map(([addr, err]) => `${addr}: ${err instanceof Error ? err.message : String(err)}`);
    super(ErrorCode.NO_SERVER_AVAILABLE, `no job server available (${detail.join('; ') || 'none configured'})`);
    this.name = 'NoServerAvailableError';
    this.failures = failures;
  }
}

export class ClosedError extends GearmanError {
  constructor(what: string) {
    super(ErrorCode.CLOSED, `${what} is closed`);
    this.name = 'ClosedError';
  }
}

export class ResponseProtocolError extends GearmanError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.PROTOCOL_ERROR, message, { cause });
    this.name = 'ResponseProtocolError';
  }
}
