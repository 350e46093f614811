/**
 * One HTTP/1.1 connection of the front: bytes in, requests out, responses back in request
 * order. Requests are parsed ahead (pipelining) up to httpMaxPipelined in flight, and
 * not at all while the client leaves more than outputHighWaterMark of responses unread; a response
 * that is not first in line holds its bytes until the ones before it are done. Every wait is
 * bounded: the head (headers timeout), the whole request (request timeout), the idle time
 * between requests (keep-alive timeout); the front's sweeper calls `expire` past `deadline`.
 */
import type { Socket } from 'node:net';
import { rawErrorResponse } from '../raw-response.js';
import { LINGER_MS } from '../respond.js';
import { HttpErrors, type HttpErrorSpec } from '../errors.js';
import type { SocketOutput } from '../../socket-output.js';
import { ChunkedDecoder } from './chunked.js';
import { HeldBytes } from './held-bytes.js';
import { parseRequestHead, type HeadLimits, type RequestHead } from './request-head.js';
import { HttpRequest, type BodySink } from './request.js';
import { HttpResponse, type ResponseSink } from './response.js';
import { ResponseQueue } from './response-queue.js';

export interface ConnectionLimits {
  readonly httpMaxHeaderBytes: number;
  readonly httpMaxUrlBytes: number;
  readonly httpHeadersTimeoutMs: number;
  readonly httpRequestTimeoutMs: number;
  readonly httpKeepAliveTimeoutMs: number;
  /** 0: no limit. */
  readonly httpMaxRequestsPerConnection: number;
  /** Requests parsed ahead of their responses, at most; then reading stops until one is sent. */
  readonly httpMaxPipelined: number;
  /** Unsent response bytes at which reading stops until the client has taken them. */
  readonly outputHighWaterMark: number;
}

export type RequestHandler = (req: HttpRequest, res: HttpResponse) => void;


const Reading = {
  head: 0,
  /** A Content-Length body: `bodyLeft` bytes to come. */
  fixedBody: 1,
  chunkedBody: 2,
  /** No more requests on this connection. */
  stopped: 3,
} as const;
type Reading = (typeof Reading)[keyof typeof Reading];

const Deadline = {
  none: 0,
  /** The request is not all in yet: 408, then close. */
  request: 1,
  /** Nothing asked, nothing owed: close quietly. */
  idle: 2,
  /** Closing: the last response is being taken (or was, and the client had LINGER_MS to see it). */
  linger: 3,
} as const;
type Deadline = (typeof Deadline)[keyof typeof Deadline];

export class HttpConnection implements ResponseSink {
  closed = false;
  /** When the sweeper should act (Date.now() ms; 0 = never), and how. */
  deadline = 0;
  deadlineKind: Deadline = Deadline.none;
  readonly keepAliveSeconds: number;
  private readonly socket: Socket;
  private readonly output: SocketOutput;
  private readonly limits: ConnectionLimits;
  private readonly headLimits: HeadLimits;
  private readonly handler: RequestHandler;
  private readonly address: string;
  private reading: Reading = Reading.head;
  /** Bytes received and not yet parsed: a partial head, or requests beyond this.limits.httpMaxPipelined. */
  private readonly held = new HeldBytes();
  /** Responses owed, in request order; the first one writes to the socket. */
  private readonly responses = new ResponseQueue();
  /** The client's last request (Connection: close, HTTP/1.0, or the per-connection limit) has come. */
  private lastRequestSeen = false;
  /** The response of the request whose body is being read. */
  private bodyOwner: HttpResponse | undefined;
  private body: BodySink | undefined;
  private bodyLeft = 0;
  private chunked: ChunkedDecoder | undefined;
  private requests = 0;
  /** When the request being received began (for the headers and request timeouts). */
  private requestStartedAt = 0;
  private paused = false;
  /** Inside receive(): responses finished meanwhile do not restart parsing themselves. */
  private parsing = false;

