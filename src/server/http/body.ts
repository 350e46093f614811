import { HttpErrors, type HttpErrorSpec } from './errors.js';
import type { HttpRequest } from './wire/request.js';
import { HeldBytes } from './wire/held-bytes.js';

export type BodyCallback = (error: HttpErrorSpec | undefined, body: Buffer) => void;

const EMPTY = Buffer.alloc(0);
/** Declared lengths up to this are allocated at once; larger bodies grow as their bytes arrive. */
const PREALLOCATE_BYTES = 64 * 1024;

/**
 * Read a request body of at most `limit` bytes; call during the request handler (a body no
 * one reads is dropped). The caller has already refused a declared Content-Length over the
 * limit; a chunked body is counted as it streams and refused the moment it passes the
 * limit (nothing more is kept). Memory follows the bytes received, never a length merely
 * declared, and a body of many tiny chunks is one growing buffer, not a Buffer per chunk.
 * The result is a copy: the connection's bytes are views of a shared receive buffer. If the
 * connection closes first, `done` is never called.
 */
export function readBody(req: HttpRequest, limit: number, done: BodyCallback): void {
  const { contentLength, chunked } = req.head;
  if (!chunked && contentLength <= 0) {
    done(undefined, EMPTY);
    return;
  }
  const whole = !chunked && contentLength <= PREALLOCATE_BYTES ? Buffer.allocUnsafe(contentLength) : undefined;
  const growing = whole === undefined ? new HeldBytes() : undefined;
  let received = 0;
  let finished = false;
  req.bodySink = {
    data(buf, start, end) {
      if (finished) return;
      const next = received + (end - start);
      if (next > limit) {
        finished = true;
        growing?.clear();
        done(HttpErrors.bodyTooLarge, EMPTY);
        return;
      }
      if (whole !== undefined) buf.copy(whole, received, start, end);
      else growing!.append(buf, start, end);
      received = next;
    },
    end() {
      if (finished) return;
      finished = true;
      done(undefined, whole ?? growing!.take());
    },
  };
}
