import type { Peer } from '../../engine/peer.js';
import type { JobView, PeerListener } from '../../engine/types.js';
import type { HttpContext } from './context.js';
import { SERVER_HEADER } from './context.js';
import { errorBody, HttpErrors, type HttpErrorSpec } from './errors.js';
import { sendError } from './respond.js';
import type { HttpResponse } from './wire/response.js';

const COMPLETE_TRAILER = { 'X-Gearman-Command': 'WORK_COMPLETE' } as const;

const Mode = {
  /** Nothing sent yet: the result goes out with a Content-Length. */
  waiting: 0,
  /** WORK_DATA arrived: the body is streamed with chunked encoding, the result last. */
  streaming: 1,
  /** Accept: text/event-stream: every event is an SSE event. */
  events: 2,
  done: 3,
} as const;
type Mode = (typeof Mode)[keyof typeof Mode];

/**
 * One foreground HTTP caller waiting on a job: the engine's PeerListener for it. It owns
 * its Peer (one per request, so pipelined requests on one connection never share one),
 * the wait timer and the per-address wait count; all are released when the response closes.
 */
export class HttpExchange implements PeerListener {
  readonly ctx: HttpContext;
  readonly res: HttpResponse;
  readonly address: string;
  readonly peer: Peer;
  handle = '';
  private mode: Mode;
  private timer: NodeJS.Timeout | undefined;

  constructor(ctx: HttpContext, res: HttpResponse, address: string, eventStream: boolean) {
    this.ctx = ctx;
    this.res = res;
    this.address = address;
    this.mode = eventStream ? Mode.events : Mode.waiting;
    this.peer = ctx.engine.connect(this, address);
    const waits = ctx.waitsByAddress;
    waits.set(address, (waits.get(address) ?? 0) + 1);
    res.whenClosed(() => this.release());
  }

  /** The job was accepted: start the wait (and the event stream). */
  started(handle: string, timeoutMs: number): void {
    this.handle = handle;
    this.timer = setTimeout(() => this.timedOut(), timeoutMs);
    if (this.mode === Mode.events) {
      this.res.writeHead(200, [
        'Server', SERVER_HEADER,
        'Content-Type', 'text/event-stream',
        'Cache-Control', 'no-store',
        'X-Gearman-Job-Handle', handle,
        'X-Gearman-Command', 'JOB_CREATED',
      ]);
      this.res.flushHeaders();
    }
  }

  /** The response closed (sent, or the client went away): stop waiting, free the slot. */
  private release(): void {
    this.finished();
    // A queued job nobody waits for any more is withdrawn by the engine (spec 1.8).
    this.ctx.engine.disconnect(this.peer);
    const waits = this.ctx.waitsByAddress;
    const left = (waits.get(this.address) ?? 1) - 1;
    if (left <= 0) waits.delete(this.address);
    else waits.set(this.address, left);
  }

  private timedOut(): void {
    this.timer = undefined;
    const mode = this.mode;
    this.mode = Mode.done;
    this.ctx.engine.detach(this.peer, this.handle);
    if (mode === Mode.waiting) {
      sendError(this.res, HttpErrors.waitTimeout, false, ['X-Gearman-Job-Handle', this.handle]);
    } else if (mode === Mode.events) {
      this.event('error', errorBody(HttpErrors.waitTimeout));
      this.res.end();
    } else if (mode === Mode.streaming) {
      this.res.destroy(); // a truncated chunked body: the client sees an error, not success
    }
  }

  // ---- PeerListener ---------------------------------------------------------------

  wake(): void {}

  workData(_job: JobView, data: Buffer): void {
    if (this.mode === Mode.events) return this.event('data', data);
    if (this.mode === Mode.waiting) {
      this.mode = Mode.streaming;
      this.res.writeHead(200, [
        'Server', SERVER_HEADER,
        'X-Gearman-Job-Handle', this.handle,
        'X-Gearman-Command', 'WORK_DATA',
        'Trailer', 'X-Gearman-Command',
      ]);
    }
    if (this.mode === Mode.streaming && data.length > 0) {
      this.res.write(data);
      this.checkBacklog();
    }
  }

  workWarning(_job: JobView, data: Buffer): void {
    if (this.mode === Mode.events) this.event('warning', data);
  }

  workStatus(_job: JobView, numerator: Buffer, denominator: Buffer): void {
    if (this.mode !== Mode.events) return;
    const n = numerator.toString('latin1');
    const d = denominator.toString('latin1');
    this.event('status', Buffer.from(JSON.stringify({ numerator: n, denominator: d })));
  }

  workComplete(_job: JobView, data: Buffer): void {
    const mode = this.mode;
    this.finished();
    if (mode === Mode.waiting) {
      this.res.writeHead(200, [
        'Server', SERVER_HEADER,
        'X-Gearman-Job-Handle', this.handle,
        'X-Gearman-Command', 'WORK_COMPLETE',
        'Content-Length', String(data.length),
      ]);
      this.res.end(data); // a small result goes out in one write with the head
    } else if (mode === Mode.streaming) {
      this.res.end(data, COMPLETE_TRAILER);
    } else if (mode === Mode.events) {
      this.event('complete', data);
      this.res.end();
    }
  }

  workFail(_job: JobView): void {
    this.failed(HttpErrors.workFail, undefined);
  }

  /** HTTP callers always hear the exception text (gearmand needs --exceptions for that). */
  workException(_job: JobView, data: Buffer): void {
    this.failed(HttpErrors.workException, data);
  }

  private failed(spec: HttpErrorSpec, exception: Buffer | undefined): void {
    const mode = this.mode;
    this.finished();
    const command = exception === undefined ? 'WORK_FAIL' : 'WORK_EXCEPTION';
    if (mode === Mode.waiting) {
      if (exception === undefined) {
        sendError(this.res, spec, false, ['X-Gearman-Job-Handle', this.handle, 'X-Gearman-Command', command]);
        return;
      }
      this.res.writeHead(spec.status, [
        'Server', SERVER_HEADER,
        'Content-Type', 'text/plain; charset=utf-8',
        'X-Gearman-Job-Handle', this.handle,
        'X-Gearman-Command', command,
        'Content-Length', String(exception.length),
      ]);
      this.res.end(exception);
    } else if (mode === Mode.streaming) {
      this.res.destroy(); // no final chunk: the partial body must not read as a success
    } else if (mode === Mode.events) {
      this.event(exception === undefined ? 'fail' : 'exception', exception ?? errorBody(spec));
      this.res.end();
    }
  }

  private finished(): void {
    this.mode = Mode.done;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One server-sent event; payload lines become `data:` lines (SSE is line-based). */
  private event(name: string, payload: Buffer): void {
    let text = `event: ${name}\n`;
    const lines = payload.toString('utf8').split(/\r\n|\r|\n/);
    for (const line of lines) text += `data: ${line}\n`;
    this.res.write(Buffer.from(text + '\n'));
    this.checkBacklog();
  }

  /** A caller that does not read its stream is cut off before it costs unbounded memory. */
  private checkBacklog(): void {
    if (this.res.writableLength > this.ctx.limits.maxOutputBuffer) {
      this.ctx.logger.info({ address: this.address, handle: this.handle }, 'HTTP caller not reading its stream; closing');
      this.res.destroy();
    }
  }
}
