import { SERVER_HEADER } from './context.js';
import { errorBody, isRetryable, RETRY_AFTER_SECONDS, type HttpErrorSpec } from './errors.js';
import { STATUS_CODES } from 'node:http';

const cache = new Map<HttpErrorSpec, Buffer>();

/**
 * A whole `Connection: close` error response as bytes, built once per error: for a refused
 * connection, an unparsable request, a request too slow to arrive.
 */
export function rawErrorResponse(spec: HttpErrorSpec): Buffer {
  let bytes = cache.get(spec);
  if (bytes === undefined) {
    const body = errorBody(spec);
    let head = `HTTP/1.1 ${spec.status} ${STATUS_CODES[spec.status] ?? 'Error'}\r\nServer: ${SERVER_HEADER}\r\n`;
    head += `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
    if (isRetryable(spec)) head += `Retry-After: ${RETRY_AFTER_SECONDS}\r\n`;
    head += 'Connection: close\r\n\r\n';
    bytes = Buffer.concat([Buffer.from(head, 'latin1'), body]);
    cache.set(spec, bytes);
  }
  return bytes;
}
