/**
 * Hostile peers for the robustness tests and `npm run bench:abuse`, aimed at gearmand or
 * Gearport alike, loopback only, each bounded in connections, bytes and time. An attack
 * returns what it saw (counts); `measureAttack` runs one while a legitimate caller (a child
 * process) keeps calling, and samples the server's resident memory.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { FrameDecoder, encodeRequest, PacketType as T } from '../../src/protocol/index.js';
import type { ProbeStats } from './probe-child.js';

export interface AttackTarget {
  readonly kind: string;
  readonly host: string;
  readonly port: number;
  readonly httpPort?: number;
  readonly pid: number;
}

export type Notes = Record<string, number | string | boolean>;

export interface Attack {
  readonly name: string;
  readonly protocol: 'gear' | 'http';
  readonly description: string;
  run(target: AttackTarget): Promise<Notes>;
}

export interface Measured {
  readonly attack: string;
  readonly survived: boolean;
  readonly peakRssBytes: number;
  readonly baselineRssBytes: number;
  readonly probe: ProbeStats;
  readonly notes: Notes;
  readonly seconds: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

// ---- measuring ------------------------------------------------------------------------

/** Resident memory of a process now (VmRSS), or NaN once it is gone. */
export function vmRssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return state?.[1] !== 'Z';
  } catch {
    return false;
  }
}

class RssSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(pid: number, everyMs = 25) {
    const sample = () => {
      const rss = vmRssBytes(pid);
      if (rss > this.peak) this.peak = rss;
    };
    sample();
    this.timer = setInterval(sample, everyMs);
  }
  stop(): number {
    clearInterval(this.timer);
    return this.peak;
  }
}

const probeScript = fileURLToPath(new URL('./probe-child.js', import.meta.url));

/** Start the legitimate caller; resolves once it runs. `stop()` returns its statistics. */
export async function startProbe(kind: 'gear' | 'http', host: string, port: number, intervalMs = 20): Promise<{ stop(): Promise<ProbeStats>; child: ChildProcess }> {
  const child = fork(probeScript, [kind, host, String(port), String(intervalMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`probe exited early (${code})`)));
  });
  return {
    child,
    stop: () =>
      new Promise<ProbeStats>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('probe did not report'));
        }, 10_000);
        child.once('message', (stats) => {
          clearTimeout(timer);
          resolve(stats as ProbeStats);
        });
        child.send('stop');
      }),
  };
}

/** Run one attack while the legitimate caller calls; peak RSS sampled every 25 ms. */
export async function measureAttack(target: AttackTarget, attack: Attack, probeKind: 'gear' | 'http' = attack.protocol): Promise<Measured> {
  const probePort = probeKind === 'http' ? target.httpPort! : target.port;
  const probe = await startProbe(probeKind, target.host, probePort);
  const baselineRssBytes = vmRssBytes(target.pid);
  const sampler = new RssSampler(target.pid);
  const started = Date.now();
  let notes: Notes;
  try {
    await sleep(200); // a few calls before the attack starts
    notes = await attack.run(target);
  } catch (err) {
    notes = { error: String(err) };
  }
  const seconds = (Date.now() - started) / 1000;
  // Quick attacks: keep the caller going a while, so its figures rest on enough calls.
  await sleep(Math.max(500, 2000 - (Date.now() - started)));
  const stats = await probe.stop();
  const peakRssBytes = sampler.stop();
  return { attack: attack.name, survived: isAlive(target.pid), peakRssBytes, baselineRssBytes, probe: stats, notes, seconds };
}

// ---- sockets ----------------------------------------------------------------------------

/** Connect, or resolve undefined when refused/reset/timed out. */
export function openSocket(host: string, port: number, timeoutMs = 5000): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(undefined);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** Everything the server sends until it closes the connection or `ms` pass. */
export function collect(s: Socket, ms: number, maxBytes = 1 * MiB): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), ms);
    if (s.destroyed) return finish(true);
    s.on('data', (c: Buffer) => {
      if (size < maxBytes) {
        chunks.push(c);
        size += c.length;
      }
    });
    s.on('error', () => {});
    s.once('close', () => finish(true));
  });
}

