import { HttpErrors, type HttpErrorSpec } from './errors.js';
import type { HttpRequest } from './wire/connection.js';

export type BodyCallback = (error: HttpErrorSpec | undefined, body: Buffer) => void;

const EMPTY = Buffer.alloc(0);

/**
 * Read a request body of at most `limit` bytes; call during the request handler (a body no
 * one reads is dropped). The caller has already refused a declared Content-Length over the
 * limit; a chunked body is counted as it streams and refused the moment it passes the
 * limit (nothing more is kept). The result is a copy: the connection's bytes are views of a
 * shared receive buffer. If the connection closes first, `done` is never called.
 */
export function readBody(req: HttpRequest, limit: number, done: BodyCallback): void {
  const { contentLength, chunked } = req.head;
  if (!chunked && contentLength <= 0) {
    done(undefined, EMPTY);
    return;
  }
  // A declared length is allocated once; chunked bodies collect copies of their chunks.
  const whole = chunked ? undefined : Buffer.allocUnsafe(contentLength);
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  req.bodySink = {
    data(buf, start, end) {
      if (finished) return;
      const next = received + (end - start);
      if (next > limit) {
        finished = true;
        done(HttpErrors.bodyTooLarge, EMPTY);
        return;
      }
      if (whole !== undefined) buf.copy(whole, received, start, end);
      else chunks.push(Buffer.from(buf.subarray(start, end)));
      received = next;
    },
    end() {
      if (finished) return;
      finished = true;
      done(undefined, whole ?? (chunks.length === 0 ? EMPTY : Buffer.concat(chunks, received)));
    },
  };
}
