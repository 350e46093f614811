/**
 * The Gearman load generator: raw sockets and the repository's codec, nothing else, so the
 * cost per job stays small and identical whichever server is measured.
 *
 * - Workers: CAN_DO, then GRAB_JOB; JOB_ASSIGN is answered with WORK_COMPLETE (the
 *   workload reversed) and the next GRAB_JOB in one write; NO_JOB with PRE_SLEEP; NOOP with
 *   GRAB_JOB (gearman-spec 1.4).
 * - Foreground clients: closed loop, exactly one SUBMIT_JOB outstanding per connection;
 *   latency is submit -> WORK_COMPLETE, measured with process.hrtime.bigint().
 * - Background submitters: SUBMIT_JOB_BG pipelined with a bounded window per connection,
 *   counting JOB_CREATED (answered in order per connection).
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder, PacketType, encodeRequest, emptyPacket, HEADER_SIZE, MAGIC_REQ, type Frame } from '../src/protocol/index.js';

export const BENCH_FUNCTION = 'bench_reverse';
export const BENCH_BG_FUNCTION = 'bench_background';
/** The 12-byte workload of issue 2; workers send it back reversed. */
export const WORKLOAD = Buffer.from('hello world!', 'latin1');
const EXPECTED_RESULT = Buffer.from(WORKLOAD).reverse();

/** Where the window of a run is; the parent samples server CPU at each transition. */
export type PhaseListener = (phase: 'measure-start' | 'measure-end') => void;

export interface WindowOptions {
  readonly host: string;
  readonly port: number;
  /** Load before counting starts (connections warm, server JIT warm). */
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Upper bound on completions per run, whatever the time. */
  readonly maxJobs: number;
  /** How long to wait for in-flight work after the window before giving up. */
  readonly drainTimeoutMs: number;
  readonly onPhase?: PhaseListener;
}

export interface LoadResult {
  /** Completions inside the measured window. */
  readonly jobs: number;
  readonly seconds: number;
  readonly jobsPerSecond: number;
  /** Latency samples in microseconds for jobs completed inside the window. */
  readonly latenciesMicros: number[];
  /** ERROR, WORK_FAIL, wrong results, socket errors, drain timeouts. */
  readonly errors: number;
  readonly errorNotes: string[];
}

function openSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** Packet framing loop: decode every chunk, hand frames to `onFrame`. */
function readFrames(socket: Socket, onFrame: (frame: Frame) => void, onError: (note: string) => void): void {
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk, onFrame);
    } catch (err) {
      onError(`decode: ${(err as Error).message}`);
      socket.destroy();
    }
  });
  socket.on('error', (err) => onError(`socket: ${err.message}`));
}

class ErrorLog {
  count = 0;
  readonly notes: string[] = [];
  add(note: string): void {
    this.count++;
    if (this.notes.length < 5) this.notes.push(note);
  }
}

const GRAB_JOB = emptyPacket(PacketType.GRAB_JOB, true);
const PRE_SLEEP = emptyPacket(PacketType.PRE_SLEEP, true);

/** WORK_COMPLETE(handle, reversed data) followed by GRAB_JOB, as one buffer and one write. */
function completeAndGrab(handle: Buffer, data: Buffer): Buffer {
  const size = handle.length + 1 + data.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + size + GRAB_JOB.length);
  out.writeUInt32BE(MAGIC_REQ, 0);
  out.writeUInt32BE(PacketType.WORK_COMPLETE, 4);
  out.writeUInt32BE(size, 8);
  handle.copy(out, HEADER_SIZE);
  let off = HEADER_SIZE + handle.length;
  out[off++] = 0;
  for (let i = data.length - 1; i >= 0; i--) out[off++] = data[i]!;
  GRAB_JOB.copy(out, off);
  return out;
}

/** A pool of trivial workers; `ready` resolves once every one is registered and asleep. */
export class WorkerPool {
  jobsDone = 0;
  readonly errors = new ErrorLog();
  private readonly sockets: Socket[] = [];