/** Run `task(i)` for i in [0, count) with at most `concurrency` at once. */
async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  });
  await Promise.all(lanes);
  return results;
}

function header(type: number, size: number, magic = '\0REQ'): Buffer {
  const h = Buffer.alloc(12);
  h.write(magic, 0, 'latin1');
  h.writeUInt32BE(type, 4);
  h.writeUInt32BE(size, 8);
  return h;
}

const ERROR_PACKET_HEAD = Buffer.concat([Buffer.from('\0RES', 'latin1'), Buffer.from([0, 0, 0, T.ERROR])]);

// ---- background jobs that must survive every attack -------------------------------------

/** Submit `n` background jobs and wait for every JOB_CREATED. */
export async function submitBackgroundJobs(host: string, port: number, fn: string, n: number): Promise<void> {
  const s = await openSocket(host, port);
  if (s === undefined) throw new Error('cannot connect to submit background jobs');
  const decoder = new FrameDecoder();
  await new Promise<void>((resolve, reject) => {
    let created = 0;
    const timer = setTimeout(() => reject(new Error(`only ${created} of ${n} background jobs acknowledged`)), 30_000);
    s.on('data', (chunk) =>
      decoder.push(chunk, (frame) => {
        if (frame.kind === 'packet' && frame.type === T.JOB_CREATED && ++created === n) {
          clearTimeout(timer);
          resolve();
        } else if (frame.kind === 'packet' && frame.type === T.ERROR) {
          clearTimeout(timer);
          reject(new Error(`ERROR ${frame.args.map(String).join(' ')}`));
        }
      }),
    );
    const packets: Buffer[] = [];
    for (let i = 0; i < n; i++) packets.push(encodeRequest(T.SUBMIT_JOB_BG, [fn, `keep-${i}`, `payload-${i}`]));
    s.write(Buffer.concat(packets));
  });
  s.destroy();
}

