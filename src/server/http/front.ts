import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { admitHttpRequest, createHttpGuard, createHttpListener } from '../../security/http-wire.js';
import type { HttpGuard } from '../../security/http-guard.js';
import type { Engine } from '../../engine/engine.js';
import type { HttpFront } from '../server.js';
import type { Logger } from '../logger.js';
import { AddressCounts } from '../address-counts.js';
import { handleApiRequest } from './api.js';
import { handleJobRequest, refuseBodyEarly } from './compat.js';
import { apiRest, SERVER_HEADER, type HttpContext, type HttpLimits } from './context.js';
import { HttpErrors, type HttpErrorSpec } from './errors.js';
import { hasBody, readGearmanHeaders } from './gearman-headers.js';
import { rawErrorResponse } from './raw-response.js';
import { lingerClose, sendError } from './respond.js';

const ALLOWED_JOB_METHODS = 'GET, HEAD, POST, PUT';

/**
 * The HTTP front: accepts connections within the connection limits, hands them to one
 * node:http server configured with the header, body, time and keep-alive limits, and routes
 * each request to the gearmand-compatible job mapping or the reserved /_gearport/ API.
 */
export class HttpFrontServer implements HttpFront {
  readonly ctx: HttpContext;
  private readonly http: HttpServer;
  private readonly listeners: NetServer[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly connectionsByAddress = new AddressCounts();

  /** Tokens, rate limits and CORS (src/security): asked before any route runs. */
  private readonly guard: HttpGuard;
  private readonly disposeGuard: () => void;

  constructor(engine: Engine, limits: HttpLimits, logger: Logger) {
    this.ctx = { engine, limits, logger, waitsByAddress: new Map() };
    ({ guard: this.guard, dispose: this.disposeGuard } = createHttpGuard(limits.security));
    const headersTimeout = Math.min(limits.httpHeadersTimeoutMs, limits.httpRequestTimeoutMs);
    this.http = createHttpServer(
      {
        maxHeaderSize: limits.httpMaxHeaderBytes,
        headersTimeout,
        requestTimeout: limits.httpRequestTimeoutMs,
        keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
        // How often slow senders are looked for: a fraction of the shortest timeout.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
        // gearmand needs no Host header; neither do its clients.
        requireHostHeader: false,
        noDelay: true,
      },
      (req, res) => this.onRequest(req, res),
    );
    this.http.maxRequestsPerSocket = limits.httpMaxRequestsPerConnection;
    this.http.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.onCheckContinue(req, res));
    this.http.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => this.onClientError(err, socket));
    // Connections come from our own listeners (for the connection limits); node:http starts
    // its headers/request timeout checks on 'listening', which it never sees otherwise.
    this.http.emit('listening');
  }

  async listen(port: number, addresses: readonly string[]): Promise<number> {
    const hosts = addresses.length === 0 ? [undefined] : addresses;
    let boundPort = port;
    for (const host of hosts) {
      // HTTPS when --http-tls-cert/--http-tls-key are set; the handshake gets the headers timeout.
      const server = createHttpListener(this.ctx.limits.security, this.ctx.limits.httpHeadersTimeoutMs, (socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: boundPort, host, backlog: this.ctx.limits.backlog }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.ctx.logger.warn({ error: String(err) }, 'HTTP listener error'));
      const address = server.address();
      if (address !== null && typeof address === 'object') boundPort = address.port;
      this.listeners.push(server);
    }
    return boundPort;
  }

  stopAccepting(): void {
    for (const server of this.listeners) server.close();
    this.listeners.length = 0;
  }

  closeAll(): void {
    this.disposeGuard();
    this.http.close();
    for (const socket of this.sockets) socket.destroy();
  }

  // ---- connections ----------------------------------------------------------------

  private accept(socket: Socket): void {
    socket.on('error', () => {}); // resets from clients are routine; 'close' follows
    const { httpMaxConnections, httpMaxConnectionsPerAddress } = this.ctx.limits;
    if (this.sockets.size >= httpMaxConnections || !this.connectionsByAddress.admit(socket, httpMaxConnectionsPerAddress)) {
      // Refused cheaply: one canned response, no parser.
      this.ctx.logger.info({ address: socket.remoteAddress }, 'HTTP connection refused: connection limit');
      socket.write(rawErrorResponse(HttpErrors.tooManyConnections));
      lingerClose(socket);
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.http.emit('connection', socket);
  }

  /**
   * Requests node:http cannot parse or that arrive too slowly. node:http's own answers would
   * be bare; these carry the catalogue's JSON. 414 vs 431: node:http reports one overflow for
   * the request line and the headers together; when the bytes in hand start with a request
   * line longer than the URL limit (or one with no end yet), it is 414, else 431.
   */
  private onClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
    let spec: HttpErrorSpec;
    switch (err.code) {
      case 'HPE_HEADER_OVERFLOW':
        spec = requestLineTooLong(err.rawPacket, this.ctx.limits.httpMaxUrlBytes) ? HttpErrors.urlTooLong : HttpErrors.headersTooLarge;
        break;
      case 'ERR_HTTP_REQUEST_TIMEOUT':
        spec = HttpErrors.requestTimeout;
        break;
      case 'ECONNRESET':
      case 'EPIPE':
        socket.destroy();
        return;
      default:
        spec = HttpErrors.badRequest;
    }
    const current = (socket as unknown as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && (current === undefined || current === null || !current.headersSent)) {
      socket.write(rawErrorResponse(spec));
      lingerClose(socket);
    } else {
      socket.destroy();
    }
  }

  // ---- requests -------------------------------------------------------------------

  /** Expect: 100-continue: refuse from the headers alone, or invite the body. */
  private onCheckContinue(req: IncomingMessage, res: ServerResponse): void {
    const h = readGearmanHeaders(req.rawHeaders);
    if (!admitHttpRequest(this.guard, req, res, h)) return; // no 100-continue for a refused caller
    if (req.method === 'POST' || req.method === 'PUT') {
      const refusal = refuseBodyEarly(this.ctx, h);
      if (refusal !== undefined) return sendError(res, refusal, true);
      if (req.url !== undefined && req.url.length <= this.ctx.limits.httpMaxUrlBytes) res.writeContinue();
    }
    this.onRequest(req, res, h);
  }

  /** `h` is read once here and used by the guard and the job mapping alike, so both see the same request. */
  private onRequest(req: IncomingMessage, res: ServerResponse, h = readGearmanHeaders(req.rawHeaders)): void {
    if (req.socket.writableEnded) return; // behind a response that closes the connection
    // The last request --http-max-requests-per-connection allows: node:http writes
    // `Connection: close` but keeps the connection open; make it close after this response.
    if ((res as { maxRequestsOnConnectionReached?: boolean }).maxRequestsOnConnectionReached) res.shouldKeepAlive = false;
    if (!admitHttpRequest(this.guard, req, res, h)) return; // 401/403/429, CORS preflight
    const url = req.url ?? '';
    const method = req.method ?? '';
    if (url.length > this.ctx.limits.httpMaxUrlBytes) return sendError(res, HttpErrors.urlTooLong, true);
    if (url.charCodeAt(0) !== 47 /* / */) return sendError(res, HttpErrors.badRequest, true);
    // gearmand: every leading slash is removed; the rest is the function name, undecoded.
    let start = 1;
    while (url.charCodeAt(start) === 47) start++;
    const path = url.slice(start);
    const rest = apiRest(path);
    if (rest !== undefined) return handleApiRequest(this.ctx, req, res, rest, method);
    switch (method) {
      case 'POST':
      case 'PUT':
      case 'GET':
        return handleJobRequest(this.ctx, req, res, path, method, h);
      case 'HEAD':
        // gearmand submits a real job for HEAD and sends the body (spec 3.7 item 4); we submit nothing.
        req.resume();
        if (path === '' || path.charCodeAt(0) === 63) return sendError(res, HttpErrors.notFound);
        res.writeHead(200, ['Server', SERVER_HEADER, 'Allow', ALLOWED_JOB_METHODS, 'Content-Length', '0']);
        res.end();
        return;
      default: {
        // gearmand drops the connection without a response (spec 3.2 step 3).
        return sendError(res, HttpErrors.methodNotAllowed, hasBody(h), ['Allow', ALLOWED_JOB_METHODS]);
      }
    }
  }
}

function requestLineTooLong(raw: Buffer | undefined, maxUrlBytes: number): boolean {
  if (raw === undefined) return false;
  const space = raw.indexOf(32);
  // Only when the chunk starts with `METHOD /`: otherwise it holds later header bytes.
  if (space < 1 || space > 16 || raw[space + 1] !== 47) return false;
  const lineEnd = raw.indexOf(10);
  return lineEnd === -1 || lineEnd - space > maxUrlBytes;
}

export function createHttpFront(engine: Engine, config: HttpLimits, logger: Logger): HttpFront {
  return new HttpFrontServer(engine, config, logger);
}
