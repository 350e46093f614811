import { EngineErrors } from '../../engine/errors.js';
import { MAX_UNIQUE_BYTES } from '../../engine/engine.js';
import type { EngineError, SubmitResult } from '../../engine/types.js';
import { readBody } from './body.js';
import { SERVER_HEADER, type HttpContext } from './context.js';
import { HttpErrors, type HttpErrorSpec } from './errors.js';
import { HttpExchange } from './exchange.js';
import type { GearmanRequestHeaders } from './gearman-headers.js';
import { sendError } from './respond.js';
import type { HttpRequest } from './wire/request.js';
import type { HttpResponse } from './wire/response.js';

/** Per-job overhead the engine counts beside the workload (engine.ts JOB_OVERHEAD_BYTES). */
const JOB_OVERHEAD_ESTIMATE = 320;
const EMPTY = Buffer.alloc(0);
/** Bodies up to this size are drained after a refusal so the connection stays open. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * The gearmand-compatible mapping (gearman-spec 3.2, 3.5): POST/PUT /<function> with the body
 * as the workload, GET /<function>?<query> with the query as the workload. `path` is the
 * request target without its leading slashes, not decoded (gearmand), the query kept for POST/PUT.
 */
export function handleJobRequest(ctx: HttpContext, req: HttpRequest, res: HttpResponse, path: string, method: string, h: GearmanRequestHeaders): void {
  // GET /f?x: function f, workload x. gearmand asks for function `f?x` with no workload.
  const q = method === 'GET' ? path.indexOf('?') : -1;
  const fn = q === -1 ? path : path.slice(0, q);
  // Expect: 100-continue: the client holds its body back until a 100 invites it.
  const awaitsContinue = req.head.expectContinue && method !== 'GET';
  const refusal = refuseJobEarly(ctx, req.remoteAddress, fn, method, h);
  // Refused from the headers alone, before any 100: a small body already sent is read and
  // dropped and the connection kept; a large, chunked or held-back one is not read, so close.
  if (refusal !== undefined) {
    return sendError(res, refusal, awaitsContinue || h.contentLength > DRAIN_LIMIT || h.chunked || refusal === HttpErrors.bodyTooLarge);
  }
  const address = req.remoteAddress;
  if (method === 'GET') {
    // A GET body is ignored, as gearmand (read and dropped).
    return submitJob(ctx, res, fn, q === -1 ? EMPTY : Buffer.from(path.slice(q + 1), 'latin1'), h, address);
  }
  if (awaitsContinue) res.writeContinue();
  readBody(req, ctx.limits.httpMaxBodyBytes, (error, body) => {
    if (error !== undefined) return sendError(res, error, true);
    submitJob(ctx, res, fn, body, h, address);
  });
}

/** What the job mapping refuses from the request line and headers alone; undefined = go on. */
function refuseJobEarly(ctx: HttpContext, address: string, fn: string, method: string, h: GearmanRequestHeaders): HttpErrorSpec | undefined {
  if (h.invalid !== undefined) return HttpErrors.invalidHeader;
  // gearmand answers ERROR for a unique over 64 bytes (and may abort: spec 3.4).
  if (h.unique.length > MAX_UNIQUE_BYTES) return HttpErrors.uniqueTooLong;
  const maxWaits = ctx.limits.httpMaxWaitsPerAddress;
  if (!h.background && maxWaits > 0 && (ctx.waitsByAddress.get(address) ?? 0) >= maxWaits) return HttpErrors.tooManyWaits;
  if (fn === '') return HttpErrors.notFound;
  if (!served(ctx, fn)) return HttpErrors.noWorker;
  return method === 'GET' ? undefined : refuseBodyEarly(ctx, h);
}

/** With --http-require-worker, only functions some worker registered take HTTP jobs (issue 4). */
function served(ctx: HttpContext, functionName: string): boolean {
  if (!ctx.limits.httpRequireWorker) return true;
  const fn = ctx.engine.functions.get(functionName);
  return fn !== undefined && fn.workers.length > 0;
}

/** A body that cannot be accepted, decided from the headers alone; undefined = read it. */
function refuseBodyEarly(ctx: HttpContext, h: GearmanRequestHeaders): HttpErrorSpec | undefined {
  if (h.contentLength > ctx.limits.httpMaxBodyBytes) return HttpErrors.bodyTooLarge;
  const engine = ctx.engine;
  const budget = engine.options.maxJobBytes;
  // Cheap early refusal once the engine's job memory budget is reached (issue 4).
  if (budget > 0 && engine.memoryBytes + Math.max(h.contentLength, 0) + JOB_OVERHEAD_ESTIMATE > budget) return HttpErrors.memoryFull;
  if (engine.shuttingDown) return HttpErrors.shuttingDown;
  return undefined;
}

function submitJob(ctx: HttpContext, res: HttpResponse, functionName: string, data: Buffer, h: GearmanRequestHeaders, address: string): void {
  if (res.destroyed) return; // the caller left while its body arrived
  const engine = ctx.engine;
  const request = { functionName, unique: h.unique, data, priority: h.priority, background: h.background };
  if (h.background) {
    const result = engine.submit(undefined, request);
    if (!result.ok) return sendError(res, errorOf(result.error), false, ['X-Gearman-Command', 'ERROR']);
    if (result.durable === undefined) return jobCreated(res, result.job.handle);
    const handle = result.job.handle;
    result.durable.then(
      () => jobCreated(res, handle),
      () => sendError(res, HttpErrors.storeFailed, false, ['X-Gearman-Command', 'ERROR']),
    );
    return;
  }
  const exchange = new HttpExchange(ctx, res, address, h.eventStream);
  const result: SubmitResult = engine.submit(exchange.peer, request);
  if (!result.ok) return sendError(res, errorOf(result.error), false, ['X-Gearman-Command', 'ERROR']);
  const limits = ctx.limits;
  const timeout = h.timeoutMs === undefined ? limits.httpWaitTimeoutMs : Math.min(Math.max(h.timeoutMs, 1), limits.httpMaxWaitTimeoutMs);
  exchange.started(result.job.handle, timeout);
}

/** Background answer, as gearmand (spec 3.4): 200, JOB_CREATED, the handle, no body. */
function jobCreated(res: HttpResponse, handle: string): void {
  if (res.destroyed) return;
  res.writeHead(200, [
    'Server', SERVER_HEADER,
    'X-Gearman-Job-Handle', handle,
    'X-Gearman-Command', 'JOB_CREATED',
    'Content-Length', '0',
  ]);
  res.end();
}

/** The engine's ERROR replies as HTTP errors. */
function errorOf(error: EngineError): HttpErrorSpec {
  switch (error) {
    case EngineErrors.queueFull:
      return HttpErrors.queueFull;
    case EngineErrors.memoryFull:
      return HttpErrors.memoryFull;
    case EngineErrors.tooManyFunctions:
      return HttpErrors.tooManyFunctions;
    case EngineErrors.shuttingDown:
      return HttpErrors.shuttingDown;
    case EngineErrors.uniqueTooLarge:
      return HttpErrors.uniqueTooLong;
    case EngineErrors.storeFailed:
      return HttpErrors.storeFailed;
  }
  return HttpErrors.internal;
}
