/**
 * Every knob of `npm run bench` in one place. Defaults keep a full run under ~5 minutes on
 * the 2-core machine; BENCH_SECONDS=1 (`npm run bench:quick`) for a smoke run.
 */
function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

/** What `npm start` passes to node; lowers the p99 that young-generation GC pauses cause. */
export const RECOMMENDED_NODE_OPTIONS = '--max-semi-space-size=4';

export const benchConfig = {
  /** Measured window per cell (issue 2: ~3 s). */
  seconds: envNumber('BENCH_SECONDS', 3),
  /** Load before the window, not counted. */
  warmupSeconds: envNumber('BENCH_WARMUP', 0.5),
  /**
   * Runs per cell, the servers interleaved; the report gives each figure's median over them
   * (sections/gearman.ts, medianRun). Three: the fewest whose median drops one outlier run.
   */
  repeat: Math.round(envNumber('BENCH_REPEAT', 3)),
  /** Count bound per cell whatever the time, so a surprisingly fast server cannot run away. */
  maxJobsPerCell: 2_000_000,
  /** Time allowed for in-flight jobs to finish after the window. */
  drainTimeoutMs: 10_000,
  /** Foreground grid of issue 2. */
  workerCounts: [1, 4],
  clientCounts: [1, 16, 64],
  /** Pipelined background submits: a few connections (so a threaded server can spread them), 1000 in flight in all. */
  background: { connections: 4, window: 250 },
  /**
   * Load layout: 1 = clients and workers in one child process (default), 2 = one each.
   * See the comment in sections/gearman.ts for why one is the default.
   */
  loadProcesses: envNumber('BENCH_LOAD_PROCESSES', 1) === 2 ? 2 : 1,
  /**
   * BENCH_PIN=1: servers on CPU 1, load processes on CPU 0 (taskset), so that a server has a
   * core of its own, as in a deployment where it runs apart from its clients and workers.
   */
  pin: process.env.BENCH_PIN === '1',
  /** Jobs per second of the paced section ("rate"), comma list. */
  rates: (process.env.BENCH_RATES ?? '200,1000,5000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0),
  /** Sections to run (comma list), default all: gearman, rate, client, store, http. */
  sections: (process.env.BENCH_SECTIONS ?? 'gearman,rate,client,store,http').split(',').map((s) => s.trim()).filter(Boolean),
  /** Servers to run in the gearman section (comma list), default all: gearmand-t4, gearmand-t0, gearmand-sqlite, gearport, gearport-busy-poll, gearport-memory. */
  servers: (process.env.BENCH_SERVERS ?? 'gearmand-t4,gearmand-t0,gearmand-sqlite,gearport,gearport-busy-poll,gearport-memory').split(',').map((s) => s.trim()).filter(Boolean),
  /** Scenario ids to run (comma list, e.g. fg-w4-c64,bg), default all. */
  scenarios: (process.env.BENCH_SCENARIOS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  /** Extra Gearport arguments, space separated. */
  gearportArgs: (process.env.BENCH_GEARPORT_ARGS ?? '').split(' ').filter(Boolean),
  /** NODE_OPTIONS for Gearport: the young-generation size the README recommends (see its Benchmarks). */
  gearportNodeOptions: process.env.BENCH_GEARPORT_NODE_OPTIONS ?? RECOMMENDED_NODE_OPTIONS,
  /** Where the JSON results go (under dist/, so nothing untracked appears in the tree). */
  resultsFile: 'dist/bench-results.json',
} as const;

export type BenchConfig = typeof benchConfig;
