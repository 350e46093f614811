import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { PeerRights } from '../security/cert-rights.js';
import type { GearTlsSetup } from '../security/gear-tls.js';
import { AddressCounts } from './address-counts.js';
import { tellingOfInput, type BusyPoll } from './busy-poll.js';
import { GearSession, type SessionContext } from './gear-session.js';
import { isLoopback } from './peer-address.js';
import { withSharedReadBuffer } from './shared-read-socket.js';

export interface ListenerLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly backlog: number;
}

/**
 * The Gearman port: accepts connections within the connection limits and gives each a
 * GearSession. Knows nothing of packets.
 */
export class GearListener {
  readonly sessions = new Set<GearSession>();
  private readonly servers: Server[] = [];
  private readonly perAddress = new AddressCounts();
  private readonly ctx: SessionContext;
  private readonly limits: ListenerLimits;

  /** TLS on every connection when set (gearmand --ssl, spec 1.13). */
  private readonly tls: GearTlsSetup | undefined;
  /** Told of every read when --busy-poll is on (busy-poll.ts). */
  private readonly busyPoll: BusyPoll | undefined;

  constructor(ctx: SessionContext, limits: ListenerLimits, tls?: GearTlsSetup, busyPoll?: BusyPoll) {
    this.ctx = ctx;
    this.limits = limits;
    this.tls = tls;
    this.busyPoll = busyPoll;
  }

  /** Listen on each address (all addresses when none is given); resolves with the bound port. */
  async listen(port: number, addresses: readonly string[]): Promise<number> {
    const hosts = addresses.length === 0 ? [undefined] : addresses;
    let boundPort = port;
    for (const host of hosts) {
      const server = this.createServer();
      server.maxConnections = this.limits.maxConnections;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: boundPort, host, backlog: this.limits.backlog }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.ctx.log('warn', 'listener error', { error: String(err) }));
      const address = server.address();
      if (address && typeof address === 'object') boundPort = address.port;
      this.servers.push(server);
    }
    return boundPort;
  }

  private createServer(): Server {
    const tls = this.tls;
    const busyPoll = this.busyPoll;
    if (tls === undefined) {
      // Paused on accept so the socket can be re-wrapped to read into the shared buffer.
      return createServer({ noDelay: true, keepAlive: true, pauseOnConnect: true }, (accepted) => {
        let session: GearSession | undefined;
        const socket = withSharedReadBuffer(accepted, tellingOfInput(busyPoll, (buffer: Buffer, length: number) => session!.receive(buffer, length)));
        if (this.admit(socket)) session = this.accept(socket, undefined, true);
      });
    }
    // TLS: count the raw connection at once (limits apply before the handshake), start the
    // session when the handshake is done; handshakeTimeout cuts off silent peers.
    const server = createTlsServer({ ...tls.serverOptions, noDelay: true, keepAlive: true }, (socket: TLSSocket) => {
      if (socket.destroyed) return;
      const session = this.accept(socket, tls.rightsOf(socket));
      socket.on('data', tellingOfInput(busyPoll, (chunk: Buffer) => session.receive(chunk)));
    });
    server.on('connection', (raw: Socket) => this.admit(raw));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      this.ctx.log('info', 'TLS handshake failed', { address: socket.remoteAddress, code: err.code, reason: err.message });
      socket.destroy(); // with a listener here, Node leaves closing the socket to us
    });
    return server;
  }

  /** Count a new TCP connection against the limits; refuse it (and return false) beyond them. */
  private admit(socket: Socket): boolean {
    if (this.perAddress.admit(socket, this.limits.maxConnectionsPerAddress)) return true;
    this.ctx.log('info', 'connection refused: too many from this address', { address: socket.remoteAddress });
    socket.on('error', () => {});
    socket.destroy();
    return false;
  }

  /** Start a session; the caller feeds it the socket's bytes. */
  private accept(socket: Socket, rights?: PeerRights, writeToHandle = false): GearSession {
    const session = new GearSession(socket, this.ctx, isLoopback(socket.remoteAddress), rights, writeToHandle);
    this.sessions.add(session);
    socket.once('close', () => this.sessions.delete(session));
    return session;
  }

  /** Stop accepting; existing connections carry on. */
  stopAccepting(): void {
    // close() stops accepting at once; its callback would wait for every connection to end.
    for (const server of this.servers) server.close();
    this.servers.length = 0;
  }

  closeAll(): void {
    for (const session of this.sessions) session.close();
  }
}
