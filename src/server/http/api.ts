import type { JobStatus } from '../../engine/types.js';
import { isLoopback } from '../peer-address.js';
import { VERSION } from '../version.js';
import type { HttpContext } from './context.js';
import { HttpErrors } from './errors.js';
import { openApiDocument } from './openapi.js';
import { createMetrics } from '../metrics.js';
import type { Registry } from 'prom-client';
import type { Engine } from '../../engine/engine.js';
import { sendBody, sendError, sendJson } from './respond.js';
import type { HttpRequest } from './wire/request.js';
import type { HttpResponse } from './wire/response.js';

/** The reserved routes and their methods (the OpenAPI document is checked against this in a test). */
export const apiRoutes = {
  '/_gearport/health': ['GET', 'HEAD'],
  '/_gearport/openapi.json': ['GET', 'HEAD'],
  '/_gearport/functions': ['GET', 'HEAD'],
  '/_gearport/workers': ['GET', 'HEAD'],
  '/_gearport/metrics': ['GET', 'HEAD'],
  '/_gearport/jobs/{handle}': ['GET', 'HEAD', 'DELETE'],
  '/_gearport/uniques/{unique}': ['GET', 'HEAD'],
} as const satisfies Record<string, readonly string[]>;

let openApiBody: Buffer | undefined;
const metricsByEngine = new WeakMap<Engine, Registry>();

/**
 * Route `rest`, the path after `_gearport`, to the read-only admin API, the health check and
 * job status and cancel. Health answers without authentication.
 */
export function handleApiRequest(ctx: HttpContext, req: HttpRequest, res: HttpResponse, rest: string, method: string): void {
  // No API route takes a body: one sent is read and dropped.
  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  const slash = path.indexOf('/', 1);
  const first = slash === -1 ? path : path.slice(0, slash);
  const param = slash === -1 ? undefined : path.slice(slash + 1);
  const head = method === 'HEAD';
  const allow = (template: keyof typeof apiRoutes) => {
    if ((apiRoutes[template] as readonly string[]).includes(method)) return true;
    sendError(res, HttpErrors.methodNotAllowed, false, ['Allow', apiRoutes[template].join(', ')]);
    return false;
  };

  switch (first) {
    case '/health':
      if (param !== undefined || !allow('/_gearport/health')) break;
      // 503 while stopping, so load balancers drain this server.
      if (ctx.engine.shuttingDown) return sendJson(res, 503, { status: 'stopping', version: VERSION }, head);
      return sendJson(res, 200, { status: 'ok', version: VERSION }, head);
    case '/openapi.json':
      if (param !== undefined || !allow('/_gearport/openapi.json')) break;
      openApiBody ??= Buffer.from(JSON.stringify(openApiDocument(VERSION), null, 2) + '\n');
      return sendBody(res, 200, 'application/json', openApiBody, head);
    case '/functions':
      if (param !== undefined || !allow('/_gearport/functions')) break;
      return sendJson(res, 200, { functions: functionsListing(ctx) }, head);
    case '/workers':
      if (param !== undefined || !allow('/_gearport/workers')) break;
      return sendJson(res, 200, { workers: workersListing(ctx) }, head);
    case '/metrics': {
      if (param !== undefined || !allow('/_gearport/metrics')) break;
      let registry = metricsByEngine.get(ctx.engine);
      if (registry === undefined) {
        registry = createMetrics(ctx.engine, ctx.busyPoll);
        metricsByEngine.set(ctx.engine, registry);
      }
      const contentType = registry.contentType;
      // A failed collection is answered, not left as an unhandled rejection that ends the process.
      registry.metrics().then(
        (text) => sendBody(res, 200, contentType, Buffer.from(text), head),
        (err: unknown) => {
          ctx.logger.warn({ error: String(err) }, 'metrics collection failed');
          sendError(res, HttpErrors.internal);
        },
      );
      return;
    }
    case '/jobs': {
      if (param === undefined || param === '' || param.includes('/')) break;
      if (!allow('/_gearport/jobs/{handle}')) return;
      const handle = decodeParam(param);
      if (handle === undefined) return sendError(res, HttpErrors.badRequest);
      if (method === 'DELETE') return cancelJob(ctx, req, res, handle);
      const status = ctx.engine.status(handle);
      if (!status.known) return sendError(res, HttpErrors.jobNotFound);
      return sendJson(res, 200, { handle, ...statusJson(status) }, head);
    }
    case '/uniques': {
      if (param === undefined || param === '' || param.includes('/')) break;
      if (!allow('/_gearport/uniques/{unique}')) return;
      const unique = decodeParam(param);
      if (unique === undefined) return sendError(res, HttpErrors.badRequest);
      const status = ctx.engine.statusByUnique(unique);
      if (!status.known) return sendError(res, HttpErrors.jobNotFound);
      return sendJson(res, 200, { unique, ...statusJson(status) }, head);
    }
  }
  if (!res.headersSent) sendError(res, HttpErrors.notFound);
}

/**
 * Cancel by handle (engine.cancel). With tokens on, the guard already required the `cancel`
 * right before routing; without tokens only loopback callers may cancel.
 */
function cancelJob(ctx: HttpContext, req: HttpRequest, res: HttpResponse, handle: string): void {
  const tokensOn = ctx.limits.security.httpTokensFile !== undefined;
  if (!tokensOn && !isLoopback(req.remoteAddress)) return sendError(res, HttpErrors.forbidden);
  if (!ctx.engine.cancel(handle)) return sendError(res, HttpErrors.jobNotFound);
  sendJson(res, 200, { handle, cancelled: true });
}

function statusJson(status: JobStatus) {
  return { known: true, running: status.running, numerator: status.numerator, denominator: status.denominator, waitingClients: status.clients };
}

/**
 * Path parameters are percent-decoded to bytes, held as latin1 like every handle and unique
 * (a unique sent as raw UTF-8 bytes in X-Gearman-Unique is found with its %-encoded UTF-8).
 */
function decodeParam(param: string): string | undefined {
  if (!param.includes('%')) return param;
  let out = '';
  for (let i = 0; i < param.length; i++) {
    const c = param[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = param.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
    out += String.fromCharCode(Number.parseInt(hex, 16));
    i += 2;
  }
  return out;
}

function functionsListing(ctx: HttpContext) {
  const out = [];
  for (const fn of ctx.engine.functions.values()) {
    out.push({ name: fn.name, queued: fn.total - fn.running, running: fn.running, workers: fn.workers.length });
  }
  return out;
}

/** Connections that registered at least one function (the admin `workers` lists every connection). */
function workersListing(ctx: HttpContext) {
  const out = [];
  for (const peer of ctx.engine.peers) {
    if (peer.registrations.length === 0) continue;
    out.push({ id: peer.label, address: peer.address, clientId: peer.clientId, functions: peer.functionNames(), running: peer.running.size });
  }
  return out;
}
