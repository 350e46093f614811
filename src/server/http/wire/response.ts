/**
 * One response of the HTTP front: status line and headers built as one latin1 string,
 * the body framed by Content-Length, chunked encoding (HTTP/1.1) or the connection's end
 * (HTTP/1.0). It writes through its connection, which keeps pipelined responses in
 * request order (ResponseSink below).
 */
import { STATUS_CODES } from 'node:http';

/** What a response needs from its connection. */
export interface ResponseSink {
  /** Send bytes of `res` (held back while an earlier response is unfinished). */
  send(res: HttpResponse, data: string | Buffer): void;
  /** `res` has sent its last byte. */
  finished(res: HttpResponse): void;
  /** Bytes of `res` not yet taken by the peer. */
  backlog(res: HttpResponse): number;
  /**
   * Cut `res` short: it must not read as complete. Responses before it are still sent; the
   * connection ends when its turn comes (`reset`: with an RST, for a body that ends with the
   * connection, where a plain close would read as the end of the body).
   */
  abort(res: HttpResponse, reset: boolean): void;
  readonly closed: boolean;
  /** Whether this response must end the connection (the client's wish, the request limit). */
  mustClose(res: HttpResponse): boolean;
  /** `res` has decided to end the connection: nothing after it is read. */
  closing(res: HttpResponse): void;
  /** The idle time the connection keeps after a response, for `Keep-Alive: timeout=`. */
  readonly keepAliveSeconds: number;
}

const Body = {
  /** Content-Length given (or no body allowed). */
  fixed: 0,
  chunked: 1,
  /** HTTP/1.0 without a length: the body ends with the connection. */
  untilClose: 2,
} as const;
type Body = (typeof Body)[keyof typeof Body];

/** Results up to this size travel in one write with the head, as one latin1 string. */
const INLINE_BODY_BYTES = 4096;

let dateHeader = '';
let dateSecond = 0;