  static async start(host: string, port: number, count: number): Promise<WorkerPool> {
    const pool = new WorkerPool();
    const idle: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const socket = await openSocket(host, port);
      pool.sockets.push(socket);
      idle.push(pool.run(socket));
    }
    await Promise.all(idle);
    return pool;
  }

  /** Drive one worker connection; resolves at its first NO_JOB (registered, queue empty). */
  private run(socket: Socket): Promise<void> {
    return new Promise((resolveIdle) => {
      let sleeping = false;
      readFrames(
        socket,
        (frame) => {
          if (frame.kind !== 'packet') return this.errors.add('text line from server');
          switch (frame.type) {
            case PacketType.JOB_ASSIGN:
              this.jobsDone++;
              socket.write(completeAndGrab(frame.args[0]!, frame.args[2]!));
              return;
            case PacketType.NO_JOB:
              sleeping = true;
              socket.write(PRE_SLEEP);
              resolveIdle();
              return;
            case PacketType.NOOP:
              // Only a sleeping worker grabs on NOOP: the server may send several, and a
              // worker with a GRAB_JOB in flight will get its answer anyway.
              if (sleeping) {
                sleeping = false;
                socket.write(GRAB_JOB);
              }
              return;
            default:
              this.errors.add(`worker got packet type ${frame.type}`);
          }
        },
        (note) => this.errors.add(note),
      );
      socket.write(Buffer.concat([encodeRequest(PacketType.CAN_DO, [BENCH_FUNCTION]), GRAB_JOB]));
    });
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

/** The measured window shared by the client kinds: warm-up, measure, drain. */
class Window {
  phase: 'warmup' | 'measure' | 'drain' = 'warmup';
  counted = 0;
  completed = 0;
  startNs = 0n;
  endNs = 0n;
  readonly latenciesMicros: number[] = [];
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: WindowOptions) {}

  begin(): void {
    // No warm-up: every job counts, including one that completes before a 0 ms timer would fire.
    if (this.options.warmupMs <= 0) this.startMeasuring();
    else this.timers.push(setTimeout(() => this.startMeasuring(), this.options.warmupMs));
  }

  private startMeasuring(): void {
    if (this.phase !== 'warmup') return;
    this.phase = 'measure';
    this.startNs = process.hrtime.bigint();
    this.options.onPhase?.('measure-start');
    this.timers.push(setTimeout(() => this.stopMeasuring(), this.options.measureMs));
  }

  stopMeasuring(): void {
    if (this.phase === 'drain') return;
    if (this.phase === 'warmup') this.startNs = process.hrtime.bigint();
    this.phase = 'drain';
    this.endNs = process.hrtime.bigint();
    this.options.onPhase?.('measure-end');
    for (const timer of this.timers) clearTimeout(timer);
  }

  /** Record one completion submitted at `submittedNs`; false once no more work should start. */
  complete(submittedNs: bigint, nowNs: bigint): boolean {
    this.completed++;
    if (this.phase === 'measure') {
      this.counted++;
      this.latenciesMicros.push(Number(nowNs - submittedNs) / 1000);
    }
    if (this.completed >= this.options.maxJobs) this.stopMeasuring();
    return this.phase !== 'drain';
  }

  result(errors: ErrorLog): LoadResult {
    const seconds = Number(this.endNs - this.startNs) / 1e9;
    return {
      jobs: this.counted,
      seconds,
      jobsPerSecond: seconds > 0 ? this.counted / seconds : 0,
      latenciesMicros: this.latenciesMicros,
      errors: errors.count,
      errorNotes: errors.notes,
    };
  }
}

/** Resolve when `isDone()` holds (checked on every call of the returned poke), or time out. */
function drained(isDone: () => boolean, timeoutMs: number, errors: ErrorLog): { poke: () => void; promise: Promise<void> } {
  let resolveDone!: () => void;
  const promise = new Promise<void>((resolve) => (resolveDone = resolve));
  let armed = false;
  let timer: NodeJS.Timeout | undefined;
  const poke = () => {
    if (armed && isDone()) {
      clearTimeout(timer);
      resolveDone();
    }
  };
  return {
    poke,
    promise: (async () => {
      armed = true;
      timer = setTimeout(() => {
        errors.add(`drain timed out after ${timeoutMs} ms`);
        resolveDone();
      }, timeoutMs);
      poke();
      await promise;
    })(),
  };
}

/**
 * Foreground clients; workers must already be running somewhere. Closed loop (each client
 * submits again as soon as its job completes), or with `ratePerSecond` paced: the clients
 * take turns on a fixed schedule for that many jobs per second in all, and a client whose job
 * is still running when its turn comes submits as soon as it completes.
 */
