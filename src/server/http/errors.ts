/**
 * The HTTP front's error catalogue: one stable code per condition, with its HTTP status and
 * message. Every error body is `{"error":{"code":"...","message":"..."}}`; clients branch on
 * the code, never on the message. gearmand answers most of these with 200 or a dropped
 * connection (gearman-spec 3.4, 3.7); these are the honest replacements.
 */
export interface HttpErrorSpec {
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

export const HttpErrors = {
  notFound: { code: 'NOT_FOUND', status: 404, message: 'No function or route at this path' },
  methodNotAllowed: { code: 'METHOD_NOT_ALLOWED', status: 405, message: 'Method not allowed on this path' },
  badRequest: { code: 'BAD_REQUEST', status: 400, message: 'Malformed HTTP request' },
  invalidHeader: { code: 'INVALID_HEADER', status: 400, message: 'An X-Gearman-* header has an invalid value' },
  uniqueTooLong: { code: 'UNIQUE_TOO_LONG', status: 400, message: 'X-Gearman-Unique is longer than 64 bytes' },
  forbidden: { code: 'FORBIDDEN', status: 403, message: 'Not permitted from this address' },
  jobNotFound: { code: 'JOB_NOT_FOUND', status: 404, message: 'No such job on this server' },
  noWorker: { code: 'NO_WORKER', status: 404, message: 'No worker has registered this function' },
  requestTimeout: { code: 'REQUEST_TIMEOUT', status: 408, message: 'The request was not received in time' },
  bodyTooLarge: { code: 'BODY_TOO_LARGE', status: 413, message: 'The request body is larger than the limit' },
  bodyIncomplete: { code: 'BODY_INCOMPLETE', status: 400, message: 'The client ended its sending before the whole request body' },
  urlTooLong: { code: 'URL_TOO_LONG', status: 414, message: 'The request target is longer than the limit' },
  expectationFailed: { code: 'EXPECTATION_FAILED', status: 417, message: 'Only the expectation 100-continue is supported' },
  transferCodingUnsupported: { code: 'TRANSFER_CODING_UNSUPPORTED', status: 501, message: 'Only the chunked transfer coding is supported' },
  versionNotSupported: { code: 'HTTP_VERSION_NOT_SUPPORTED', status: 505, message: 'Only HTTP/1.0 and HTTP/1.1 are supported' },
  headersTooLarge: { code: 'HEADERS_TOO_LARGE', status: 431, message: 'The request headers are larger than the limit' },
  trailersTooLarge: { code: 'TRAILERS_TOO_LARGE', status: 431, message: 'The trailer section of the chunked body is larger than the header size limit' },
  tooManyWaits: { code: 'TOO_MANY_WAITS', status: 429, message: 'Too many foreground jobs awaited from this address' },
  tooManyConnections: { code: 'TOO_MANY_CONNECTIONS', status: 503, message: 'Too many open connections' },
  queueFull: { code: 'QUEUE_FULL', status: 503, message: 'The job queue of this function is full' },
  memoryFull: { code: 'MEMORY_FULL', status: 503, message: 'The job memory budget of the server is full' },
  tooManyFunctions: { code: 'TOO_MANY_FUNCTIONS', status: 503, message: 'The server holds too many functions' },
  shuttingDown: { code: 'SHUTTING_DOWN', status: 503, message: 'The server is shutting down' },
  storeFailed: { code: 'STORE_FAILED', status: 503, message: 'The durable store could not save the job' },
  workFail: { code: 'WORK_FAIL', status: 502, message: 'The worker failed the job' },
  workException: { code: 'WORK_EXCEPTION', status: 502, message: 'The worker raised an exception' },
  waitTimeout: { code: 'WAIT_TIMEOUT', status: 504, message: 'No result within the wait time; the job was withdrawn if no worker had it' },
  internal: { code: 'INTERNAL', status: 500, message: 'Internal server error' },
} as const satisfies Record<string, HttpErrorSpec>;

export type HttpErrorName = keyof typeof HttpErrors;

/** Statuses after which a client should retry later; they carry Retry-After. */
export const RETRY_AFTER_SECONDS = '1';

const bodies = new Map<HttpErrorSpec, Buffer>();

/** The JSON body every error of the HTTP front has, the guard's refusals included. */
export function jsonErrorBody(code: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ error: { code, message } }) + '\n');
}

/** The JSON body of an error, built once per catalogue entry (errors stay cheap under load). */
export function errorBody(spec: HttpErrorSpec): Buffer {
  let body = bodies.get(spec);
  if (body === undefined) {
    body = jsonErrorBody(spec.code, spec.message);
    bodies.set(spec, body);
  }
  return body;
}

/** Whether a status invites a retry (Retry-After is sent). */
export function isRetryable(spec: HttpErrorSpec): boolean {
  return spec.status === 503 || spec.status === 429;
}