/** One admin command; the reply up to its `.` line (listings) or first line. */
export async function adminCommand(host: string, port: number, line: string): Promise<string> {
  const s = await openSocket(host, port);
  if (s === undefined) throw new Error('cannot connect for an admin command');
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply to '${line}' (got ${JSON.stringify(text)})`));
    }, 10_000);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      text += d;
      if (/(^|\n)\.\n$/.test(text) || (!/^(status|workers|prioritystatus|show)/.test(line) && text.endsWith('\n'))) {
        clearTimeout(timer);
        s.destroy();
        resolve(text);
      }
    });
    s.write(`${line}\r\n`);
  });
}

/** Jobs of `fn` in the `status` listing (queued + running), 0 when it is not listed. */
export async function jobsOf(host: string, port: number, fn: string): Promise<number> {
  const listing = await adminCommand(host, port, 'status');
  const row = listing.split('\n').find((l) => l.split('\t')[0] === fn);
  return row === undefined ? 0 : Number(row.split('\t')[1]);
}

// ---- attacks on the Gearman port ----------------------------------------------------------

export interface GearAttackOptions {
  /** Server's silent timeout (ms): attacks that wait for the server to cut them wait this + slack. */
  silentTimeoutMs: number;
  /** Scale: 1 = the full counts below. */
  scale?: number;
}

export function gearAttacks(o: GearAttackOptions): Attack[] {
  const scale = o.scale ?? 1;
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  const waitForCut = o.silentTimeoutMs + 3000;
  return [
    {
      name: 'oversize packet headers',
      protocol: 'gear',
      description: 'one header declaring 1 GiB, then 20 declaring 64 MiB, each followed by 4 KiB',
      async run(t) {
        const results = await pool(n(21), 21, async (i) => {
          const s = await openSocket(t.host, t.port);
          if (s === undefined) return { error: false, closed: false };
          s.on('error', () => {});
          s.write(Buffer.concat([header(T.ECHO_REQ, i === 0 ? 1024 * MiB : 64 * MiB), Buffer.alloc(4096, 0x61)]));
          const { data, closed } = await collect(s, 3000);
          s.destroy();
          return { error: data.subarray(0, 8).equals(ERROR_PACKET_HEAD), closed };
        });
        return { connections: results.length, answeredError: results.filter((r) => r.error).length, closedByServer: results.filter((r) => r.closed).length };
      },
    },
    {
      name: 'garbage bytes',
      protocol: 'gear',
      description: '50 connections each sending 64 KiB of random bytes',
      async run(t) {
        const results = await pool(n(50), 50, async () => {
          const s = await openSocket(t.host, t.port);
          if (s === undefined) return false;
          s.on('error', () => {});
          // Random bytes are admin lines to the server until a line starts with NUL (a bad
          // packet: closed at once); otherwise the unfinished last line is what gets the
          // connection cut at --silent-timeout. A last byte of LF (1 in 256) would finish it
          // and leave an idle, well-formed connection, so the junk never ends with one.
          const junk = randomBytes(64 * 1024);
          if (junk[junk.length - 1] === 0x0a) junk[junk.length - 1] = 0x41;
          s.write(junk);
          const { closed } = await collect(s, 3000);
          s.destroy();
          return closed;
        });
        return { connections: results.length, closedByServer: results.filter(Boolean).length };
      },
    },
    {
      name: 'malformed packet bursts',
      protocol: 'gear',
      description: '300 connections with bad magic, bad types, missing NULs, 6-token and overlong admin lines',
      async run(t) {
        const bad: Buffer[] = [
          Buffer.concat([header(T.ECHO_REQ, 4, '\0XYZ'), Buffer.from('abcd')]),
          header(0, 0),
          header(200, 0),
          Buffer.concat([header(T.SUBMIT_JOB, 5), Buffer.from('abcde')]), // fields without NULs
          Buffer.concat([header(T.CAN_DO, 3, '\0RES'), Buffer.from('foo')]),
          Buffer.from('a b c d e f\r\n'),
          Buffer.alloc(9000, 0x61),
          Buffer.concat([encodeRequest(T.ECHO_REQ, ['ok']), header(T.WORK_STATUS, 3), Buffer.from('h\0n')]),
        ];
        const results = await pool(n(300), 100, async (i) => {
          const s = await openSocket(t.host, t.port);
          if (s === undefined) return { closed: true, answered: false };
          s.on('error', () => {});
          s.write(bad[i % bad.length]!);
          const { data, closed } = await collect(s, 2000);
          s.destroy();
          return { closed, answered: data.length > 0 };
        });
        return {
          connections: results.length,
          closedByServer: results.filter((r) => r.closed).length,
          answered: results.filter((r) => r.answered).length,
          // \0RES packets and 6-token admin lines are answered and the connection kept (gearmand compatible)
          ignored: results.filter((r) => !r.closed && !r.answered).length,
        };
      },
    },
    {
      name: 'silent connections',
      protocol: 'gear',
      description: '500 connections that send nothing',
      async run(t) {
        return holdOpen(t, n(500), Buffer.alloc(0), waitForCut);
      },
    },
    {
      name: 'half-sent packets',
      protocol: 'gear',
      description: '500 connections that send 6 bytes of a header and stop (slowloris)',
      async run(t) {
        return holdOpen(t, n(500), Buffer.from('\0REQ\0\0', 'latin1'), waitForCut);
      },
    },
    {
      name: 'connection flood',
      protocol: 'gear',
      description: '2000 connections opened together, each asking one ECHO',
      async run(t) {
        const sockets: Socket[] = [];
        const results = await pool(n(2000), 250, async () => {
          const s = await openSocket(t.host, t.port, 5000);
          if (s === undefined) return 'refused';
          sockets.push(s);
          s.on('error', () => {});
          const decoder = new FrameDecoder();
          const answered = new Promise<string>((resolve) => {
            const timer = setTimeout(() => resolve('no answer'), 5000);
            s.once('close', () => {
              clearTimeout(timer);
              resolve('closed');
            });
            s.on('data', (c) => {
              try {
                decoder.push(c, (f) => {
                  if (f.kind === 'packet' && f.type === T.ECHO_RES) {
                    clearTimeout(timer);
                    resolve('served');
                  }
                });
              } catch {
                resolve('garbled');
              }
            });
          });
          s.write(encodeRequest(T.ECHO_REQ, ['flood']));
          return answered;
        });
        for (const s of sockets) s.destroy();
        const count = (what: string) => results.filter((r) => r === what).length;
        return { connections: results.length, served: count('served'), closedByServer: count('closed'), refused: count('refused'), unanswered: count('no answer') };
      },
    },
    {
      name: 'slow consumer (ECHO flood, never reads)',
      protocol: 'gear',
      description: '4 connections writing 64 KiB ECHO_REQs without reading, at most 256 MiB each',
      async run(t) {
        const payload = Buffer.alloc(64 * 1024, 0x62);
        const packet = encodeRequest(T.ECHO_REQ, [payload]);
        const perConnection = 256 * MiB;
        const deadline = Date.now() + waitForCut;
        const results = await pool(n(4), 4, async () => {
          const s = await openSocket(t.host, t.port);
          if (s === undefined) return { sent: 0, closed: false };
          s.pause(); // never read: replies pile up at the server
          let closed = false;
          s.on('error', () => {});
          s.once('close', () => (closed = true));
          let sent = 0;
          while (!closed && Date.now() < deadline) {
            if (sent < perConnection && s.writableLength < 4 * MiB) {
              s.write(packet);
              sent += packet.length;
            } else {
              await sleep(20);
            }
          }
          s.destroy();
          return { sent, closed };
        });
        return {
          connections: results.length,
          closedByServer: results.filter((r) => r.closed).length,
          maxMiBSent: Math.round(Math.max(...results.map((r) => r.sent)) / MiB),
        };
      },
    },
  ];
}

/** Open `count` connections, send `first`, and see how many the server closes within `waitMs`. */
async function holdOpen(t: AttackTarget, count: number, first: Buffer, waitMs: number): Promise<Notes> {
  const sockets = (await pool(count, 200, () => openSocket(t.host, t.port))).filter((s): s is Socket => s !== undefined);
  const started = Date.now();
  let lastClose = 0;
  const closes = sockets.map(
    (s) =>
      new Promise<boolean>((resolve) => {
        s.on('error', () => {});
        const timer = setTimeout(() => resolve(false), waitMs);
        s.once('close', () => {
          clearTimeout(timer);
          lastClose = Date.now() - started;
          resolve(true);
        });
        if (first.length > 0) s.write(first);
      }),
  );
  const closed = (await Promise.all(closes)).filter(Boolean).length;
  for (const s of sockets) s.destroy();
  return { connections: sockets.length, closedByServer: closed, lastClosedAfterMs: lastClose };
}

// ---- attacks on the HTTP port -------------------------------------------------------------

export interface HttpAttackOptions {
  /** The server's time limit for headers / whole requests: slow attacks last this + slack. */
  slowForMs: number;
  scale?: number;
  /** How long a flooding client waits for its answer before giving up (default 3000 ms). */
  clientTimeoutMs?: number;
}

/** Status code of the first response line in `data`, or 0 for none. */
function statusOf(data: Buffer): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(data.subarray(0, 32).toString('latin1'));
  return m ? Number(m[1]) : 0;
}

function tally(codes: number[]): Notes {
  const notes: Notes = { connections: codes.length };
  for (const c of codes) notes[c === 0 ? 'noResponse' : `http${c}`] = ((notes[c === 0 ? 'noResponse' : `http${c}`] as number | undefined) ?? 0) + 1;
  return notes;
}

export function httpAttacks(o: HttpAttackOptions): Attack[] {
  const scale = o.scale ?? 1;
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  const trickle = async (t: AttackTarget, count: number, head: string, drip: string, everyMs: number): Promise<Notes> => {
    const codes = await pool(n(count), n(count), async () => {
      const s = await openSocket(t.host, t.httpPort!);
      if (s === undefined) return -1;
      s.on('error', () => {});
      s.write(head);
      const timer = setInterval(() => {
        if (!s.destroyed) s.write(drip);
      }, everyMs);
      const { data, closed } = await collect(s, o.slowForMs + 3000);
      clearInterval(timer);
      s.destroy();
      return closed || data.length > 0 ? statusOf(data) : -2;
    });
    const notes = tally(codes.filter((c) => c >= 0));
    notes.connections = codes.length;
    notes.refused = codes.filter((c) => c === -1).length;
    notes.stillOpen = codes.filter((c) => c === -2).length;
    return notes;
  };
  return [
    {
      name: 'slow headers (slowloris)',
      protocol: 'http',
      description: '300 connections sending one header line every 500 ms',
      run: (t) => trickle(t, 300, 'POST /slow HTTP/1.1\r\nHost: x\r\n', 'X-Drip: 1\r\n', 500),
    },
    {
      name: 'slow bodies',
      protocol: 'http',
      description: '300 connections declaring 100 kB and sending 10 bytes every 500 ms',
      run: (t) => trickle(t, 300, 'POST /slow HTTP/1.1\r\nHost: x\r\nX-Gearman-Background: true\r\nContent-Length: 100000\r\n\r\n', 'aaaaaaaaaa', 500),
    },
    {
      name: 'large bodies',
      protocol: 'http',
      description: '20 connections declaring 64 MiB bodies and sending 4 MiB each',
      async run(t) {
        const chunk = Buffer.alloc(256 * 1024, 0x63);
        const codes = await pool(n(20), 20, async () => {
          const s = await openSocket(t.host, t.httpPort!);
          if (s === undefined) return -1;
          s.on('error', () => {});
          const reply = collect(s, 5000);
          s.write(`POST /big HTTP/1.1\r\nHost: x\r\nX-Gearman-Background: true\r\nContent-Length: ${64 * MiB}\r\n\r\n`);
          for (let sent = 0; sent < 4 * MiB && !s.destroyed; sent += chunk.length) {
            if (!s.write(chunk)) await new Promise<void>((r) => {
              const t2 = setTimeout(r, 1000);
              s.once('drain', () => {
                clearTimeout(t2);
                r();
              });
            });
          }
          const { data } = await reply;
          s.destroy();
          return statusOf(data);
        });
        return tally(codes);
      },
    },
    {
      name: 'flood to a function with no worker',
      protocol: 'http',
      description: '2000 foreground POSTs (200 at a time) to a function nobody serves',
      async run(t) {
        const codes = await pool(n(2000), 200, () =>
          new Promise<number>((resolve) => {
            const req = request({ host: t.host, port: t.httpPort, method: 'POST', path: '/no_worker_here', agent: false, timeout: o.clientTimeoutMs ?? 3000, headers: { 'Content-Length': '4', Connection: 'close' } }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
              res.on('error', () => resolve(0));
            });
            req.on('timeout', () => req.destroy());
            req.on('error', () => resolve(0));
            req.end('wait');
          }),
        );
        return tally(codes);
      },
    },
    {
      name: 'malformed requests',
      protocol: 'http',
      description: '300 connections with broken request lines, headers and chunked encodings',
      async run(t) {
        const bad = [
          'GARBAGE\r\n\r\n',
          'GET / HTTP/9.9\r\n\r\n',
          'GET /f HTTP/1.1\r\nNo colon here\r\n\r\n',
          'GET /f HTTP/1.1\r\nX-Nul: a\0b\r\n\r\n',
          'POST /f HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
          'POST /f HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
          'POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n',
          'POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nabc\r\n',
          'POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          'POST /f HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n',
          `GET /f HTTP/1.1\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`,
          `GET /${'p'.repeat(20_000)} HTTP/1.1\r\n\r\n`,
        ];
        const codes = await pool(n(300), 100, async (i) => {
          const s = await openSocket(t.host, t.httpPort!);
          if (s === undefined) return -1;
          s.on('error', () => {});
          s.write(bad[i % bad.length]!);
          const { data } = await collect(s, 2000);
          s.destroy();
          return statusOf(data);
        });
        return tally(codes);
      },
    },
  ];
}
