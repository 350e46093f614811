import type { Server as NetServer, Socket } from 'node:net';
import { admitHttpRequest, createHttpGuard, createHttpListener } from '../../security/http-wire.js';
import type { HttpGuard } from '../../security/http-guard.js';
import type { Engine } from '../../engine/engine.js';
import type { HttpFront } from '../server.js';
import type { Logger } from '../logger.js';
import { AddressCounts } from '../address-counts.js';
import { tellingOfInput, type BusyPoll } from '../busy-poll.js';
import { withSharedReadBuffer } from '../shared-read-socket.js';
import { openOutput } from '../socket-output.js';
import { handleApiRequest } from './api.js';
import { handleJobRequest } from './compat.js';
import { apiRest, SERVER_HEADER, type HttpContext, type HttpLimits } from './context.js';
import { HttpErrors } from './errors.js';
import { hasBody, readGearmanHeaders } from './gearman-headers.js';
import { rawErrorResponse } from './raw-response.js';
import { lingerClose, sendError } from './respond.js';
import { HttpConnection } from './wire/connection.js';
import type { HttpRequest } from './wire/request.js';
import type { HttpResponse } from './wire/response.js';

const ALLOWED_JOB_METHODS = 'GET, HEAD, POST, PUT';

/**
 * The HTTP front: accepts connections within the connection limits, runs each as an
 * HttpConnection (our own HTTP/1.1, src/server/http/wire) and routes each request to the
 * gearmand-compatible job mapping or the reserved /_gearport/ API. One sweeper enforces the
 * headers, request and keep-alive timeouts of every connection.
 */
export class HttpFrontServer implements HttpFront {
  readonly ctx: HttpContext;
  private readonly listeners: NetServer[] = [];
  private readonly connections = new Set<HttpConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly connectionsByAddress = new AddressCounts();
  private readonly sweeper: NodeJS.Timeout;
  private readonly onRequestBound = (req: HttpRequest, res: HttpResponse) => this.onRequest(req, res);

  /** Tokens, rate limits and CORS (src/security): asked before any route runs. */
  private readonly guard: HttpGuard;
  private readonly disposeGuard: () => void;

  constructor(engine: Engine, limits: HttpLimits, logger: Logger, busyPoll?: BusyPoll) {
    this.ctx = { engine, limits, logger, waitsByAddress: new Map(), busyPoll };
    ({ guard: this.guard, dispose: this.disposeGuard } = createHttpGuard(limits.security));
    // How often deadlines are looked at: a fraction of the shortest timeout.
    const shortest = Math.min(limits.httpHeadersTimeoutMs, limits.httpRequestTimeoutMs, limits.httpKeepAliveTimeoutMs);
    const interval = Math.max(20, Math.min(1000, Math.floor(shortest / 4)));
    this.sweeper = setInterval(() => this.sweep(), interval);
    this.sweeper.unref();
  }

  async listen(port: number, addresses: readonly string[]): Promise<number> {
    const hosts = addresses.length === 0 ? [undefined] : addresses;
    let boundPort = port;
    for (const host of hosts) {
      // HTTPS when --http-tls-cert/--http-tls-key are set; the handshake gets the headers timeout.
      const server = createHttpListener(this.ctx.limits.security, this.ctx.limits.httpHeadersTimeoutMs, (socket, plain) => this.accept(socket, plain));
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
    clearInterval(this.sweeper);
    for (const socket of this.sockets) socket.destroy();
  }

  // ---- connections ----------------------------------------------------------------

  /** `plain`: a TCP socket accepted paused, re-wrapped here to read into the shared buffer. */
  private accept(accepted: Socket, plain: boolean): void {
    let connection: HttpConnection | undefined;
    const receive = tellingOfInput(this.ctx.busyPoll, (chunk: Buffer) => connection?.receive(chunk));
    // Half-open, so that a request cut short by the client's end can still be answered 400.
    const socket = plain ? withSharedReadBuffer(accepted, (buffer, length) => receive(buffer.subarray(0, length)), true) : accepted;
    socket.on('error', () => {}); // resets from clients are routine; 'close' follows
    const { httpMaxConnections, httpMaxConnectionsPerAddress } = this.ctx.limits;
    if (this.sockets.size >= httpMaxConnections || !this.connectionsByAddress.admit(socket, httpMaxConnectionsPerAddress)) {
      // Refused cheaply: one canned response, no parser.
      this.ctx.logger.info({ address: socket.remoteAddress }, 'HTTP connection refused: connection limit');
      socket.write(rawErrorResponse(HttpErrors.tooManyConnections));
      lingerClose(socket);
      return;
    }
    socket.setNoDelay(true);
    connection = new HttpConnection(socket, openOutput(socket, plain, () => connection!.drained()), this.ctx.limits, this.onRequestBound);
    if (!plain) socket.on('data', receive);
    this.sockets.add(socket);
    this.connections.add(connection);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.connections.delete(connection!);
    });
    if (plain) socket.resume();
  }

  private sweep(): void {
    const now = Date.now();
    for (const connection of this.connections) {
      if (connection.deadline !== 0 && now >= connection.deadline) connection.expire();
    }
  }

  // ---- requests -------------------------------------------------------------------

  /** `h` is read once here and used by the guard and the job mapping alike, so both see the same request. */
  private onRequest(req: HttpRequest, res: HttpResponse): void {
    const h = readGearmanHeaders(req.head);
    const url = req.url;
    const method = req.method;
    // gearmand: every leading slash is removed; the rest is the function name, undecoded.
    let start = 0;
    while (url.charCodeAt(start) === 47 /* / */) start++;
    const path = url.slice(start);
    if (!admitHttpRequest(this.guard, req, res, path, h)) return; // 401/403/429, CORS preflight; no 100 for them
    if (start === 0) return sendError(res, HttpErrors.badRequest, true);
    const rest = apiRest(path);
    if (rest !== undefined) return handleApiRequest(this.ctx, req, res, rest, method);
    switch (method) {
      case 'POST':
      case 'PUT':
      case 'GET':
        return handleJobRequest(this.ctx, req, res, path, method, h);
      case 'HEAD':
        // gearmand submits a real job for HEAD and sends the body (spec 3.7 item 4); we submit nothing.
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

export function createHttpFront(engine: Engine, config: HttpLimits, logger: Logger, busyPoll?: BusyPoll): HttpFront {
  return new HttpFrontServer(engine, config, logger, busyPoll);
}
