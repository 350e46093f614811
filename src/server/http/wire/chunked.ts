/**
 * A chunked request body (RFC 9112 7.1), decoded as its bytes arrive: chunk sizes, ignored
 * chunk extensions, data, and a trailer section that is read and dropped. Pure: bytes in,
 * data ranges out. Every part that is not data is bounded, so a sender cannot make it hold
 * more than a size line, an extension or a trailer section's worth of nothing.
 */
import { HttpErrors, type HttpErrorSpec } from '../errors.js';

const State = {
  size: 0,
  extension: 1,
  sizeLf: 2,
  data: 3,
  dataCr: 4,
  dataLf: 5,
  /** At the start of a trailer line (or the final empty line). */
  trailerStart: 6,
  trailerLine: 7,
  trailerLf: 8,
  finalLf: 9,
  done: 10,
} as const;
type State = (typeof State)[keyof typeof State];

/** Hex digits of one chunk size: 12 is 256 TiB, past any body limit, within Number's safe range. */
const MAX_SIZE_DIGITS = 12;
/** Chunk extensions are ignored; this bounds the bytes spent skipping them, per chunk. */
const MAX_EXTENSION_BYTES = 1024;

export class ChunkedDecoder {
  private state: State = State.size;
  private digits = 0;
  private size = 0;
  private remaining = 0;
  private extensionBytes = 0;
  private trailerBytes = 0;
  private readonly maxTrailerBytes: number;

  constructor(maxTrailerBytes: number) {
    this.maxTrailerBytes = maxTrailerBytes;
  }

  /** The final chunk and its trailer section have been read. */
  get done(): boolean {
    return this.state === State.done;
  }

  /**
   * Decode `buf[start, end)`; data ranges go to `onData` as views of `buf`, valid during
   * the call. Returns how many bytes belong to the body (fewer than given only once done:
   * the rest is the next request), or the refusal.
   */
  push(buf: Buffer, start: number, end: number, onData: (buf: Buffer, start: number, end: number) => void): number | HttpErrorSpec {
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      switch (this.state) {
        case State.size: {
          const v = hexValue(c);
          if (v !== -1) {
            if (++this.digits > MAX_SIZE_DIGITS) return HttpErrors.badRequest;
            this.size = this.size * 16 + v;
          } else if (this.digits === 0) {
            return HttpErrors.badRequest;
          } else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.state = State.extension;
            this.extensionBytes = 0;
          } else if (c === 13) {
            this.state = State.sizeLf;
          } else {
            return HttpErrors.badRequest;
          }
          i++;
          break;
        }
        case State.extension:
          if (c === 13) this.state = State.sizeLf;
          else if (c === 10 || ++this.extensionBytes > MAX_EXTENSION_BYTES) return HttpErrors.badRequest;
          i++;
          break;
        case State.sizeLf:
          if (c !== 10) return HttpErrors.badRequest;
          i++;
          this.remaining = this.size;
          this.digits = 0;
          this.size = 0;
          this.state = this.remaining === 0 ? State.trailerStart : State.data;
          break;
        case State.data: {
          const take = Math.min(this.remaining, end - i);
          onData(buf, i, i + take);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.dataCr;
          break;
        }
        case State.dataCr:
          if (c !== 13) return HttpErrors.badRequest;
          this.state = State.dataLf;
          i++;
          break;
        case State.dataLf:
          if (c !== 10) return HttpErrors.badRequest;
          this.state = State.size;
          i++;
          break;
        case State.trailerStart:
          if (c === 13) this.state = State.finalLf;
          else if (c === 10) return HttpErrors.badRequest; // a bare LF: another parser may end the body here
          else this.state = State.trailerLine;
          if (++this.trailerBytes > this.maxTrailerBytes) return HttpErrors.trailersTooLarge;
          i++;
          break;
        case State.trailerLine:
          if (c === 13) this.state = State.trailerLf;
          else if (c === 10) return HttpErrors.badRequest;
          if (++this.trailerBytes > this.maxTrailerBytes) return HttpErrors.trailersTooLarge;
          i++;
          break;
        case State.trailerLf:
          if (c !== 10) return HttpErrors.badRequest;
          this.state = State.trailerStart;
          i++;
          break;
        case State.finalLf:
          if (c !== 10) return HttpErrors.badRequest;
          this.state = State.done;
          return i + 1 - start;
        case State.done:
          return i - start;
      }
    }
    return i - start;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
