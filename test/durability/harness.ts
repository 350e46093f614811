/**
 * Shared by the durability tests (issue 5): the store each test runs against (its command-line
 * arguments and its cleanup), a pipelined raw-socket submitter that records exactly which
 * submissions were acknowledged, and a raw worker that runs whatever a function has queued.
 */
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { FrameDecoder, PacketType as T, encodeRequest, type Field } from '../../src/protocol/index.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { freePort, startGearport, type RunningServer } from '../helpers/servers.js';
import { PG_CONNINFO, REDIS_PORT, deleteRedisPrefix, dropPgTables, portOpen, skipUnlessListening, uniqueName } from '../store/helpers.js';

export { PG_CONNINFO, REDIS_PORT, uniqueName };

export const StoreKinds = ['sqlite', 'postgres', 'redis'] as const;
export type StoreKind = (typeof StoreKinds)[number];

/** Where one test keeps its jobs: the Gearport arguments that select it, and how to remove it. */
export interface StoreUnderTest {
  readonly kind: StoreKind;
  readonly args: string[];
  /** Human label for messages (file, table or prefix). */
  readonly where: string;
  cleanup(): Promise<void>;
}

/** Skip reason when the store's service is not running here (a failure in CI). */
export async function storeSkip(kind: StoreKind): Promise<string | false> {
  if (kind === 'postgres') return skipUnlessListening('PostgreSQL', 5432);
  if (kind === 'redis') return skipUnlessListening('Redis', REDIS_PORT);
  return false;
}

/**
 * A private store for one test: a fresh data dir (SQLite), a fresh table (PostgreSQL, dropped
 * afterwards) or a fresh key prefix (Redis, its keys deleted afterwards).
 */
export function newStore(kind: StoreKind, overrides: { pgConninfo?: string; redisPort?: number } = {}): StoreUnderTest {
  const name = uniqueName(`dur_${kind}`);
  switch (kind) {
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'gearport-durability-'));
      return {
        kind,
        where: dir,
        args: ['-q', 'sqlite', '--data-dir', dir],
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'postgres':
      return {
        kind,
        where: `table ${name}`,
        args: ['-q', 'postgres', '--libpq-conninfo', overrides.pgConninfo ?? PG_CONNINFO, '--libpq-table', name],
        cleanup: () => dropPgTables(name),
      };
    case 'redis': {
      const port = overrides.redisPort ?? REDIS_PORT;
      const prefix = `${name}:`;
      return {
        kind,
        where: `prefix ${prefix}`,
        args: ['-q', 'redis', '--redis-server', '127.0.0.1', '--redis-port', String(port), '--redis-prefix', prefix],
        cleanup: async () => {
          if (await portOpen(port)) await deleteRedisPrefix(prefix, port);
        },
      };
    }
  }
}

/** Start Gearport on a store; `port` restarts it where it was. */
export function startOn(store: StoreUnderTest, extra: string[] = [], port?: number): Promise<RunningServer> {
  return startGearport({ args: [...store.args, ...extra], port });
}

/** SIGKILL and wait until the process is gone (no shutdown code runs). */
export async function killHard(server: RunningServer): Promise<void> {
  const child = server.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}

// ---- a raw connection -------------------------------------------------------------------

interface Packet {
  readonly type: number;
  readonly args: Buffer[];
}

/** One raw Gearman connection: send encoded requests, receive decoded packets as events. */
class RawConnection {
  readonly socket: Socket;
  private readonly decoder = new FrameDecoder();
  readonly closed: Promise<void>;

