/**
 * A loopback TCP proxy standing between a store and its server, so a test can cut the line
 * (stop), make it silent (blackhole) or restore it on the same port, without touching the
 * real server other tests and users rely on.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /**
   * Stop forwarding while on; bytes wait in the socket buffers and flow again when off, like
   * a server that hangs (SIGSTOP) and then resumes. Connections stay open.
   */
  blackhole(on: boolean): void;
  /** Close the listener and every connection (a stopped server). */
  stop(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, listenPort = 0): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let silent = false;
  const server: Server = createServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port: targetPort });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.on('data', (chunk) => outbound.write(chunk));
    outbound.on('data', (chunk) => inbound.write(chunk));
    if (silent) {
      inbound.pause();
      outbound.pause();
    }
    inbound.on('end', () => outbound.end());
    outbound.on('end', () => inbound.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : listenPort;
  return {
    port,
    blackhole(on) {
      silent = on;
      for (const socket of sockets) {
        if (on) socket.pause();
        else socket.resume();
      }
    },
    stop() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
