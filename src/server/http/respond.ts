import type { Socket } from 'node:net';
import { errorBody, isRetryable, RETRY_AFTER_SECONDS, type HttpErrorSpec } from './errors.js';
import { SERVER_HEADER } from './context.js';
import type { HttpResponse } from './wire/response.js';

/**
 * Send a catalogue error as JSON. `close` ends the connection after it (the request body was
 * not read, or the connection cannot be trusted any more). `extra` is a flat header list.
 */
export function sendError(res: HttpResponse, spec: HttpErrorSpec, close = false, extra?: readonly string[]): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(spec);
  const headers: string[] = ['Server', SERVER_HEADER, 'Content-Type', 'application/json', 'Content-Length', String(body.length)];
  if (isRetryable(spec)) headers.push('Retry-After', RETRY_AFTER_SECONDS);
  if (extra !== undefined) for (const h of extra) headers.push(h);
  if (close) res.closeAfter = true;
  res.writeHead(spec.status, headers);
  res.end(body);
}

/** A whole reply of the reserved API (not on the hot path); a HEAD request gets the headers only. */
export function sendBody(res: HttpResponse, status: number, contentType: string, body: Buffer, head = false): void {
  res.writeHead(status, ['Server', SERVER_HEADER, 'Content-Type', contentType, 'Content-Length', String(body.length), 'Cache-Control', 'no-store']);
  res.end(head ? undefined : body);
}

export function sendJson(res: HttpResponse, status: number, value: unknown, head = false): void {
  sendBody(res, status, 'application/json', Buffer.from(JSON.stringify(value) + '\n'), head);
}

/** How long a closing connection may still deliver its last response before it is cut. */
export const LINGER_MS = 2000;

/**
 * Close after the last response with a lingering close (RFC 9112 9.6): a body we did not
 * read may still be arriving, and closing at once would reset the connection and lose the
 * response. Half-close, read and drop what still comes, cut after LINGER_MS.
 */
export function lingerClose(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  socket.resume(); // keep reading (and dropping) what the client still sends
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
