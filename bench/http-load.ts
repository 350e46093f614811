/**
 * HTTP load generator (issue 3): keep-alive POSTs over raw sockets, bounded in time and count,
 * reconnecting whenever the server closes (gearmand's plugin closes after every response,
 * gearman-spec 3.4). Each request carries a distinct 12-byte body, so the default unique `-`
 * never coalesces two requests into one job.
 *
 * Alone: `node dist/bench/http-load.js [seconds]` starts gearmand -r http and Gearport
 * --http-port on free ports, each with 4 reverse workers, and prints both side by side.
 */
import { fork } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRequest, FrameDecoder, PacketType as T } from '../src/protocol/index.js';
import { cpuSeconds } from './proc.js';

export interface HttpLoadOptions {
  readonly host: string;
  /** HTTP port. */
  readonly port: number;
  /** Gearman port of the same server: a background run waits for its queue to drain there. */
  readonly gearPort: number;
  readonly path: string;
  readonly connections: number;
  readonly seconds: number;
  readonly background: boolean;
  /** Upper bound on requests, whatever the time (default 5,000,000). */
  readonly maxRequests?: number;
}

export interface HttpLoadResult {
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = Buffer.from('Content-Length: ');
const CONNECTION_CLOSE = Buffer.from('Connection: close');
const KEEP_ALIVE = Buffer.from('Connection: keep-alive');

export async function httpLoad(opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const maxRequests = opts.maxRequests ?? 5_000_000;
  const head = Buffer.from(
    `POST ${opts.path} HTTP/1.1\r\nHost: ${opts.host}\r\n` +
      (opts.background ? 'X-Gearman-Background: true\r\n' : '') +
      'Content-Length: 12\r\n\r\n',
    'latin1',
  );
  const latencies = new Float64Array(Math.min(maxRequests, 20_000_000));
  let completed = 0;
  let started = 0;
  let errors = 0;
  let counter = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.seconds * 1000;

  /** The request with a distinct 12-byte body (`r` + 11 digits), written in place: no strings. */
  const nextRequest = (): Buffer => {
    const out = Buffer.allocUnsafe(head.length + 12);
    head.copy(out, 0);
    let n = counter++;
    out[head.length] = 0x72; // 'r'
    for (let i = head.length + 11; i > head.length; i--) {
      out[i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    return out;
  };

  const runConnection = () =>
    new Promise<void>((done) => {
      let socket: Socket;
      let buffer: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      let inFlight = false;
      let finished = false;

      const finish = () => {
        if (finished) return;
        finished = true;
        socket.destroy();
        done();
      };
      const send = () => {
        if (performance.now() >= deadline || started >= maxRequests) return finish();
        started++;
        inFlight = true;
        sentAt = performance.now();
        socket.write(nextRequest());
      };
      const open = () => {
        buffer = Buffer.alloc(0);
        socket = connect({ host: opts.host, port: opts.port });
        socket.setNoDelay(true);
        socket.on('connect', send);
        socket.on('data', onData);
        socket.on('error', () => {});
        socket.on('close', () => {
          if (finished) return;
          if (inFlight) errors++; // closed before the answer
          inFlight = false;
          if (performance.now() >= deadline) return finish();
          open(); // gearmand closes after every response: reconnect
        });
      };
      const onData = (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        for (;;) {
          const end = buffer.indexOf(CRLFCRLF);
          if (end === -1) return;
          // Status digits and Content-Length read from the bytes; both servers spell the header
          // `Content-Length` (a regex over the head is the fallback).
          const status = (buffer[9]! - 48) * 100 + (buffer[10]! - 48) * 10 + (buffer[11]! - 48);
          let length = 0;
          const cl = buffer.indexOf(CONTENT_LENGTH);
          if (cl !== -1 && cl < end) {
            for (let i = cl + CONTENT_LENGTH.length; buffer[i]! >= 48 && buffer[i]! <= 57; i++) length = length * 10 + buffer[i]! - 48;
          } else {
            const m = /content-length:\s*(\d+)/i.exec(buffer.toString('latin1', 0, end));
            if (m !== null) length = Number(m[1]);
          }
          const total = end + 4 + length;
          if (buffer.length < total) return;
          // gearmand 1.1 answers HTTP/1.0 with no Connection header and then closes.
          const closeAt = buffer.indexOf(CONNECTION_CLOSE);
          const keepAt = buffer.indexOf(KEEP_ALIVE);
          const closing = (closeAt !== -1 && closeAt < end) || (buffer[7] === 0x30 && !(keepAt !== -1 && keepAt < end));
          buffer = buffer.subarray(total);
          if (status === 100) continue;
          inFlight = false;
          if (status === 200) {
            if (completed < latencies.length) latencies[completed] = performance.now() - sentAt;
            completed++;
          } else {
            errors++;
          }
          if (closing) {
            socket.destroy(); // the server said close: do not wait for it to hang up; the close handler reconnects
            return;
          }
          send();
        }
      };
      open();
    });

  await Promise.all(Array.from({ length: opts.connections }, runConnection));
  const elapsed = (performance.now() - t0) / 1000;
  const sample = latencies.subarray(0, Math.min(completed, latencies.length)).sort();
  const pct = (p: number) => (sample.length === 0 ? NaN : sample[Math.min(sample.length - 1, Math.floor(p * sample.length))]!);
  if (opts.background) await waitForDrain(opts.host, opts.gearPort, opts.path.replace(/^\/+/, ''), 60_000);
  return { requestsPerSec: completed / elapsed, p50Ms: pct(0.5), p99Ms: pct(0.99), errors };
}

/** Wait (bounded) until the function has no queued jobs left, via the admin `status` command. */
async function waitForDrain(host: string, port: number, fn: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const text = await new Promise<string>((res) => {
      const s = connect({ host, port }, () => s.write('status\n'));
      let out = '';
      s.on('data', (d) => {
        out += d.toString('latin1');
        if (out.endsWith('.\n')) {
          s.destroy();
          res(out);
        }
      });
      s.on('error', () => res(''));
    });
    const line = text.split('\n').find((l) => l.startsWith(fn + '\t'));
    if (line === undefined || line.split('\t')[1] === '0') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- reverse workers (a child process, so they do not share the generator's CPU) ---------

/** Raw Gearman workers for `reverse`: grab, complete, grab again; sleep with PRE_SLEEP. */
export function runReverseWorkers(host: string, port: number, count: number): Socket[] {
  const sockets: Socket[] = [];
  const grab = encodeRequest(T.GRAB_JOB);
  const preSleep = encodeRequest(T.PRE_SLEEP);
  for (let i = 0; i < count; i++) {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    socket.on('connect', () => {
      socket.write(encodeRequest(T.CAN_DO, ['reverse']));
      socket.write(grab);
    });
    socket.on('data', (chunk) =>
      decoder.push(chunk, (f) => {
        if (f.kind !== 'packet') return;
        if (f.type === T.NOOP) socket.write(grab);
        else if (f.type === T.NO_JOB) socket.write(preSleep);
        else if (f.type === T.JOB_ASSIGN) {
          const data = Buffer.from(f.args[2]!).reverse();
          socket.write(Buffer.concat([encodeRequest(T.WORK_COMPLETE, [f.args[0]!, data]), grab]));
        }
      }),
    );
    socket.on('error', () => {});
    sockets.push(socket);
  }
  return sockets;
}

// ---- standalone run ---------------------------------------------------------------------

interface Measured extends HttpLoadResult {
  /** Server process CPU (all threads) per completed request, ms. */
  readonly cpuMsPerRequest: number;
}

interface Row {
  scenario: string;
  gearmand: Measured;
  gearport: Measured;
}

async function main(): Promise<void> {
  const { startGearmand, startGearport } = await import('../test/helpers/servers.js');
  const seconds = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 3);
  const repeat = Number(process.env.BENCH_REPEAT ?? 3);
  const scenarios = [
    { name: 'fg c1', connections: 1, background: false },
    { name: 'fg c16', connections: 16, background: false },
    { name: 'fg c64', connections: 64, background: false },
    { name: 'bg c64', connections: 64, background: true },
  ];
  // Both servers run at once and their cells alternate, so load from elsewhere on the
  // machine falls on both alike; each cell is the median of `repeat` runs by rate.
  const servers = {
    gearmand: await startGearmand({ http: true }),
    gearport: await startGearport({ http: true, args: ['--queue-type', 'none'] }),
  };
  const workers = Object.values(servers).map((server) => fork(fileURLToPath(import.meta.url), ['--workers', String(server.port), '4'], { stdio: 'inherit' }));
  const rows: Row[] = [];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const load = async (kind: keyof typeof servers, connections: number, secs: number, background: boolean): Promise<Measured> => {
      const cpuBefore = cpuSeconds(servers[kind].pid);
      const r = await httpLoad({ host: '127.0.0.1', port: servers[kind].httpPort!, gearPort: servers[kind].port, path: '/reverse', connections, seconds: secs, background });
      // Server CPU per request: a figure that other load on the machine disturbs far less than the rate.
      const cpuMsPerRequest = ((cpuSeconds(servers[kind].pid) - cpuBefore) * 1000) / Math.max(1, r.requestsPerSec * secs);
      return { ...r, cpuMsPerRequest };
    };
    for (const kind of ['gearmand', 'gearport'] as const) await load(kind, 16, 1, false); // warm-up, not measured
    for (const s of scenarios) {
      const runs: Record<'gearmand' | 'gearport', Measured[]> = { gearmand: [], gearport: [] };
      for (let i = 0; i < repeat; i++) {
        for (const kind of ['gearmand', 'gearport'] as const) {
          const r = await load(kind, s.connections, seconds, s.background);
          runs[kind].push(r);
          process.stderr.write(`${kind} ${s.name}: ${r.requestsPerSec.toFixed(0)} req/s p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms errors ${r.errors} server CPU ${(r.cpuMsPerRequest * 1000).toFixed(0)} us/req\n`);
        }
      }
      rows.push({ scenario: s.name, gearmand: median(runs.gearmand), gearport: median(runs.gearport) });
    }
  } finally {
    for (const w of workers) w.kill();
    await Promise.all(Object.values(servers).map((server) => server.stop()));
  }
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  let out = `HTTP front, 12-byte POST /reverse, 4 reverse workers per server, ${seconds}s per cell, median of ${repeat}\n\n`;
  out += '| scenario | gearmand req/s | p50 ms | p99 ms | err | CPU us/req | gearport req/s | p50 ms | p99 ms | err | CPU us/req | ratio |\n';
  out += '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const r of rows) {
    const m = r.gearmand;
    const g = r.gearport;
    out += `| ${r.scenario} | ${f(m.requestsPerSec)} | ${f(m.p50Ms, 2)} | ${f(m.p99Ms, 2)} | ${m.errors} | ${f(m.cpuMsPerRequest * 1000)} | ${f(g.requestsPerSec)} | ${f(g.p50Ms, 2)} | ${f(g.p99Ms, 2)} | ${g.errors} | ${f(g.cpuMsPerRequest * 1000)} | ${f(g.requestsPerSec / m.requestsPerSec, 2)}x |\n`;
  }
  process.stdout.write(out);
}

function median(runs: Measured[]): Measured {
  return [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec)[Math.floor(runs.length / 2)]!;
}

if (process.argv[2] === '--workers') {
  runReverseWorkers('127.0.0.1', Number(process.argv[3]), Number(process.argv[4]));
} else if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
