/**
 * Issue 5 figures: acknowledged background submissions per second (JOB_CREATED received, so
 * stored durably where there is a store) for Gearport with each store beside gearmand with
 * `-q libsqlite3` and gearmand with no queue (builtin), in one run on this machine.
 *
 * Load: SUBMIT_JOB_BG pipelined, 4 connections x 250 in flight, 12-byte workload, no workers
 * (bench/gearman-load.ts runBackgroundSubmits, in its own child process), bounded by time
 * and by count. Each server is started fresh, on a fresh file, table or key prefix, which is
 * removed afterwards.
 *
 * Run alone: node dist/bench/durability.js [seconds]   (default 3)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGearmand, startGearport, type RunningServer } from '../test/helpers/servers.js';
import { deleteRedisPrefix, dropPgTables, portOpen, uniqueName, PG_CONNINFO, REDIS_PORT } from '../test/store/helpers.js';
import { runInOneProcess, type MeasuredLoad } from './load-runner.js';
import { table } from './report.js';

export interface Row {
  /** 'gearport' or 'gearmand'. */
  readonly server: string;
  /** 'memory', 'sqlite', 'postgres', 'redis'. */
  readonly store: string;
  /** How it was started, for the record. */
  readonly args: string;
  /** Acknowledged background submissions per second in the measured window. */
  readonly ackedPerSec?: number;
  readonly acked?: number;
  readonly seconds?: number;
  readonly errors?: number;
  /** CPU cores busy over the window: server, load generator, everything else on the machine. */
  readonly cpu?: MeasuredLoad['cpu'];
  /** Why there is no figure. */
  readonly failed?: string;
}

export interface DurabilityBenchOptions {
  /** Measured window per server. */
  readonly seconds: number;
  /** Not counted, before the window. Default 0.5 s. */
  readonly warmupSeconds?: number;
  /** Count bound per server whatever the time. Default 1,000,000. */
  readonly maxJobs?: number;
}

/** Pipelined background submissions (bench config of issue 2): 1000 in flight in all. */
const CONNECTIONS = 4;
const WINDOW = 250;
/** A slow store needs time to answer the 1000 submissions in flight when the window ends. */
const DRAIN_TIMEOUT_MS = 60_000;

interface Subject {
  readonly server: 'gearport' | 'gearmand';
  readonly store: string;
  /** Start the server on fresh storage; `cleanup` removes that storage. */
  start(): Promise<{ running: RunningServer; args: string[]; cleanup(): Promise<void> }>;
}

function tempDir(): { path: string; remove(): Promise<void> } {
  const path = mkdtempSync(join(tmpdir(), 'gearport-durability-bench-'));
  return { path, remove: async () => rmSync(path, { recursive: true, force: true }) };
}

const subjects: Subject[] = [
  {
    server: 'gearport',
    store: 'memory',
    async start() {
      const dir = tempDir();
      const args = ['-q', 'builtin'];
      return { running: await startGearport({ args: [...args, '--data-dir', dir.path] }), args, cleanup: dir.remove };
    },
  },
  {
    server: 'gearport',
    store: 'sqlite',
    async start() {
      const dir = tempDir();
      const args = ['-q', 'sqlite', '--data-dir', dir.path];
      return { running: await startGearport({ args }), args: ['-q', 'sqlite', '--data-dir', '<tmp>'], cleanup: dir.remove };
    },
  },
  {
    server: 'gearport',
    store: 'postgres',
    async start() {
      const name = uniqueName('bench_dur');
      const args = ['-q', 'postgres', '--libpq-conninfo', PG_CONNINFO, '--libpq-table', name];
      return { running: await startGearport({ args }), args, cleanup: () => dropPgTables(name) };
    },
  },
  {
    server: 'gearport',
    store: 'redis',
    async start() {
      const prefix = `${uniqueName('bench_dur')}:`;
      const args = ['-q', 'redis', '--redis-port', String(REDIS_PORT), '--redis-prefix', prefix];
      return {
        running: await startGearport({ args }),
        args,
        cleanup: async () => {
          if (await portOpen(REDIS_PORT)) await deleteRedisPrefix(prefix, REDIS_PORT);
        },
      };
    },
  },
  {
    server: 'gearmand',
    store: 'sqlite',
    async start() {
      const dir = tempDir();
      const args = ['-q', 'libsqlite3', '--libsqlite3-db', join(dir.path, 'gearmand.sqlite')];
      return { running: await startGearmand({ args }), args: ['-q', 'libsqlite3', '--libsqlite3-db', '<tmp>/gearmand.sqlite'], cleanup: dir.remove };
    },
  },
  {
    server: 'gearmand',
    store: 'memory',
    async start() {
      return { running: await startGearmand({ args: [] }), args: ['(builtin queue)'], cleanup: async () => {} };
    },
  },
];

