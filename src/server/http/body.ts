import type { IncomingMessage } from 'node:http';
import { HttpErrors, type HttpErrorSpec } from './errors.js';

export type BodyCallback = (error: HttpErrorSpec | undefined, body: Buffer) => void;

const EMPTY = Buffer.alloc(0);

/**
 * Read a request body of at most `limit` bytes. The caller has already refused a declared
 * Content-Length over the limit; a chunked body is counted as it streams and refused the
 * moment it passes the limit (nothing more is kept). The result is a copy, so a job never
 * pins the socket's receive buffer.
 */
export function readBody(req: IncomingMessage, declaredLength: number, limit: number, done: BodyCallback): void {
  if (declaredLength === 0) {
    req.resume();
    done(undefined, EMPTY);
    return;
  }
  // A declared length is allocated once; chunked bodies collect their chunks.
  const whole = declaredLength > 0 ? Buffer.allocUnsafe(declaredLength) : undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  const stop = () => {
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('aborted', stop);
  };
  const finish = (error: HttpErrorSpec | undefined, body: Buffer) => {
    if (finished) return;
    stop();
    done(error, body);
  };
  const onData = (chunk: Buffer) => {
    const next = received + chunk.length;
    if (next > limit || (whole !== undefined && next > whole.length)) {
      finish(HttpErrors.bodyTooLarge, EMPTY);
      return;
    }
    if (whole !== undefined) chunk.copy(whole, received);
    else chunks.push(chunk);
    received = next;
  };
  const onEnd = () => {
    if (whole !== undefined) {
      if (received !== whole.length) return finish(HttpErrors.bodyIncomplete, EMPTY);
      return finish(undefined, whole);
    }
    finish(undefined, chunks.length === 0 ? EMPTY : Buffer.concat(chunks, received));
  };
  req.on('data', onData);
  req.on('end', onEnd);
  // The client went away mid-body: nothing to answer, nothing submitted.
  req.on('aborted', stop);
}