  private constructor(socket: Socket, onPacket: (packet: Packet) => void) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {
      /* seen as 'close' */
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (frame) => {
          if (frame.kind === 'packet') onPacket({ type: frame.type, args: frame.args.map((a) => Buffer.from(a)) });
        });
      } catch {
        socket.destroy();
      }
    });
  }

  static open(port: number, onPacket: (packet: Packet) => void): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RawConnection(socket, onPacket));
      });
    });
  }

  send(type: number, fields: readonly Field[]): void {
    if (!this.socket.destroyed) this.socket.write(encodeRequest(type, fields));
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---- pipelined background submissions -----------------------------------------------------

export interface Submission {
  readonly type: number;
  readonly functionName: string;
  readonly unique: string;
  readonly data: Buffer;
  /** Epoch seconds for SUBMIT_JOB_EPOCH. */
  readonly when?: number;
}

export interface SubmissionOutcome {
  readonly submission: Submission;
  /** JOB_CREATED's handle, or undefined when refused. */
  readonly handle?: string;
  /** ERROR code when refused. */
  readonly error?: string;
}

export interface LoadOptions {
  readonly connections: number;
  /** Submissions awaiting their answer per connection. */
  readonly inFlight: number;
  /** Stop after this many submissions (bound on count). */
  readonly total: number;
  /** Stop submitting after this long (bound on time). */
  readonly maxMs: number;
  /** The i-th submission. */
  make(index: number): Submission;
}

/**
 * Pipelined submitter: keeps `inFlight` submissions unanswered on each connection. Gearport
 * answers one connection in order, so the n-th answer belongs to the n-th submission.
 * Ends when everything is answered, the time is up, or the server went away.
 */
export class SubmissionLoad {
  readonly acknowledged: SubmissionOutcome[] = [];
  readonly refused: SubmissionOutcome[] = [];
  /** Sent and not answered when the connection closed (may or may not be stored). */
  readonly unanswered: Submission[] = [];
  sent = 0;
  readonly done: Promise<void>;
  private stopped = false;
  private readonly listeners = new Set<() => void>();

  constructor(port: number, private readonly options: LoadOptions) {
    this.done = this.run(port);
  }

  /** Stop sending new submissions (answers still count). */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves once `predicate` holds, checked on every answer; rejects after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (acknowledged ${this.acknowledged.length}, refused ${this.refused.length}, sent ${this.sent})`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      void this.done.then(() => {
        if (this.listeners.has(check)) {
          cleanup();
          if (predicate()) resolve();
          else reject(new Error(`load ended before ${what} (acknowledged ${this.acknowledged.length}, refused ${this.refused.length})`));
        }
      });
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private async run(port: number): Promise<void> {
    const deadline = Date.now() + this.options.maxMs;
    const lanes: Promise<void>[] = [];
    for (let c = 0; c < this.options.connections; c++) lanes.push(this.lane(port, deadline));
    await Promise.all(lanes);
  }

  private nextSubmission(deadline: number): Submission | undefined {
    if (this.stopped || this.sent >= this.options.total || Date.now() > deadline) return undefined;
    return this.options.make(this.sent++);
  }

  private async lane(port: number, deadline: number): Promise<void> {
    const waiting: Submission[] = [];
    let connection: RawConnection | undefined;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const fill = () => {
      while (waiting.length < this.options.inFlight) {
        const next = this.nextSubmission(deadline);
        if (next === undefined) break;
        waiting.push(next);
        const fields: Field[] = next.type === T.SUBMIT_JOB_EPOCH
          ? [next.functionName, next.unique, String(next.when ?? 0), next.data]
          : [next.functionName, next.unique, next.data];
        connection!.send(next.type, fields);
      }
      if (waiting.length === 0) finish();
    };
    const onPacket = (packet: Packet) => {
      const submission = waiting.shift();
      if (submission === undefined) return;
      if (packet.type === T.JOB_CREATED) this.acknowledged.push({ submission, handle: packet.args[0]!.toString('latin1') });
      else this.refused.push({ submission, error: packet.type === T.ERROR ? packet.args[0]!.toString('latin1') : `packet ${packet.type}` });
      this.notify();
      fill();
    };
    try {
      connection = await RawConnection.open(port, onPacket);
    } catch {
      return;
    }
    void connection.closed.then(() => finish());
    fill();
    await finished;
    this.unanswered.push(...waiting.splice(0));
    connection.close();
    await connection.closed;
  }
}

// ---- a worker ------------------------------------------------------------------------------

export interface RanJob {
  readonly handle: string;
  readonly functionName: string;
  readonly unique: string;
  readonly data: Buffer;
  /** Date.now() when the assignment arrived. */
  readonly at: number;
}

export interface RunJobsOptions {
  /** Keep waiting (PRE_SLEEP, NOOP) until this many jobs ran; default: stop at the first NO_JOB. */
  readonly count?: number;
  readonly timeoutMs?: number;
  /** GRAB_JOB_UNIQ requests in flight; 1 gives the exact queue order one at a time. */
  readonly window?: number;
}

/**
 * Run the queued jobs of `functionName` (WORK_COMPLETE with an empty result each) and return
 * them in the order the server handed them out.
 */
export async function runJobs(port: number, functionName: string, options: RunJobsOptions = {}): Promise<RanJob[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const window = options.window ?? 64;
  const deadline = Date.now() + timeoutMs;
  const peer = await ScriptedPeer.connect(port, `worker(${functionName})`);
  const ran: RanJob[] = [];
  const left = () => Math.max(1, deadline - Date.now());
  try {
    peer.send(T.CAN_DO, [functionName]);
    for (;;) {
      for (let k = 0; k < window; k++) peer.send(T.GRAB_JOB_UNIQ);
      let empty = false;
      for (let k = 0; k < window; k++) {
        const frame = await peer.next(left());
        if (frame.type === T.NO_JOB) {
          empty = true;
          continue;
        }
        if (frame.type !== T.JOB_ASSIGN_UNIQ) throw new Error(`worker: unexpected ${frame.name}`);
        const [handle, fn, unique, data] = frame.fields as [string, string, string, string];
        ran.push({ handle, functionName: fn, unique, data: Buffer.from(data, 'latin1'), at: Date.now() });
        peer.send(T.WORK_COMPLETE, [handle, '']);
      }
      if (!empty) continue;
      if (options.count === undefined || ran.length >= options.count) break;
      if (Date.now() >= deadline) throw new Error(`worker: ${ran.length} of ${options.count} jobs ran within ${timeoutMs} ms`);
      peer.send(T.PRE_SLEEP);
      await peer.expect(T.NOOP, left());
    }
    // Barrier: every WORK_COMPLETE has been handled once the echo comes back.
    await peer.drainUntilEcho(left());
    return ran;
  } finally {
    await peer.close();
  }
}

/** One foreground round trip: SUBMIT_JOB answered by a worker; returns the WORK_COMPLETE data. */
export async function foregroundRoundTrip(port: number, functionName: string, data: string, timeoutMs = 10_000): Promise<string> {
  const worker = await ScriptedPeer.connect(port, 'fg-worker');
  const client = await ScriptedPeer.connect(port, 'fg-client');
  try {
    worker.send(T.CAN_DO, [functionName]);
    client.send(T.SUBMIT_JOB, [functionName, '', data]);
    const created = await client.expect(T.JOB_CREATED, timeoutMs);
    worker.send(T.GRAB_JOB_UNIQ);
    const assigned = await worker.expect(T.JOB_ASSIGN_UNIQ, timeoutMs);
    worker.send(T.WORK_COMPLETE, [assigned.fields[0]!, `done:${assigned.fields[3]!}`]);
    const complete = await client.expect(T.WORK_COMPLETE, timeoutMs);
    if (complete.fields[0] !== created.fields[0]) throw new Error('WORK_COMPLETE for another handle');
    return complete.fields[1]!;
  } finally {
    await worker.close();
    await client.close();
  }
}

// ---- a private redis-server ------------------------------------------------------------------

export interface PrivateRedis {
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * A redis-server child on a free port, no persistence, that the test may stop and start again;
 * with `password`, clients must AUTH with it (requirepass).
 */
export async function startPrivateRedis(options: { password?: string } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const auth = options.password === undefined ? [] : ['--requirepass', options.password];
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...auth], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async () => {
    const current = child;
    child = undefined;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill('SIGKILL');
    await gone;
  };
  await start();
  return { port, start, stop };
}

/** Distinct workload strings of a list of jobs or submissions. */
export function workloads(items: Iterable<{ data: Buffer } | { submission: Submission }>): Set<string> {
  const out = new Set<string>();
  for (const item of items) out.add(('submission' in item ? item.submission.data : item.data).toString('latin1'));
  return out;
}

export function missingFrom(expected: Iterable<string>, actual: Set<string>): string[] {
  return [...expected].filter((each) => !actual.has(each));
}
