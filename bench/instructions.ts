/**
 * `npm run bench:instructions`: user-space instructions each server executes per foreground
 * job and per pipelined background submit (Gearport in memory, and with its durable SQLite
 * default), counted by valgrind's callgrind. Unlike time, the count hardly moves with what else
 * the machine is doing, so it shows a hot-path change that the noise of a 2-core VM hides in
 * jobs/s (the kernel's share, the same system calls for both servers, is not counted).
 *
 * Each server runs under callgrind on a free loopback port; the load generator (not under
 * valgrind) connects and runs WARMUP jobs twice, so the JIT settles: the first set of
 * connections closing deoptimizes code that the second set's jobs then see optimized again
 * (with one warm-up run the count included that re-optimization, some 15% of it). Then the
 * counters are zeroed, SHORT jobs run and the counters are dumped; zeroed again, SHORT +
 * MEASURED jobs run and dumped. Each of the two counted runs connects and disconnects its
 * clients and workers once, so their difference divided by MEASURED is what a job costs
 * with the connect and teardown taken out. "main thread" is the event loop's thread; "all
 * threads" adds the rest (V8's compiler and GC helpers, gearmand's other threads).
 * Needs valgrind (Debian package `valgrind`); bounded in job count and in time.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, gearportCli, hasCommand, waitForPort } from '../test/helpers/servers.js';
import { RECOMMENDED_NODE_OPTIONS } from './config.js';

const WARMUP = Number(process.env.BENCH_INSTR_WARMUP ?? 20_000);
const MEASURED = Number(process.env.BENCH_INSTR_JOBS ?? 5_000);
/** Jobs of the shorter counted run, whose count is taken from the longer one's. */
const SHORT = 1_000;
/** Under valgrind a server runs some 50 times slower: generous, but bounded. */
const STEP_TIMEOUT_MS = 240_000;
const loadChild = fileURLToPath(new URL('./load-child.js', import.meta.url));

interface Scenario {
  readonly label: string;
  /** Foreground jobs through workers, or pipelined background submits (4 connections × 250 in flight). */
  readonly kind: 'foreground' | 'background';
  readonly workers: number;
  readonly clients: number;
  /** Gearport with its default durable SQLite queue instead of `-q memory` (gearmand keeps its memory queue). */
  readonly durable?: boolean;
}

const scenarios: Scenario[] = [
  { label: 'fg 1w × 1c', kind: 'foreground', workers: 1, clients: 1 },
  { label: 'fg 4w × 16c', kind: 'foreground', workers: 4, clients: 16 },
  { label: 'bg submits, both in memory', kind: 'background', workers: 0, clients: 4 },
  { label: 'bg submits, Gearport durable (SQLite) vs gearmand in memory', kind: 'background', workers: 0, clients: 4, durable: true },
];

interface Counted {
  readonly mainThread: number;
  readonly allThreads: number;
}

/** The server's command line; run in a temporary folder, which holds Gearport's SQLite file when durable. */
function serverCommand(kind: 'gearmand' | 'gearport', port: number, scenario: Scenario): string[] {
  if (kind === 'gearmand') return ['/usr/sbin/gearmand', '-t', '0', '-L', '127.0.0.1', '-p', String(port), '-l', 'stderr'];
  const queue = scenario.durable === true ? [] : ['-q', 'memory'];
  return [process.execPath, ...RECOMMENDED_NODE_OPTIONS.split(' '), gearportCli, '-L', '127.0.0.1', '-p', String(port), ...queue];
}

/** Run `jobs` jobs through the load generator; resolves when they are done (background: acknowledged). */
function runJobs(port: number, scenario: Scenario, jobs: number): void {
  const shape =
    scenario.kind === 'foreground'
      ? { kind: 'foreground', workers: scenario.workers, clients: scenario.clients }
      : { kind: 'background', connections: scenario.clients, window: 250 };
  const job = {
    ...shape,
    host: '127.0.0.1',
    port,
    warmupMs: 0,
    measureMs: STEP_TIMEOUT_MS,
    maxJobs: jobs,
    drainTimeoutMs: 60_000,
  };
  const out = execFileSync(process.execPath, [loadChild, JSON.stringify(job)], { timeout: STEP_TIMEOUT_MS + 70_000, encoding: 'utf8' });
  const result = out.split('\n').find((line) => line.includes('"result"'));
  const done = result === undefined ? 0 : (JSON.parse(result) as { result: { jobs: number } }).result.jobs;
  if (done < jobs) throw new Error(`load generator finished ${done} of ${jobs} jobs: ${out.slice(0, 300)}`);
}

/** Instructions per thread in dump number `part` (callgrind's files `<base>.<pid>.<part>-<thread>`). */
function readCounts(dir: string, part: number): Counted {
  let mainThread = 0;
  let allThreads = 0;
  for (const name of readdirSync(dir)) {
    const match = /\.(\d+)-(\d+)$/.exec(name);
    if (match === null || Number(match[1]) !== part) continue;
    const summary = /^summary: (\d+)/m.exec(readFileSync(join(dir, name), 'latin1'));
    if (summary === null) continue;
    const count = Number(summary[1]);
    allThreads += count;
    if (Number(match[2]) === 1) mainThread += count;
  }
  return { mainThread, allThreads };
}

/** Zero the counters, run `jobs`, dump: that dump's counts. */
function countRun(pid: number, dir: string, part: number, port: number, scenario: Scenario, jobs: number): Counted {
  execFileSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore', timeout: 30_000 });
  runJobs(port, scenario, jobs);
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore', timeout: 30_000 });
  return readCounts(dir, part);
}

async function measure(kind: 'gearmand' | 'gearport', scenario: Scenario): Promise<Counted> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gearport-callgrind-'));
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', '--separate-threads=yes', '--dump-instr=no', `--callgrind-out-file=${join(dir, 'cg')}`, ...serverCommand(kind, port, scenario)],
    { stdio: 'ignore', cwd: dir },
  );
  try {
    await waitForPort(port, child, () => '', STEP_TIMEOUT_MS);
    runJobs(port, scenario, WARMUP);
    runJobs(port, scenario, WARMUP);
    const short = countRun(child.pid!, dir, 1, port, scenario, SHORT);
    const long = countRun(child.pid!, dir, 2, port, scenario, SHORT + MEASURED);
    return { mainThread: (long.mainThread - short.mainThread) / MEASURED, allThreads: (long.allThreads - short.allThreads) / MEASURED };
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  if (!hasCommand('valgrind') || !hasCommand('callgrind_control')) {
    console.error('valgrind is not installed (apt-get install -y valgrind)');
    process.exit(2);
  }
  console.log(
    `### User-space instructions per job (callgrind; 2 × ${fmt(WARMUP)} jobs of warm-up; a run of ${fmt(SHORT + MEASURED)} jobs less one of ${fmt(SHORT)}, per job)\n`,
  );
  console.log('| scenario | gearmand -t 0 main thread | all threads | Gearport main thread | all threads | ratio (main threads) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const scenario of scenarios) {
    const gearport = await measure('gearport', scenario);
    const gearmand = await measure('gearmand', scenario);
    console.log(
      `| ${scenario.label} | ${fmt(gearmand.mainThread)} | ${fmt(gearmand.allThreads)} | ${fmt(gearport.mainThread)} | ${fmt(gearport.allThreads)} | ${(gearport.mainThread / gearmand.mainThread).toFixed(2)}x |`,
    );
  }
}

await main();
