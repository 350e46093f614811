/**
 * Section "gearman" (issue 2): gearmand (default threads and -t 0) and Gearport under the
 * same load generator: foreground jobs/s with p50/p99 latency over a worker x client grid,
 * and pipelined background submits/s. Each server starts fresh on a free loopback port.
 *
 * Load layout. The clients and the workers run together in ONE child process, apart from
 * the server and from this orchestrator. On a 2-core machine this gives the server one core
 * and the load one core, the same split for every server. Two load processes (workers and
 * clients apart) would put three busy processes on two cores: the load would then take CPU
 * from the server itself, and more so from a multi-threaded gearmand than from single-threaded
 * Node, which skews the comparison. BENCH_LOAD_PROCESSES=2 runs that layout for comparison.
 * The load process CPU share is reported per cell so a saturated generator is visible.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGearmand, gearportCli, type RunningServer } from '../../test/helpers/servers.js';
import { pinned, startGearportIsolated } from '../servers.js';
import { benchConfig, type BenchConfig } from '../config.js';
import { runInOneProcess, runInTwoProcesses, type MeasuredLoad } from '../load-runner.js';
import { peakRssBytes } from '../proc.js';
import { median } from '../stats.js';

export interface Scenario {
  readonly id: string;
  readonly label: string;
  readonly kind: 'foreground' | 'background';
  readonly workers: number;
  readonly clients: number;
}

export interface CellResult {
  readonly scenario: string;
  readonly load?: MeasuredLoad;
  readonly error?: string;
}

export interface ServerResult {
  readonly id: string;
  readonly label: string;
  /** Why the server was not measured, when it was not. */
  readonly skipped?: string;
  /** Per scenario, the median of its clean runs (medianRun). */
  readonly cells: CellResult[];
  /** Every run, in order. */
  readonly runs: CellResult[];
  /** VmHWM of the server process at the end of each phase (fresh process per phase; background: max over runs). */
  readonly peakRssBytes: { foreground: number; background: number };
}

export interface GearmanSectionResult {
  readonly scenarios: Scenario[];
  readonly servers: ServerResult[];
  readonly loadProcesses: number;
  readonly repeat: number;
}

export interface ServerSpec {
  readonly id: string;
  readonly label: string;
  /** Phases it runs in (a variant that only differs for background jobs skips foreground). */
  readonly phases: readonly Scenario['kind'][];
  start(): Promise<RunningServer>;
  /** A reason to skip, or undefined when the server can run. */
  missing(): string | undefined;
}

const gearmandMissing = () => (existsSync('/usr/sbin/gearmand') ? undefined : '/usr/sbin/gearmand missing');
const gearportMissing = () => (existsSync(gearportCli) ? undefined : 'dist/src/cli.js missing');

const both = ['foreground', 'background'] as const;
/** The busy-poll window the bench shows: about one hop of the load generator's reply here. */
const BUSY_POLL_MICROS = 50;
export const serverSpecs = (config: BenchConfig): ServerSpec[] => [
  // gearmand's default is 4 I/O threads; no -t passed so "default" means what users get.
  { id: 'gearmand-t4', label: 'gearmand -t 4 (default)', phases: both, start: () => startGearmand(), missing: gearmandMissing },
  { id: 'gearmand-t0', label: 'gearmand -t 0', phases: both, start: () => startGearmand({ args: ['-t', '0'] }), missing: gearmandMissing },
  // Gearport as users get it: background jobs durable in SQLite (gearmand's default keeps them in memory only).
  { id: 'gearport', label: 'gearport', phases: both, start: () => startGearportIsolated([...config.gearportArgs]), missing: gearportMissing },
  // Gearport trading CPU for latency (--busy-poll, off by default): foreground only, where each hop waits for a reply.
  { id: 'gearport-busy-poll', label: `gearport --busy-poll ${BUSY_POLL_MICROS}`, phases: ['foreground'], start: () => startGearportIsolated(['--busy-poll', String(BUSY_POLL_MICROS), ...config.gearportArgs]), missing: gearportMissing },
  // Like for like with gearmand's default builtin queue; only background jobs touch the store.
  { id: 'gearport-memory', label: 'gearport -q memory', phases: ['background'], start: () => startGearportIsolated(['-q', 'memory', ...config.gearportArgs]), missing: gearportMissing },
  // Durable against durable: gearmand's own SQLite queue, for Gearport's default SQLite one.
  { id: 'gearmand-sqlite', label: 'gearmand -t 0 -q libsqlite3', phases: ['background'], start: startGearmandSqlite, missing: gearmandMissing },
];

