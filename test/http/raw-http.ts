/**
 * Byte-level HTTP/1.1 for tests: write exact bytes, read back responses one by one (status,
 * headers, body by Content-Length or chunked, trailers), and see when the server closes.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly statusLine: string;
  /** Lower-case names; repeated headers joined with ', '. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly trailers: Record<string, string>;
}

export class RawConnection {
  readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.notify();
        resolve();
      }),
    );
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Connect from a given loopback source address (per-address limits). */
  static openFrom(port: number, localAddress: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Bytes received and not yet consumed as a response. */
  pending(): Buffer {
    return this.buffer;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async more(deadline: number): Promise<void> {
    if (this.ended) throw new Error(`connection closed; unparsed bytes: ${JSON.stringify(this.buffer.toString('latin1'))}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for a response; have: ${JSON.stringify(this.buffer.toString('latin1'))}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** The next response. `head`: a response to HEAD (no body whatever the headers say). */
  async read(options: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    let end: number;
    while ((end = this.buffer.indexOf('\r\n\r\n')) === -1) await this.more(deadline);
    const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    let offset = end + 4;
    const statusLine = lines[0]!;
    const status = Number(statusLine.split(' ')[1]);
    const headers = parseHeaderLines(lines.slice(1));
    const trailers: Record<string, string> = {};
    let body = Buffer.alloc(0);
    if (options.head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      // no body
    } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      for (;;) {
        let lineEnd: number;
        while ((lineEnd = this.buffer.indexOf('\r\n', offset)) === -1) await this.more(deadline);
        const size = Number.parseInt(this.buffer.subarray(offset, lineEnd).toString('latin1'), 16);
        offset = lineEnd + 2;
        if (size === 0) {
          // trailers until an empty line
          for (;;) {
            while ((lineEnd = this.buffer.indexOf('\r\n', offset)) === -1) await this.more(deadline);
            const line = this.buffer.subarray(offset, lineEnd).toString('latin1');
            offset = lineEnd + 2;
            if (line === '') break;
            Object.assign(trailers, parseHeaderLines([line]));
          }
          break;
        }
        while (this.buffer.length < offset + size + 2) await this.more(deadline);
        parts.push(Buffer.from(this.buffer.subarray(offset, offset + size)));
        offset += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      while (this.buffer.length < offset + length) await this.more(deadline);
      body = Buffer.from(this.buffer.subarray(offset, offset + length));
      offset += length;
    } else {
      // until close; more() throws at the deadline (swallowing it would spin on microtasks forever)
      while (!this.ended) await this.more(deadline);
      body = Buffer.from(this.buffer.subarray(offset));
      offset = this.buffer.length;
    }
    this.buffer = this.buffer.subarray(offset);
    return { status, statusLine, headers, body, trailers };
  }

  /** Resolves true if the server closes the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    const timer = new Promise<false>((r) => setTimeout(() => r(false), ms).unref());
    return Promise.race([this.closed.then(() => true as const), timer]);
  }

  close(): void {
    this.socket.destroy();
  }
}

function parseHeaderLines(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}

/** One request on a fresh connection; the response and whether the server then closed. */
export async function rawExchange(port: number, request: string | Buffer, options: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse & { conn: RawConnection }> {
  const conn = await RawConnection.open(port);
  conn.write(request);
  try {
    return { ...(await conn.read(options)), conn };
  } catch (err) {
    conn.close();
    throw err;
  }
}