  constructor(socket: Socket, output: SocketOutput, limits: ConnectionLimits, handler: RequestHandler) {
    this.socket = socket;
    this.output = output;
    this.limits = limits;
    this.headLimits = { maxHeaderBytes: limits.httpMaxHeaderBytes, maxUrlBytes: limits.httpMaxUrlBytes };
    this.handler = handler;
    this.address = socket.remoteAddress ?? '-';
    this.keepAliveSeconds = Math.max(1, Math.floor(limits.httpKeepAliveTimeoutMs / 1000));
    this.requestStartedAt = Date.now();
    this.setDeadline(this.requestStartedAt + Math.min(limits.httpHeadersTimeoutMs, limits.httpRequestTimeoutMs), Deadline.request);
    socket.once('close', () => this.onSocketClose());
    socket.once('end', () => this.clientEnded());
  }

  /** Bytes from the socket; `chunk` may be reused once this returns. */
  receive(chunk: Buffer): void {
    if (this.reading === Reading.stopped || this.closed) return;
    if (this.held.length > 0) {
      this.held.append(chunk, 0, chunk.length);
      // A held head can only be completed by an LF, or refused at the size limit: until then
      // (and while paused) there is nothing new to parse.
      if (this.paused || (this.reading === Reading.head && chunk.indexOf(10) === -1 && this.held.length < this.limits.httpMaxHeaderBytes)) return;
      return this.parseHeld();
    }
    if (this.reading === Reading.head) this.requestStartedAt = Date.now(); // the first bytes of a request
    const at = this.parse(chunk);
    if (at < chunk.length && !this.closed && (this.reading as Reading) !== Reading.stopped) this.held.append(chunk, at, chunk.length);
    this.afterParse();
  }

  // ---- ResponseSink ---------------------------------------------------------------

  send(res: HttpResponse, data: string | Buffer): void {
    if (this.closed || res.dropped) return;
    if (this.responses.first !== res) return this.responses.hold(res, data);
    this.write(data);
  }

  private write(data: string | Buffer): void {
    if (typeof data === 'string') this.output.writeLatin1(data);
    else this.output.write(data);
  }

  finished(res: HttpResponse): void {
    if (this.responses.first !== res || this.closed) return; // its turn comes in next()
    this.next();
  }

  backlog(res: HttpResponse): number {
    return this.responses.first === res ? this.output.pendingBytes : this.responses.heldBytes(res);
  }

  /**
   * `res` will close the connection: no request after it is read or carried out (RFC 9112
   * 9.6). Requests already parsed behind it are dropped, their queued jobs withdrawn.
   */
  closing(res: HttpResponse): void {
    this.reading = Reading.stopped;
    this.held.clear();
    this.body = undefined;
    if (this.deadlineKind === Deadline.request) this.setDeadline(0, Deadline.none); // nothing more is read
    this.responses.dropAfter(res);
  }

  mustClose(res: HttpResponse): boolean {
    return this.lastRequestSeen && this.responses.last === res;
  }

  destroy(): void {
    if (!this.closed) this.cutNow(false);
  }

  abort(res: HttpResponse, reset: boolean): void {
    if (this.closed) return;
    res.cut = true;
    res.resetOnCut = reset;
    res.ended = true;
    if (this.responses.first !== res) return this.closing(res); // answers before it go out first
    this.cutNow(reset);
  }

