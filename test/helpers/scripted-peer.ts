/**
 * A scripted raw-socket Gearman peer for interop and differential tests: send packets built
 * with the project's encoder, read the server's frames with FrameDecoder, and `expect` the next
 * frame within a bounded wait. Every frame is kept in a transcript so a failing assertion can
 * show what the server actually sent.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder, encodePacket, encodeRequest, packetName, type Field, type Frame } from '../../src/protocol/index.js';

/** One frame as received, with its exact bytes re-encoded (field splitting is lossless). */
export interface ReceivedFrame {
  readonly kind: 'packet' | 'text';
  /** Packet type name (`JOB_CREATED`, ...) or `TEXT`. */
  readonly name: string;
  readonly type: number;
  readonly request: boolean;
  /** Fields as latin1 strings (data packets: data last). */
  readonly fields: string[];
  /** The exact bytes of the frame (text lines: the line without LF/CR). */
  readonly bytes: Buffer;
}

export const DEFAULT_EXPECT_MS = 5000;

function toReceived(frame: Frame): ReceivedFrame {
  if (frame.kind === 'text') {
    const line = Buffer.from(frame.line);
    return { kind: 'text', name: 'TEXT', type: 0, request: false, fields: [line.toString('latin1')], bytes: line };
  }
  const args = frame.args.map((a) => Buffer.from(a));
  return {
    kind: 'packet',
    name: packetName(frame.type),
    type: frame.type,
    request: frame.request,
    fields: args.map((a) => a.toString('latin1')),
    bytes: encodePacket(frame.type, args, frame.request),
  };
}

/** Render a frame compactly for transcripts: `NAME f1\0f2` with NUL shown as `\0`. */
export function describeFrame(frame: ReceivedFrame): string {
  if (frame.kind === 'text') return `TEXT ${JSON.stringify(frame.fields[0])}`;
  return `${frame.name} ${JSON.stringify(frame.fields.join('\0'))}`;
}

export class ScriptedPeer {
  readonly name: string;
  private readonly socket: Socket;
  private readonly decoder = new FrameDecoder();
  private readonly queue: ReceivedFrame[] = [];
  private waiter: (() => void) | undefined;
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;
  /** Everything received so far, for failure messages. */
  readonly transcript: ReceivedFrame[] = [];
  private decodeError: Error | undefined;

  private constructor(name: string, socket: Socket) {
    this.name = name;
    this.socket = socket;
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedFlag = true;
        this.wake();
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (frame) => {
          const received = toReceived(frame);
          this.queue.push(received);
          this.transcript.push(received);
        });
      } catch (err) {
        this.decodeError = err as Error;
        socket.destroy();
      }
      this.wake();
    });
    socket.on('error', () => {
      /* surfaced as 'close' */
    });
  }

  static connect(port: number, name = 'peer', host = '127.0.0.1', timeoutMs = 5000): Promise<ScriptedPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${name}: connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new ScriptedPeer(name, socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Stop reading (the server's replies pile up), and start again. */
  stopReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Whether the connection closes within `ms` (frames received meanwhile are kept). */
  async closesWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closedFlag && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closedFlag;
  }

  /** Send a request packet (`\0REQ`). */
  send(type: number, fields: readonly Field[] = []): void {
    this.socket.write(encodeRequest(type, fields));
  }

  /** Send arbitrary bytes (malformed packets, `\0RES` magic, admin text). */
  sendRaw(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** The next frame, waiting at most `timeoutMs`. Rejects on timeout or close. */
  async next(timeoutMs = DEFAULT_EXPECT_MS): Promise<ReceivedFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.queue.shift();
      if (frame !== undefined) return frame;
      if (this.decodeError) throw new Error(`${this.name}: undecodable bytes from server: ${this.decodeError.message}`);
      if (this.closedFlag) throw new Error(`${this.name}: connection closed while waiting; got so far: ${this.history()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no frame within ${timeoutMs} ms; got so far: ${this.history()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The next frame, which must be of packet type `type`. */
  async expect(type: number, timeoutMs = DEFAULT_EXPECT_MS): Promise<ReceivedFrame> {
    const frame = await this.next(timeoutMs);
    if (frame.type !== type || frame.kind !== 'packet') {
      throw new Error(`${this.name}: expected ${packetName(type)}, got ${describeFrame(frame)}; history: ${this.history()}`);
    }
    return frame;
  }

  /**
   * Barrier: ECHO_REQ with a marker and return every frame received before its ECHO_RES.
   * The server answers one connection in order, so anything it produced for this connection
   * before handling the echo arrives first: proves absence without sleeping.
   */
  async drainUntilEcho(timeoutMs = DEFAULT_EXPECT_MS): Promise<ReceivedFrame[]> {
    const marker = `barrier-${Math.random().toString(36).slice(2)}`;
    this.send(16 /* ECHO_REQ */, [marker]);
    const before: ReceivedFrame[] = [];
    for (;;) {
      const frame = await this.next(timeoutMs);
      if (frame.name === 'ECHO_RES' && frame.fields[0] === marker) return before;
      before.push(frame);
    }
  }

  /** Resolves when the server closes the connection; rejects after `timeoutMs`. */
  async expectClose(timeoutMs = DEFAULT_EXPECT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${this.name}: server did not close within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  history(): string {
    return this.transcript.map(describeFrame).join(' | ') || '(nothing)';
  }

  /** Close our side and wait for the socket to be gone. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.socket.end();
    this.socket.destroy();
    await this.closedPromise;
  }
}

/**
 * An admin text connection that keeps the exact reply bytes (CR included), unlike FrameDecoder
 * which strips the CR of a CRLF line.
 */
/** Where a reply ends: one line, a listing up to `.\n`, or a finder giving the index after it (-1: not yet). */
export type ReplyEnd = 'line' | 'listing' | ((received: string) => number);

export class AdminPeer {
  private readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closedFlag = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closedFlag = true;
      this.wake();
    });
    socket.on('error', () => {
      /* surfaced as 'close' */
    });
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = 5000): Promise<AdminPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`admin: connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new AdminPeer(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /**
   * Send one command line (exactly as given: add the line ending yourself) and read its reply:
   * a listing up to and including `.\n`, or a single line.
   */
  async command(line: string, reply: ReplyEnd, timeoutMs = DEFAULT_EXPECT_MS): Promise<string> {
    this.socket.write(Buffer.from(line, 'latin1'));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.buffer.toString('latin1');
      const end = reply === 'line' ? lineEnd(text) : reply === 'listing' ? listingEnd(text) : reply(text);
      if (end !== -1) {
        this.buffer = this.buffer.subarray(end);
        return text.slice(0, end);
      }
      if (this.closedFlag) throw new Error(`admin: closed while waiting for reply to ${JSON.stringify(line)}; got ${JSON.stringify(text)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`admin: no complete reply to ${JSON.stringify(line)} within ${timeoutMs} ms; got ${JSON.stringify(text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }
}

function lineEnd(text: string): number {
  const lf = text.indexOf('\n');
  return lf === -1 ? -1 : lf + 1;
}

/** End of a listing: a line holding only `.`, or an `ERR` line in its place. */
function listingEnd(text: string): number {
  if (text.startsWith('ERR ')) return lineEnd(text);
  if (text.startsWith('.\n')) return 2;
  const at = text.indexOf('\n.\n');
  return at === -1 ? -1 : at + 3;
}
