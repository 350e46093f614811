import { createServer, type Server, type Socket } from 'node:net';
import { GearSession, type SessionContext } from './gear-session.js';

export interface ListenerLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly backlog: number;
}

/** Whether an address is this machine (admin commands that change state need it). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * The Gearman port: accepts connections within the connection limits and gives each a
 * GearSession. Knows nothing of packets.
 */
export class GearListener {
  readonly sessions = new Set<GearSession>();
  private readonly servers: Server[] = [];
  private readonly perAddress = new Map<string, number>();
  private readonly ctx: SessionContext;
  private readonly limits: ListenerLimits;

  constructor(ctx: SessionContext, limits: ListenerLimits) {
    this.ctx = ctx;
    this.limits = limits;
  }

  /** Listen on each address (all addresses when none is given); resolves with the bound port. */
  async listen(port: number, addresses: readonly string[]): Promise<number> {
    const hosts = addresses.length === 0 ? [undefined] : addresses;
    let boundPort = port;
    for (const host of hosts) {
      const server = createServer({ noDelay: true, keepAlive: true }, (socket) => this.accept(socket));
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

  private accept(socket: Socket): void {
    const address = socket.remoteAddress ?? '-';
    const perAddressLimit = this.limits.maxConnectionsPerAddress;
    const count = (this.perAddress.get(address) ?? 0) + 1;
    if (perAddressLimit > 0 && count > perAddressLimit) {
      this.ctx.log('info', 'connection refused: too many from this address', { address });
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.perAddress.set(address, count);
    const session = new GearSession(socket, this.ctx, isLoopback(address));
    this.sessions.add(session);
    socket.once('close', () => {
      this.sessions.delete(session);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
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