  private cutNow(reset: boolean): void {
    this.closed = true;
    if (reset) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  /** Past the deadline (the front's sweeper): 408 for a request still arriving, else close. */
  expire(): void {
    const kind = this.deadlineKind;
    this.setDeadline(0, Deadline.none);
    if (kind === Deadline.request) this.refuse(HttpErrors.requestTimeout);
    else this.socket.destroy(); // idle, or lingering: the client had its time
  }

  // ---- reading --------------------------------------------------------------------

  /** Parse what can be parsed of `buf`; returns how far it got. */
  private parse(buf: Buffer): number {
    this.parsing = true;
    let at = 0;
    const end = buf.length;
    while (at < end && !this.closed) {
      if (this.reading === Reading.head) {
        if (!this.mayParse()) break;
        const parsed = parseRequestHead(buf, at, end, this.headLimits);
        if (parsed === undefined) break;
        if ('error' in parsed) {
          this.parsing = false;
          this.refuse(parsed.error);
          return end;
        }
        at = parsed.end;
        this.startRequest(parsed.head);
      } else if (this.reading === Reading.fixedBody) {
        const take = Math.min(this.bodyLeft, end - at);
        this.body?.data(buf, at, at + take);
        at += take;
        this.bodyLeft -= take;
        if (this.bodyLeft === 0) this.endBody();
      } else if (this.reading === Reading.chunkedBody) {
        const result = this.chunked!.push(buf, at, end, (b, s, e) => this.body?.data(b, s, e));
        if (typeof result !== 'number') {
          this.parsing = false;
          this.refuse(result);
          return end;
        }
        at += result;
        if (this.chunked!.done) this.endBody();
      } else {
        at = end; // stopped: the rest is not read
      }
    }
    this.parsing = false;
    return at;
  }

  private parseHeld(): void {
    this.held.consume(this.parse(this.held.view()));
    this.afterParse();
  }

  /**
   * The client will send nothing more (the socket is half-open: we may still answer). A client
   * that closed its socket sends the same FIN as one that only shut down its side, so a caller
   * with answers still owed is taken to be gone: the connection is cut and its queued jobs
   * withdrawn (as node:http does). A request cut short, with nothing else owed, gets 400
   * (BODY_INCOMPLETE for a body), then the close.
   */
  private clientEnded(): void {
    if (this.closed) return;
    // A response whose body is unfinished is still queued (it leaves the queue only once ended).
    const unread = this.bodyOwner !== undefined && !this.bodyOwner.ended ? this.bodyOwner : undefined;
    const owed = this.responses.length - (unread !== undefined ? 1 : 0);
    if (owed > 0) return this.destroy();
    if (unread !== undefined) return this.refuse(HttpErrors.bodyIncomplete);
    if (this.reading === Reading.head && this.held.length > 0) return this.refuse(HttpErrors.badRequest);
    this.closeAfterResponse();
  }

  /** Bytes left over: pause at the pipelining limit, else time the head they begin. */
  private afterParse(): void {
    if (this.closed || this.reading === Reading.stopped) return this.held.clear();
    if (this.held.length === 0) {
      // Answered during the parse while bytes were still held: the idle time starts now.
      if (this.responses.length === 0 && this.reading === Reading.head && this.deadlineKind === Deadline.none) this.nothingOwed();
      return;
    }
    if (this.reading === Reading.head && !this.mayParse()) {
      this.pause();
    } else if (this.reading === Reading.head && this.deadlineKind !== Deadline.request) {
      this.setDeadline(this.requestStartedAt + this.limits.httpHeadersTimeoutMs, Deadline.request);
    }
  }

  private startRequest(head: RequestHead): void {
    this.requests++;
    const max = this.limits.httpMaxRequestsPerConnection;
    this.lastRequestSeen = !head.keepAlive || (max > 0 && this.requests >= max);
    const req = new HttpRequest(head, this.address);
    const res = new HttpResponse(this, head.method === 'HEAD', head.versionMinor);
    this.responses.push(res);
    const hasBody = head.chunked || head.contentLength > 0;
    if (hasBody) {
      this.reading = head.chunked ? Reading.chunkedBody : Reading.fixedBody;
      this.bodyLeft = head.contentLength;
      this.chunked = head.chunked ? new ChunkedDecoder(this.limits.httpMaxHeaderBytes) : undefined;
      this.bodyOwner = res;
      this.setDeadline(this.requestStartedAt + this.limits.httpRequestTimeoutMs, Deadline.request);
    } else {
      this.reading = this.lastRequestSeen ? Reading.stopped : Reading.head;
      this.setDeadline(0, Deadline.none);
    }
    this.handler(req, res);
    if (hasBody) this.body = req.bodySink;
    else req.bodySink?.end();
  }

  private endBody(): void {
    const sink = this.body;
    this.body = undefined;
    this.chunked = undefined;
    this.bodyOwner = undefined;
    // Stopped meanwhile (a response decided to close, e.g. 413 for this very body): stays stopped.
    if (this.reading !== Reading.stopped) this.reading = this.lastRequestSeen ? Reading.stopped : Reading.head;
    this.requestStartedAt = Date.now();
    this.setDeadline(0, Deadline.none);
    sink?.end();
    // The answer may have gone out before the body was all in: close, or start the idle time.
    if (this.responses.length === 0 && !this.closed) this.nothingOwed();
  }

  // ---- responses ------------------------------------------------------------------

  /** The first response is done: retire it, let the next one write, read on if paused. */
  private next(): void {
    for (let done = this.responses.first; done !== undefined && done.ended && !this.closed; done = this.responses.first) {
      if (done.cut) return this.cutNow(done.resetOnCut); // its turn: what it sent is out, now cut
      const held = this.responses.retireFirst();
      done.closed();
      if (done.closeAfter) return this.closeAfterResponse();
      if (held !== undefined) for (const data of held) this.write(data);
    }
    if (this.closed) return;
    if (this.responses.length === 0) this.nothingOwed();
    if (this.paused && !this.closed && this.mayParse()) this.resume();
  }

  /**
   * Every response is complete: close after the last request, else the keep-alive time
   * starts once the client has taken the bytes (until then the request timeout bounds how
   * long it may take them).
   */
  private nothingOwed(): void {
    if (this.reading === Reading.stopped) return this.closeAfterResponse();
    if (this.reading !== Reading.head) return;
    const sending = this.output.pendingBytes > 0;
    if (this.held.length > 0) {
      // Requests wait unread behind output the client does not take: it has the request timeout.
      if (this.paused) this.setDeadline(Date.now() + this.limits.httpRequestTimeoutMs, Deadline.idle);
      return; // else the head being received has its own deadline
    }
    this.setDeadline(Date.now() + (sending ? this.limits.httpRequestTimeoutMs : this.limits.httpKeepAliveTimeoutMs), Deadline.idle);
  }

  /** The client has taken every response byte: read on if reading was paused for it, or start the idle or linger time. */
  drained(): void {
    if (this.deadlineKind === Deadline.linger) return this.linger();
    if (this.closed) return;
    if (this.paused && this.mayParse()) this.resume();
    if (this.responses.length === 0 && this.deadlineKind === Deadline.idle) this.nothingOwed();
  }

  /** Whether another request may be taken on: few enough in flight, and responses being read. */
  private mayParse(): boolean {
    return this.responses.length < this.limits.httpMaxPipelined && this.output.pendingBytes <= this.limits.outputHighWaterMark;
  }

  /**
   * The last response is on its way: half-close after it and read and drop what still comes
   * (a lingering close, RFC 9112 9.6: closing at once could reset the connection and lose the
   * response while an unread body is still arriving).
   */
  private closeAfterResponse(): void {
    this.reading = Reading.stopped;
    this.held.clear();
    this.closed = true;
    this.responses.closeAll();
    this.socket.end();
    this.socket.resume();
    this.linger();
  }

  /** Cut a closing connection LINGER_MS after its last bytes were taken; while they are still being taken, after the request timeout. */
  private linger(): void {
    const sending = this.output.pendingBytes > 0;
    this.setDeadline(Date.now() + (sending ? this.limits.httpRequestTimeoutMs : LINGER_MS), Deadline.linger);
  }

  /**
   * A request that cannot be parsed or arrived too slowly: an error response after those
   * already owed, then close. The request whose body was being read is dropped unanswered
   * (its handler waits for a body that will not come), unless its answer has begun.
   */
  private refuse(spec: HttpErrorSpec): void {
    if (this.closed) return;
    this.reading = Reading.stopped;
    this.held.clear();
    this.body = undefined;
    const unread = this.bodyOwner;
    this.bodyOwner = undefined;
    if (unread !== undefined && !unread.ended) {
      if (unread.headersSent) return this.destroy();
      this.responses.remove(unread);
    }
    const res = new HttpResponse(this, false, 1);
    this.responses.push(res);
    res.endRaw(rawErrorResponse(spec));
  }

  private pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  private resume(): void {
    this.paused = false;
    if (this.held.length > 0 && !this.parsing) this.parseHeld();
    if (!this.paused && !this.closed) this.socket.resume();
  }

  private setDeadline(at: number, kind: Deadline): void {
    this.deadline = at;
    this.deadlineKind = kind;
  }

  private onSocketClose(): void {
    this.closed = true;
    this.reading = Reading.stopped;
    this.held.clear();
    this.body = undefined;
    this.responses.closeAll();
  }
}
