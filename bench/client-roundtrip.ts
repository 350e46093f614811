/**
 * Foreground round trips per second through a client and a worker over one job server:
 * this library (src/client) beside npm's `gearman` package doing the same work.
 * Each run is bounded in time (`seconds`) and in count (MAX_JOBS).
 * Alone: `node dist/bench/client-roundtrip.js [seconds] [concurrency]` starts gearmand on a free port.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Client, Worker } from '../src/client/index.js';
import { startGearmand } from '../test/helpers/servers.js';

export interface RoundTripResult {
  library: string;
  jobsPerSec: number;
}

interface RunOptions {
  seconds: number;
  concurrency: number;
}

/** Upper bound on jobs per library, whatever the duration. */
const MAX_JOBS = 500_000;
const PAYLOAD = Buffer.from('x'.repeat(64));
/** A job not answered this long after the deadline ends the run (counted up to there). */
const STALL_GRACE_MS = 5000;

export async function clientRoundTrips(host: string, port: number, opts: RunOptions): Promise<RoundTripResult[]> {
  const results: RoundTripResult[] = [];
  results.push({ library: 'gearport client', jobsPerSec: await ours(host, port, opts) });
  results.push({ library: 'npm gearman@2', jobsPerSec: await npmGearman(host, port, opts) });
  return results;
}

/** `concurrency` loops, each submitting the next job when its previous one completes. */
async function drive(opts: RunOptions, roundTrip: () => Promise<void>): Promise<number> {
  const deadline = Date.now() + opts.seconds * 1000;
  let completed = 0;
  let started = 0;
  const begin = process.hrtime.bigint();
  const loop = async () => {
    while (Date.now() < deadline && started < MAX_JOBS) {
      started++;
      await roundTrip();
      completed++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  const elapsedSec = Number(process.hrtime.bigint() - begin) / 1e9;
  return Math.round(completed / elapsedSec);
}

async function ours(host: string, port: number, opts: RunOptions): Promise<number> {
  const servers = [{ host, port }];
  const fn = `bench_rt_ours_${process.pid}`;
  const worker = new Worker({ servers, concurrency: opts.concurrency });
  const client = new Client({ servers });
  try {
    await worker.register(fn, (job) => job.workload);
    await worker.start();
    const timeoutMs = opts.seconds * 1000 + STALL_GRACE_MS;
    for (let i = 0; i < 20; i++) await client.submit(fn, PAYLOAD); // warm up
    return await drive(opts, async () => {
      await client.submit(fn, PAYLOAD, { timeoutMs });
    });
  } finally {
    client.close();
    await worker.stop({ timeoutMs: 2000 });
  }
}

/** The parts of npm's `gearman` (CommonJS, untyped) used here; see node_modules/gearman/index.js. */
interface NpmGearman {
  connect(callback: () => void): void;
  close(): void;
  on(event: string, listener: (...args: never[]) => void): void;
  submitJob(fn: string, data: Buffer, options?: { unique_id?: string }): void;
  addFunction(fn: string): void;
  preSleep(): void;
  grabJob(): void;
  sendWorkComplete(handle: string, data: Buffer): void;
}

async function npmGearman(host: string, port: number, opts: RunOptions): Promise<number> {
  const require = createRequire(import.meta.url);
  const gearman = require('gearman') as (host: string, port: number) => NpmGearman;
  const fn = `bench_rt_npm_${process.pid}`;
  const connect = (conn: NpmGearman) => new Promise<void>((done) => conn.connect(done));
  const peers: NpmGearman[] = [];
  try {
    // The package runs one job at a time per connection: one worker connection per slot.
    for (let i = 0; i < opts.concurrency; i++) {
      const worker = gearman(host, port);
      peers.push(worker);
      worker.on('error', () => {});
      worker.on('JOB_ASSIGN', (job: { handle: string; payload: Buffer }) => {
        worker.sendWorkComplete(job.handle, job.payload);
        worker.grabJob();
      });
      worker.on('NO_JOB', () => worker.preSleep());
      worker.on('NOOP', () => worker.grabJob());
      await connect(worker);
      worker.addFunction(fn);
      worker.grabJob();
    }
    const client = gearman(host, port);
    peers.push(client);
    client.on('error', () => {});
    // JOB_CREATED arrives in submission order on the connection; results come by handle.
    const awaitingHandle: ((handle: string) => void)[] = [];
    const awaitingResult = new Map<string, () => void>();
    client.on('JOB_CREATED', (handle: string) => awaitingHandle.shift()?.(handle));
    client.on('WORK_COMPLETE', (job: { handle: string }) => {
      const done = awaitingResult.get(job.handle);
      awaitingResult.delete(job.handle);
      done?.();
    });
    await connect(client);
    const stallAt = Date.now() + opts.seconds * 1000 + STALL_GRACE_MS;
    return await drive(opts, () => {
      return new Promise<void>((resolveJob, rejectJob) => {
        const timer = setTimeout(() => rejectJob(new Error('npm gearman round trip stalled')), Math.max(0, stallAt - Date.now()));
        awaitingHandle.push((handle) => awaitingResult.set(handle, () => {
          clearTimeout(timer);
          resolveJob();
        }));
        client.submitJob(fn, PAYLOAD);
      });
    });
  } finally {
    for (const peer of peers) peer.close();
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const concurrencies = process.argv[3] !== undefined ? [Number(process.argv[3])] : [1, 16];
  const server = await startGearmand();
  try {
    console.log(`foreground round trips through gearmand 1.1.20 on ${server.host}:${server.port}, ${seconds} s per run`);
    console.log(`${'library'.padEnd(18)} ${'concurrency'.padStart(11)} ${'jobs/s'.padStart(9)}`);
    for (const concurrency of concurrencies) {
      for (const { library, jobsPerSec } of await clientRoundTrips(server.host, server.port, { seconds, concurrency })) {
        console.log(`${library.padEnd(18)} ${String(concurrency).padStart(11)} ${String(jobsPerSec).padStart(9)}`);
      }
    }
  } finally {
    await server.stop();
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
