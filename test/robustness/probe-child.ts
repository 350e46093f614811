/**
 * The legitimate caller, in its own process so an attacker's CPU use in the test process
 * does not distort its latencies. argv: gear|http host port [intervalMs]. It calls every
 * interval until the parent sends 'stop', then replies with ProbeStats and exits.
 *   gear: ECHO_REQ on one kept connection (reconnects after a failure);
 *   http: POST /<fn> as a background job on a fresh connection (gearmand closes after each).
 */
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { FrameDecoder, encodeRequest, PacketType as T } from '../../src/protocol/index.js';

export interface ProbeStats {
  readonly attempts: number;
  readonly ok: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly firstError?: string;
}

const CALL_TIMEOUT_MS = 2000;
const [kind, host, portText, intervalText] = process.argv.slice(2);
const port = Number(portText);
const intervalMs = Number(intervalText ?? '20');
const latencies: number[] = [];
let attempts = 0;
let failures = 0;
let firstError: string | undefined;
let stopping = false;

function fail(why: string): void {
  firstError ??= why;
}

let sock: Socket | undefined;
let pending: ((ok: boolean, why?: string) => void) | undefined;

function gearConnection(): Promise<Socket> {
  if (sock !== undefined && !sock.destroyed) return Promise.resolve(sock);
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true });
    const decoder = new FrameDecoder();
    s.once('connect', () => {
      sock = s;
      resolve(s);
    });
    s.on('error', (err) => {
      reject(err);
      pending?.(false, String(err));
    });
    s.on('close', () => pending?.(false, 'connection closed'));
    s.on('data', (chunk) => {
      try {
        decoder.push(chunk, (frame) => {
          if (frame.kind === 'packet' && frame.type === T.ECHO_RES) pending?.(true);
          else pending?.(false, `unexpected frame ${frame.kind === 'packet' ? frame.type : 'text'}`);
        });
      } catch (err) {
        pending?.(false, String(err));
        s.destroy();
      }
    });
  });
}

async function gearCall(): Promise<boolean> {
  const s = await gearConnection();
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false, 'timeout'), CALL_TIMEOUT_MS);
    const done = (ok: boolean, why?: string) => {
      clearTimeout(timer);
      pending = undefined;
      if (!ok) {
        fail(why ?? 'failed');
        s.destroy();
        sock = undefined;
      }
      resolve(ok);
    };
    pending = done;
    s.write(encodeRequest(T.ECHO_REQ, ['probe-0123456789']));
  });
}

function httpCall(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host, port, method: 'POST', path: '/probe_bg', agent: false, timeout: CALL_TIMEOUT_MS, headers: { 'X-Gearman-Background': 'true', 'Content-Length': '5', Connection: 'close' } },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) fail(`HTTP ${res.statusCode}`);
          resolve(res.statusCode === 200);
        });
        res.on('error', () => resolve(false));
      },
    );
    req.on('timeout', () => {
      fail('timeout');
      req.destroy();
    });
    req.on('error', (err) => {
      fail(String(err));
      resolve(false);
    });
    req.end('probe');
  });
}

async function loop(): Promise<void> {
  while (!stopping) {
    attempts++;
    const started = performance.now();
    let ok = false;
    try {
      ok = kind === 'http' ? await httpCall() : await gearCall();
    } catch (err) {
      fail(String(err));
    }
    const elapsed = performance.now() - started;
    if (ok) latencies.push(elapsed);
    else latencies.push(Math.max(elapsed, CALL_TIMEOUT_MS)); // a failure counts as a slow call in p99
    if (!ok) failures++;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

process.on('message', (msg) => {
  if (msg !== 'stop') return;
  stopping = true;
  setTimeout(() => {
    const sorted = [...latencies].sort((a, b) => a - b);
    const stats: ProbeStats = { attempts, ok: attempts - failures, p50Ms: pct(sorted, 50), p99Ms: pct(sorted, 99), maxMs: sorted.at(-1) ?? NaN, firstError };
    process.send!(stats, () => process.exit(0));
  }, CALL_TIMEOUT_MS + 100);
});

if (process.send !== undefined) {
  process.send('ready');
  void loop();
}