/** gearmand with its SQLite queue in a throw-away file. */
async function startGearmandSqlite(): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gearmand-bench-'));
  const server = await startGearmand({ args: ['-t', '0', '-q', 'libsqlite3', '--libsqlite3-db', join(dir, 'queue.sqlite')] });
  return {
    ...server,
    async stop(signal?: NodeJS.Signals) {
      await server.stop(signal);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function scenarios(config: BenchConfig): Scenario[] {
  const list: Scenario[] = [];
  for (const workers of config.workerCounts) {
    for (const clients of config.clientCounts) {
      list.push({ id: `fg-w${workers}-c${clients}`, label: `fg ${workers}w × ${clients}c`, kind: 'foreground', workers, clients });
    }
  }
  const { connections, window } = config.background;
  list.push({ id: 'bg', label: `bg submits (${connections} conn × ${window} in flight)`, kind: 'background', workers: 0, clients: connections });
  return config.scenarios.length === 0 ? list : list.filter((s) => config.scenarios.includes(s.id));
}

function describe(load: MeasuredLoad): string {
  const rate = Math.round(load.jobsPerSecond).toLocaleString('en-US');
  const errors = load.errors > 0 ? `  ERRORS ${load.errors}: ${load.errorNotes.join('; ')}` : '';
  return `${rate}/s p50 ${Math.round(load.latency.p50)} µs p99 ${Math.round(load.latency.p99)} µs  cpu server ${load.cpu.server.toFixed(2)} load ${load.cpu.load.toFixed(2)} other ${load.cpu.other.toFixed(2)}${errors}`;
}

async function runCell(server: RunningServer, scenario: Scenario, config: BenchConfig): Promise<MeasuredLoad> {
  const window = {
    host: server.host,
    port: server.port,
    warmupMs: config.warmupSeconds * 1000,
    measureMs: config.seconds * 1000,
    maxJobs: config.maxJobsPerCell,
    drainTimeoutMs: config.drainTimeoutMs,
  };
  if (scenario.kind === 'background') {
    return runInOneProcess({ kind: 'background', ...window, ...config.background }, server.pid);
  }
  const job = { kind: 'foreground' as const, ...window, workers: scenario.workers, clients: scenario.clients };
  return config.loadProcesses === 2 ? runInTwoProcesses(job, server.pid) : runInOneProcess(job, server.pid);
}

interface Running {
  readonly spec: ServerSpec;
  readonly server?: RunningServer;
  readonly error?: string;
}

async function startAll(specs: ServerSpec[], log: (line: string) => void): Promise<Running[]> {
  const running: Running[] = [];
  for (const spec of specs) {
    try {
      running.push({ spec, server: pinned(await spec.start()) });
    } catch (err) {
      const error = `start failed: ${(err as Error).message}`;
      log(`${spec.label}: ${error}`);
      running.push({ spec, error });
    }
  }
  return running;
}

/** `items` starting at index `by` (wrapping): who goes first changes from cell to cell and repeat to repeat. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const n = items.length;
  return n === 0 ? [] : items.map((_, i) => items[(i + by) % n]!);
}

async function measure(running: Running, scenario: Scenario, config: BenchConfig, log: (line: string) => void): Promise<CellResult> {
  const { spec, server } = running;
  const tag = `${spec.label.padEnd(24)} ${scenario.label.padEnd(34)}`;
  if (server === undefined) return { scenario: scenario.id, error: running.error };
  if (server.process.exitCode !== null || server.process.signalCode !== null) {
    const error = `server exited: ${server.stderr().slice(-500)}`;
    log(`${tag} FAILED ${error}`);
    return { scenario: scenario.id, error };
  }
  try {
    const load = await runCell(server, scenario, config);
    log(`${tag} ${describe(load)}`);
    return { scenario: scenario.id, load };
  } catch (err) {
    log(`${tag} FAILED ${(err as Error).message}`);
    return { scenario: scenario.id, error: (err as Error).message };
  }
}

/**
 * A scenario's clean runs summed up as their medians, each figure on its own (jobs/s, p50,
 * p99, CPU), else its first run (to show its error). The median, not the best: on this
 * 2-core VM a run can also come out fast by luck (how the scheduler places the server and
 * the load generator), and the best of a few then compares two servers' luckiest runs.
 */
function medianRun(runs: CellResult[], scenario: string): CellResult | undefined {
  const mine = runs.filter((r) => r.scenario === scenario);
  const clean = mine.flatMap((r) => (r.load !== undefined && r.load.errors === 0 ? [r.load] : []));
  if (clean.length === 0) return mine[0];
  const of = (pick: (load: MeasuredLoad) => number) => median(clean.map(pick));
  const first = clean[0]!;
  const load: MeasuredLoad = {
    ...first,
    jobs: of((l) => l.jobs),
    seconds: of((l) => l.seconds),
    jobsPerSecond: of((l) => l.jobsPerSecond),
    latency: { ...first.latency, p50: of((l) => l.latency.p50), p99: of((l) => l.latency.p99), max: of((l) => l.latency.max) },
    cpu: { server: of((l) => l.cpu.server), load: of((l) => l.cpu.load), other: of((l) => l.cpu.other) },
  };
  return { scenario, load };
}

export async function gearmanSection(config: BenchConfig = benchConfig, log: (line: string) => void = console.error): Promise<GearmanSectionResult> {
  const list = scenarios(config);
  const foreground = list.filter((s) => s.kind === 'foreground');
  const background = list.filter((s) => s.kind === 'background');
  const specs = serverSpecs(config).filter((spec) => config.servers.includes(spec.id));
  const skipped = new Map<string, string>();
  for (const spec of specs) {
    const reason = spec.missing();
    if (reason !== undefined) {
      skipped.set(spec.id, reason);
      log(`${spec.label}: skipped (${reason})`);
    }
  }
  const active = specs.filter((spec) => !skipped.has(spec.id));
  const runs = new Map<string, CellResult[]>(active.map((spec) => [spec.id, []]));
  const peakForeground = new Map<string, number>();
  const peakBackground = new Map<string, number>();

  // Foreground: every server up at once (idle ones use no CPU) and the servers interleaved
  // cell by cell, rotating who goes first, so drifting load on a shared machine hits all alike.
  if (foreground.length > 0 && active.length > 0) {
    const running = await startAll(active.filter((spec) => spec.phases.includes('foreground')), log);
    try {
      for (let rep = 0; rep < config.repeat; rep++) {
        for (const [index, scenario] of foreground.entries()) {
          for (const entry of rotate(running, index + rep)) runs.get(entry.spec.id)!.push(await measure(entry, scenario, config, log));
        }
      }
    } finally {
      for (const entry of running) {
        if (entry.server === undefined) continue;
        peakForeground.set(entry.spec.id, peakRssBytes(entry.server.pid));
        await entry.server.stop();
      }
    }
  }
  // Background: with no worker the jobs pile up; a fresh server per run drains them by exiting.
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const scenario of background) {
      for (const spec of rotate(active.filter((spec) => spec.phases.includes('background')), rep)) {
        const [entry] = await startAll([spec], log);
        try {
          runs.get(spec.id)!.push(await measure(entry!, scenario, config, log));
        } finally {
          if (entry!.server !== undefined) {
            peakBackground.set(spec.id, Math.max(peakBackground.get(spec.id) ?? 0, peakRssBytes(entry!.server.pid)));
            await entry!.server.stop();
          }
        }
      }
    }
  }

  const servers: ServerResult[] = specs.map((spec) => {
    const all = runs.get(spec.id) ?? [];
    return {
      id: spec.id,
      label: spec.label,
      ...(skipped.has(spec.id) ? { skipped: skipped.get(spec.id) } : {}),
      cells: list.map((s) => medianRun(all, s.id)).filter((c): c is CellResult => c !== undefined),
      runs: all,
      peakRssBytes: { foreground: peakForeground.get(spec.id) ?? NaN, background: peakBackground.get(spec.id) ?? NaN },
    };
  });
  return { scenarios: list, servers, loadProcesses: config.loadProcesses, repeat: config.repeat };
}
