/**
 * The HTTP front's use of the security pieces: the request gate around HttpGuard, and the
 * listener (plain or TLS) for --http-tls-cert/--http-tls-key.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { SecurityConfig } from './config.js';
import { HttpGuard, refusalBody } from './http-guard.js';
import { registerReloadable } from './reload.js';
import { loadTlsMaterial } from './tls.js';
import { SERVER_HEADER } from '../server/http/context.js';
import { hasBody, type GearmanRequestHeaders } from '../server/http/gearman-headers.js';
import type { HttpRequest } from '../server/http/wire/request.js';
import type { HttpResponse } from '../server/http/wire/response.js';


/** Build the guard (loads the tokens file: a bad one stops start-up) and hook it to SIGHUP. */
export function createHttpGuard(security: SecurityConfig): { guard: HttpGuard; dispose: () => void } {
  const guard = new HttpGuard(security);
  const dispose = guard.authenticates
    ? registerReloadable({ name: 'HTTP tokens', reload: () => `${guard.reloadTokens()} tokens in force` })
    : () => {};
  return { guard, dispose };
}

/**
 * Admit a request or answer it: 401/403/429 as JSON in the front's error shape, 204 for a
 * CORS preflight. Returns false when answered (before any 100 Continue is sent).
 */
export function admitHttpRequest(guard: HttpGuard, req: HttpRequest, res: HttpResponse, path: string, h: GearmanRequestHeaders): boolean {
  const decision = guard.check({
    method: req.method,
    path,
    address: req.remoteAddress,
    authorization: h.authorization,
    origin: h.origin,
    // The job mapping's own reading: a right checked on another reading could be bypassed.
    background: h.background,
  });
  if (decision.allowed) {
    for (let i = 0; i < decision.headers.length; i += 2) res.setHeader(decision.headers[i]!, decision.headers[i + 1]!);
    return true;
  }
  const { refusal } = decision;
  const body = refusalBody(refusal);
  const headers: string[] = ['Server', SERVER_HEADER, ...refusal.headers];
  if (refusal.status !== 204) headers.push('Content-Type', 'application/json', 'Content-Length', String(body.length), 'Cache-Control', 'no-store');
  // A body we will not read: close after answering rather than parse it as the next request.
  if (hasBody(h)) res.closeAfter = true;
  res.writeHead(refusal.status, headers);
  res.end(body);
  return false;
}

/**
 * A listener for the HTTP front: TLS when a certificate is configured (checked at start:
 * a bad one stops start-up, never plain HTTP instead), plain TCP otherwise. Plain sockets
 * are handed over paused (`plain` true), for the front to read them its own way.
 */
export function createHttpListener(security: SecurityConfig, handshakeTimeoutMs: number, onSocket: (socket: Socket, plain: boolean) => void): Server {
  if (security.httpTlsCertFile === undefined || security.httpTlsKeyFile === undefined) {
    return createNetServer({ noDelay: true, pauseOnConnect: true }, (socket) => onSocket(socket, true));
  }
  const material = loadTlsMaterial({ certFile: security.httpTlsCertFile, keyFile: security.httpTlsKeyFile });
  const server = createTlsServer({ ...material, handshakeTimeout: handshakeTimeoutMs, noDelay: true, allowHalfOpen: true, ALPNProtocols: ['http/1.1'] }, (socket) => onSocket(socket, false));
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}