export async function runForegroundClients(options: WindowOptions & { readonly clients: number; readonly ratePerSecond?: number }): Promise<LoadResult> {
  const submit = encodeRequest(PacketType.SUBMIT_JOB, [BENCH_FUNCTION, '', WORKLOAD]);
  const errors = new ErrorLog();
  const window = new Window(options);
  const sockets: Socket[] = [];
  for (let i = 0; i < options.clients; i++) sockets.push(await openSocket(options.host, options.port));

  let outstanding = 0;
  // The window must be in drain before the drain check can finish, so poke is set later.
  let poke = () => {};
  // Paced: each client's turn comes every intervalMs, the clients' turns evenly staggered.
  const intervalMs = options.ratePerSecond === undefined ? 0 : (options.clients * 1000) / options.ratePerSecond;
  for (const [index, socket] of sockets.entries()) {
    let submittedNs = 0n;
    let dueMs = performance.now() + (index * intervalMs) / options.clients;
    const send = () => {
      outstanding++;
      submittedNs = process.hrtime.bigint();
      socket.write(submit);
    };
    const sendOnTime = () => {
      if (intervalMs === 0) return send();
      const wait = dueMs - performance.now();
      dueMs += intervalMs;
      if (wait <= 0) send();
      else setTimeout(() => (window.phase === 'drain' ? poke() : send()), wait);
    };
    readFrames(
      socket,
      (frame) => {
        if (frame.kind !== 'packet') return errors.add('text line from server');
        switch (frame.type) {
          case PacketType.JOB_CREATED:
            return;
          case PacketType.WORK_COMPLETE: {
            const now = process.hrtime.bigint();
            outstanding--;
            if (!frame.args[1]!.equals(EXPECTED_RESULT)) errors.add('wrong WORK_COMPLETE data');
            if (window.complete(submittedNs, now)) sendOnTime();
            else poke();
            return;
          }
          default:
            // WORK_FAIL, ERROR...: count it and keep the loop going so one failure does not stall a client.
            outstanding--;
            errors.add(`client got packet type ${frame.type}`);
            if (window.phase !== 'drain') sendOnTime();
            else poke();
        }
      },
      (note) => errors.add(note),
    );
    sendOnTime();
  }
  return runToEnd(window, sockets, () => outstanding <= 0, options.drainTimeoutMs, errors, (p) => (poke = p));
}

/** Pipelined SUBMIT_JOB_BG with at most `window` unanswered per connection; no workers. */
export async function runBackgroundSubmits(
  options: WindowOptions & { readonly connections: number; readonly window: number },
): Promise<LoadResult> {
  const packet = encodeRequest(PacketType.SUBMIT_JOB_BG, [BENCH_BG_FUNCTION, '', WORKLOAD]);
  // window copies of the packet back to back: refills are slices of it, no per-job encoding.
  const burst = Buffer.concat(Array.from({ length: options.window }, () => packet));
  const errors = new ErrorLog();
  const window = new Window(options);
  const sockets: Socket[] = [];
  for (let i = 0; i < options.connections; i++) sockets.push(await openSocket(options.host, options.port));

  let inFlight = 0;
  let poke = () => {};
  for (const socket of sockets) {
    // JOB_CREATED answers come in submit order on a connection: a FIFO of submit times.
    const submittedAt: bigint[] = new Array(options.window);
    let head = 0;
    let tail = 0;
    let refill = 0;
    const sendMany = (count: number) => {
      const now = process.hrtime.bigint();
      for (let i = 0; i < count; i++) {
        submittedAt[tail] = now;
        tail = (tail + 1) % options.window;
      }
      inFlight += count;
      socket.write(count === options.window ? burst : burst.subarray(0, count * packet.length));
    };
    readFrames(
      socket,
      (frame) => {
        if (frame.kind !== 'packet') return errors.add('text line from server');
        if (frame.type !== PacketType.JOB_CREATED) errors.add(`submitter got packet type ${frame.type}`);
        const now = process.hrtime.bigint();
        const sent = submittedAt[head]!;
        head = (head + 1) % options.window;
        inFlight--;
        // Refill one by one would mean one write per job; batch per received chunk instead.
        if (window.complete(sent, now)) refill++;
        else poke();
      },
      (note) => errors.add(note),
    );
    socket.on('data', () => {
      // Runs after the decoder's listener for the same chunk (listeners fire in order).
      if (refill > 0) {
        const count = refill;
        refill = 0;
        sendMany(count);
      }
    });
    sendMany(options.window);
  }
  return runToEnd(window, sockets, () => inFlight <= 0, options.drainTimeoutMs, errors, (p) => (poke = p));
}

/**
 * Start the window, wait for its end and then (bounded) until `settled()`; close the
 * sockets and return the figures. `setPoke` receives the function that re-checks `settled`.
 */
async function runToEnd(
  window: Window,
  sockets: readonly Socket[],
  settled: () => boolean,
  drainTimeoutMs: number,
  errors: ErrorLog,
  setPoke: (poke: () => void) => void,
): Promise<LoadResult> {
  window.begin();
  await untilDraining(window);
  const drain = drained(settled, drainTimeoutMs, errors);
  setPoke(drain.poke);
  await drain.promise;
  for (const socket of sockets) socket.destroy();
  return window.result(errors);
}

/** Resolves once the measured window is over and only the in-flight work is left. */
function untilDraining(window: { readonly phase: string }): Promise<void> {
  return new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (window.phase === 'drain') {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
}
