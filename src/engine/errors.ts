import type { EngineError } from './types.js';

/**
 * The error catalogue of the job engine: the ERROR packet code and text gearmand sends
 * (gearman-spec 1.11), plus Gearport's own for limits gearmand does not have.
 */
export const EngineErrors = {
  uniqueTooLarge: { code: 'ARGUMENT_TOO_LARGE', text: 'Unique value too large' },
  queueFull: { code: 'QUEUE_ERROR', text: 'Job queue is full' },
  memoryFull: { code: 'QUEUE_ERROR', text: 'Job memory budget is full' },
  storeFailed: { code: 'QUEUE_ERROR', text: 'QUEUE_ERROR' },
  tooManyFunctions: { code: 'QUEUE_ERROR', text: 'Too many functions' },
  workDataNotFound: { code: 'JOB_NOT_FOUND', text: 'Job does not exist on server' },
  workResultNotFound: { code: 'JOB_NOT_FOUND', text: 'Job given in work result not found' },
  exceptionNotFound: { code: 'JOB_NOT_FOUND', text: 'An exception was received for a job that does not exist' },
  handleTooLarge: {
    code: 'ARGUMENT_TOO_LARGE',
    text: 'Error occurred due to GEARMAND_JOB_HANDLE_SIZE being too small from snprintf',
  },
  shuttingDown: { code: 'QUEUE_ERROR', text: 'Server is shutting down' },
} as const satisfies Record<string, EngineError>;