/** `Date: ...` (RFC 9110 6.6.1), rebuilt at most once a second. */
function currentDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateHeader = `Date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateHeader;
}

export class HttpResponse {
  headersSent = false;
  /** end() was called. */
  ended = false;
  /** The connection closes after this response (set before writeHead to send `Connection: close`). */
  closeAfter = false;
  /** Taken out of line (its request was cut short): whatever it still writes goes nowhere. */
  dropped = false;
  /** Cut short (abort): the connection ends, with an RST if `resetOnCut`, once its turn comes. */
  cut = false;
  resetOnCut = false;
  /** The text of the head, until it is sent with the first body bytes. */
  private head: string | undefined;
  private body: Body = Body.fixed;
  private extraHeaders: string[] | undefined;
  private onClose: (() => void) | undefined;
  private readonly sink: ResponseSink;
  /** A HEAD request: headers only. */
  private readonly headOnly: boolean;
  private readonly versionMinor: number;

  constructor(sink: ResponseSink, headOnly: boolean, versionMinor: number) {
    this.sink = sink;
    this.headOnly = headOnly;
    this.versionMinor = versionMinor;
  }

  /** The connection is gone (or going): nothing more reaches the client. */
  get destroyed(): boolean {
    return this.dropped || this.sink.closed;
  }

  /** Bytes of this response not yet taken by the client (the output limits count them). */
  get writableLength(): number {
    return this.sink.backlog(this);
  }

  /** A header for writeHead to add (the guard's CORS headers). */
  setHeader(name: string, value: string): void {
    (this.extraHeaders ??= []).push(name, value);
  }

  /** Call `fn` once when the response has been sent or the connection closed before that. */
  whenClosed(fn: () => void): void {
    this.onClose = fn;
  }

  /** `headers` is a flat [name, value, ...] list; Date and Connection are added here. */
  writeHead(status: number, headers: readonly string[]): void {
    if (this.headersSent) return;
    this.headersSent = true;
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    let length = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
      text += `${name}: ${headers[i + 1]!}\r\n`;
    }
    const extra = this.extraHeaders;
    if (extra !== undefined) for (let i = 0; i < extra.length; i += 2) text += `${extra[i]!}: ${extra[i + 1]!}\r\n`;
    const bodyless = this.headOnly || status === 204 || status === 304 || status < 200;
    if (!length && !bodyless) {
      if (this.versionMinor === 1) {
        this.body = Body.chunked;
        text += 'Transfer-Encoding: chunked\r\n';
      } else {
        this.body = Body.untilClose;
        this.closeAfter = true;
      }
    }
    if (!this.closeAfter && this.sink.mustClose(this)) this.closeAfter = true;
    if (this.closeAfter) this.sink.closing(this);
    text += this.closeAfter ? 'Connection: close\r\n' : `Connection: keep-alive\r\nKeep-Alive: timeout=${this.sink.keepAliveSeconds}\r\n`;
    this.head = text + currentDate() + '\r\n';
  }

  /** Send the head now (an event stream starts before its first event). */
  flushHeaders(): void {
    if (this.head === undefined || this.ended) return;
    const head = this.head;
    this.head = undefined;
    this.sink.send(this, head);
  }

  /** `HTTP/1.1 100 Continue`: the client may send the body it holds back. */
  writeContinue(): void {
    if (!this.headersSent) this.sink.send(this, 'HTTP/1.1 100 Continue\r\n\r\n');
  }

  write(data: Buffer): void {
    if (this.ended || this.sink.closed) return;
    if (!this.headersSent) this.writeHead(200, []);
    if (this.headOnly || data.length === 0) return this.flushHeaders();
    if (this.body !== Body.chunked) return this.emit(data);
    const size = `${data.length.toString(16)}\r\n`;
    // A small chunk goes in one write with its size line and CRLF (and the head, if unsent).
    if (data.length <= INLINE_BODY_BYTES) return this.emit(`${size}${data.toString('latin1')}\r\n`);
    this.emit(size);
    this.emit(data);
    this.emit('\r\n');
  }

  /** End the response, with `data` as its last (or only) body bytes; trailers for a chunked body. */
  end(data?: Buffer, trailers?: Readonly<Record<string, string>>): void {
    if (this.ended) return;
    if (!this.headersSent) this.writeHead(200, []);
    if (this.sink.closed) {
      this.ended = true;
      return;
    }
    const head = this.head;
    if (data !== undefined && data.length > 0 && !this.headOnly) {
      if (head !== undefined && this.body === Body.fixed && data.length <= INLINE_BODY_BYTES) {
        // Head and a small body in one write: one syscall, no Buffer for the head.
        this.head = undefined;
        this.sink.send(this, head + data.toString('latin1'));
      } else {
        this.write(data);
      }
    }
    this.ended = true;
    let tail = '';
    if (this.body === Body.chunked) {
      tail = '0\r\n';
      if (trailers !== undefined) for (const name in trailers) tail += `${name}: ${trailers[name]}\r\n`;
      tail += '\r\n';
    }
    if (this.head !== undefined) {
      tail = this.head + tail;
      this.head = undefined;
    }
    if (tail !== '') this.sink.send(this, tail);
    this.sink.finished(this);
  }

  /** A whole prepared response (head and body bytes) that closes the connection. */
  endRaw(bytes: Buffer): void {
    this.headersSent = true;
    this.closeAfter = true;
    this.ended = true;
    this.sink.closing(this);
    this.sink.send(this, bytes);
    this.sink.finished(this);
  }

  /** @internal Out of line for good: ended, and its close callback run. */
  drop(): void {
    this.dropped = true;
    this.ended = true;
    this.head = undefined;
    this.closed();
  }

  /** Cut this response short: a half-sent response must not look complete to the client. */
  destroy(): void {
    if (this.cut || this.dropped) return;
    this.sink.abort(this, this.body === Body.untilClose);
  }

  /** @internal The connection calls this once, when the response is done or can never be. */
  closed(): void {
    const fn = this.onClose;
    this.onClose = undefined;
    if (fn !== undefined) fn();
  }

  private emit(data: string | Buffer): void {
    const head = this.head;
    if (head !== undefined) {
      this.head = undefined;
      if (typeof data === 'string') return this.sink.send(this, head + data);
      this.sink.send(this, head);
    }
    this.sink.send(this, data);
  }
}