async function measure(subject: Subject, options: DurabilityBenchOptions): Promise<Row> {
  const base = { server: subject.server, store: subject.store };
  let started: Awaited<ReturnType<Subject['start']>> | undefined;
  try {
    started = await subject.start();
    const load = await runInOneProcess(
      {
        kind: 'background',
        host: started.running.host,
        port: started.running.port,
        connections: CONNECTIONS,
        window: WINDOW,
        warmupMs: (options.warmupSeconds ?? 0.5) * 1000,
        measureMs: options.seconds * 1000,
        maxJobs: options.maxJobs ?? 1_000_000,
        drainTimeoutMs: DRAIN_TIMEOUT_MS,
      },
      started.running.pid,
    );
    return { ...base, args: started.args.join(' '), ackedPerSec: load.jobsPerSecond, acked: load.jobs, seconds: load.seconds, errors: load.errors, cpu: load.cpu };
  } catch (err) {
    return { ...base, args: started?.args.join(' ') ?? '', failed: (err as Error).message.split('\n')[0] };
  } finally {
    await started?.running.stop();
    await started?.cleanup().catch(() => {});
  }
}

/** One row per server and store, in the order of `subjects`. */
export async function durabilityBench(opts: DurabilityBenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const subject of subjects) rows.push(await measure(subject, opts));
  return rows;
}

const int = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const cores = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? n.toFixed(2) : 'n/a');

function rate(rows: Row[], server: string, store: string): number {
  const row = rows.find((r) => r.server === server && r.store === store);
  return row?.ackedPerSec !== undefined && row.errors === 0 ? row.ackedPerSec : NaN;
}

/** Markdown: the figures, then the two ratios of issue 5 with their targets. */
export function renderDurability(rows: Row[]): string {
  const figures = table(
    ['server', 'store', 'acknowledged/s', 'acknowledged', 'errors', 'CPU server / load / other (cores)'],
    rows.map((r) =>
      r.failed !== undefined
        ? [r.server, r.store, `failed: ${r.failed}`, '', '', '']
        : [r.server, r.store, int(r.ackedPerSec), int(r.acked), String(r.errors ?? 0), `${cores(r.cpu?.server)} / ${cores(r.cpu?.load)} / ${cores(r.cpu?.other)}`],
    ),
  );
  const ours = rate(rows, 'gearport', 'sqlite');
  const vsSqlite = ours / rate(rows, 'gearmand', 'sqlite');
  const vsMemory = ours / rate(rows, 'gearmand', 'memory');
  const verdict = (value: number, target: number) => (Number.isFinite(value) ? (value >= target ? 'met' : 'NOT met') : 'n/a');
  const ratios = table(
    ['ratio', 'value', 'target', ''],
    [
      ['Gearport sqlite / gearmand -q libsqlite3', Number.isFinite(vsSqlite) ? `${vsSqlite.toFixed(1)}x` : 'n/a', '>= 10x', verdict(vsSqlite, 10)],
      ['Gearport sqlite / gearmand builtin (memory only)', Number.isFinite(vsMemory) ? `${vsMemory.toFixed(2)}x` : 'n/a', '>= 0.33x', verdict(vsMemory, 1 / 3)],
    ],
  );
  return `${figures}\n\n${ratios}`;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 60) throw new Error('usage: node dist/bench/durability.js [seconds 1-60]');
  const rows: Row[] = [];
  for (const subject of subjects) {
    const row = await measure(subject, { seconds });
    process.stderr.write(`${row.server} ${row.store}: ${row.failed ?? `${int(row.ackedPerSec)}/s`}\n`);
    rows.push(row);
  }
  process.stdout.write(`Acknowledged background submissions per second (${CONNECTIONS} connections x ${WINDOW} in flight, 12-byte workload, no workers, ${seconds} s window)\n\n`);
  process.stdout.write(`${renderDurability(rows)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
