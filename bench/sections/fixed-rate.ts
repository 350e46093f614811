/**
 * Section "rate": what a job costs the server when it is not saturated. The same load
 * generator as the gearman section, but its clients pace their submits to a fixed number of
 * jobs per second (4 workers, 16 clients), and the report gives the server's CPU over the
 * window beside the latency. The figure a closed-loop cell cannot give: at a fixed rate, a
 * server that costs more CPU per job shows it as CPU, not as a lower rate; and whether
 * `--busy-poll` buys latency there, and at what CPU.
 */
import { existsSync } from 'node:fs';
import { startGearmand, gearportCli, type RunningServer } from '../../test/helpers/servers.js';
import { pinned, startGearportIsolated } from '../servers.js';
import type { BenchConfig } from '../config.js';
import { runInOneProcess, type MeasuredLoad } from '../load-runner.js';
import { median } from '../stats.js';

const WORKERS = 4;
const CLIENTS = 16;
/** Warm-up per run: at a low rate V8 needs seconds, not jobs, before the server's code is optimized. */
const WARMUP_MS = 2000;

export interface RateRun {
  readonly server: string;
  readonly rate: number;
  readonly load?: MeasuredLoad;
  readonly error?: string;
}

export interface RateSectionResult {
  readonly skipped?: string;
  readonly servers: string[];
  readonly rates: number[];
  readonly runs: RateRun[];
}

interface Spec {
  readonly label: string;
  start(): Promise<RunningServer>;
}

function specs(config: BenchConfig): Spec[] {
  return [
    { label: 'gearmand -t 0', start: () => startGearmand({ args: ['-t', '0'] }) },
    { label: 'gearport', start: () => startGearportIsolated([...config.gearportArgs]) },
    { label: 'gearport --busy-poll 50', start: () => startGearportIsolated(['--busy-poll', '50', ...config.gearportArgs]) },
  ];
}

export async function rateSection(config: BenchConfig, log: (line: string) => void): Promise<RateSectionResult> {
  if (!existsSync('/usr/sbin/gearmand') || !existsSync(gearportCli)) return { skipped: 'gearmand or dist/src/cli.js missing', servers: [], rates: [], runs: [] };
  const list = specs(config);
  const running: { label: string; server: RunningServer }[] = [];
  const runs: RateRun[] = [];
  try {
    for (const spec of list) running.push({ label: spec.label, server: pinned(await spec.start()) });
    for (let rep = 0; rep < config.repeat; rep++) {
      for (const rate of config.rates) {
        // Interleaved, rotating who goes first, as in the gearman section.
        for (let i = 0; i < running.length; i++) {
          const { label, server } = running[(i + rep) % running.length]!;
          const job = {
            kind: 'foreground' as const,
            host: server.host,
            port: server.port,
            workers: WORKERS,
            clients: CLIENTS,
            ratePerSecond: rate,
            warmupMs: WARMUP_MS,
            measureMs: config.seconds * 1000,
            maxJobs: config.maxJobsPerCell,
            drainTimeoutMs: config.drainTimeoutMs,
          };
          try {
            const load = await runInOneProcess(job, server.pid);
            runs.push({ server: label, rate, load });
            log(`${label.padEnd(24)} ${String(rate).padStart(6)} jobs/s asked: ${Math.round(load.jobsPerSecond)}/s, server CPU ${(load.cpu.server * 100).toFixed(1)}% of a core, p50 ${Math.round(load.latency.p50)} µs p99 ${Math.round(load.latency.p99)} µs`);
          } catch (err) {
            runs.push({ server: label, rate, error: (err as Error).message });
            log(`${label} ${rate}/s FAILED ${(err as Error).message}`);
          }
        }
      }
    }
  } finally {
    for (const { server } of running) await server.stop();
  }
  return { servers: list.map((s) => s.label), rates: [...config.rates], runs };
}

/** Per server and rate: medians of CPU share, CPU µs per job, p50 and p99. */
export function renderRate(result: RateSectionResult): string {
  if (result.skipped !== undefined) return `skipped: ${result.skipped}`;
  const cell = (server: string, rate: number) => {
    const loads = result.runs.filter((r) => r.server === server && r.rate === rate && r.load !== undefined && r.load.errors === 0).map((r) => r.load!);
    if (loads.length === 0) return undefined;
    const of = (pick: (l: MeasuredLoad) => number) => median(loads.map(pick));
    return { rate: of((l) => l.jobsPerSecond), cpu: of((l) => l.cpu.server), perJob: of((l) => (l.cpu.server * 1e6) / l.jobsPerSecond), p50: of((l) => l.latency.p50), p99: of((l) => l.latency.p99) };
  };
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const header = ['jobs/s asked', ...result.servers.flatMap((s) => [`${s} jobs/s`, 'CPU % of a core', 'CPU µs/job', 'p50/p99 µs'])];
  const rows = result.rates.map((rate) => [
    int(rate),
    ...result.servers.flatMap((s) => {
      const c = cell(s, rate);
      return c === undefined ? ['failed', '', '', ''] : [int(c.rate), Number.isNaN(c.cpu) ? 'n/a' : (c.cpu * 100).toFixed(1), int(c.perJob), `${int(c.p50)}/${int(c.p99)}`];
    }),
  ]);
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  const failures = result.runs.filter((r) => r.error !== undefined || (r.load?.errors ?? 0) > 0).map((r) => `- ${r.server} ${r.rate}/s: ${r.error ?? r.load?.errorNotes.join('; ')}`);
  return [
    `Paced foreground jobs (${WORKERS} workers, ${CLIENTS} clients, ${WARMUP_MS / 1000} s warm-up), median of ${Math.max(...result.rates.map((rate) => result.runs.filter((r) => r.rate === rate).length / result.servers.length))} runs; server CPU from /proc over the window.`,
    '',
    ...lines,
    ...(failures.length > 0 ? ['', ...failures] : []),
  ].join('\n');
}
