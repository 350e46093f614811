/**
 * Section "rate": what a job costs the server when it is not saturated. The same load
 * generator as the gearman section, but its clients pace their submits to a fixed number of
 * jobs per second (4 workers, 16 clients), and the report gives the server's CPU over the
 * window beside the latency. The figure a closed-loop cell cannot give: at a fixed rate, a
 * server that costs more CPU per job shows it as CPU, not as a lower rate; and whether
 * `--busy-poll` buys latency there, and at what CPU.
 */
import type { RunningServer } from '../../test/helpers/servers.js';
import { pinned } from '../servers.js';
import type { BenchConfig } from '../config.js';
import { runInOneProcess, type MeasuredLoad } from '../load-runner.js';
import { rotate, serverSpecs } from './gearman.js';

export const RATE_WORKERS = 4;
export const RATE_CLIENTS = 16;
/** Warm-up per run: at a low rate V8 needs seconds, not jobs, before the server's code is optimized. */
export const RATE_WARMUP_MS = 2000;
/** The gearman section's servers this section runs: the faster gearmand, and Gearport with and without busy polling. */
const SERVERS = ['gearmand-t0', 'gearport', 'gearport-busy-poll'];

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
  readonly repeat: number;
  readonly runs: RateRun[];
}

export async function rateSection(config: BenchConfig, log: (line: string) => void): Promise<RateSectionResult> {
  const specs = serverSpecs(config).filter((spec) => SERVERS.includes(spec.id));
  const missing = specs.map((spec) => spec.missing()).find((reason) => reason !== undefined);
  if (missing !== undefined) return { skipped: missing, servers: [], rates: [], repeat: 0, runs: [] };
  const running: { label: string; server: RunningServer }[] = [];
  const runs: RateRun[] = [];
  try {
    for (const spec of specs) running.push({ label: spec.label, server: pinned(await spec.start()) });
    for (let rep = 0; rep < config.repeat; rep++) {
      for (const rate of config.rates) {
        // Interleaved, rotating who goes first, as in the gearman section.
        for (const { label, server } of rotate(running, rep)) {
          const job = {
            kind: 'foreground' as const,
            host: server.host,
            port: server.port,
            workers: RATE_WORKERS,
            clients: RATE_CLIENTS,
            ratePerSecond: rate,
            warmupMs: RATE_WARMUP_MS,
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
  return { servers: specs.map((s) => s.label), rates: [...config.rates], repeat: config.repeat, runs };
}
