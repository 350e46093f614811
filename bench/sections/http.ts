/**
 * Section "http": the HTTP front (Gearport --http-port vs gearmand -r http) with the HTTP
 * load generator of bench/http-load.ts (written separately: httpLoad(options)). The server
 * gets 1, then 4 reverse workers in their own child (http-load.js --workers), the generator
 * runs in another child, so neither shares a process with the server or with this orchestrator.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startGearmand, gearportCli, type RunningServer } from '../../test/helpers/servers.js';
import type { BenchConfig } from '../config.js';
import { runModuleInChild } from '../load-runner.js';
import { startGearportIsolated, waitForWorkers } from '../servers.js';
import { cpuSeconds } from '../proc.js';
import { benchDir, loadOptional } from './optional-module.js';

const MODULE = 'http-load.js';
const FUNCTION = 'reverse'; // the path the generator posts to, and its workers' function
/** Grouped by worker count: the workers' child is replaced when the count changes. */
const SCENARIOS = [
  { label: 'fg 1w 1 conn', workers: 1, connections: 1, background: false },
  { label: 'fg 1w 16 conn', workers: 1, connections: 16, background: false },
  { label: 'fg 1w 64 conn', workers: 1, connections: 64, background: false },
  { label: 'fg 4w 1 conn', workers: 4, connections: 1, background: false },
  { label: 'fg 4w 16 conn', workers: 4, connections: 16, background: false },
  { label: 'fg 4w 64 conn', workers: 4, connections: 64, background: false },
  { label: 'bg 4w 64 conn', workers: 4, connections: 64, background: true },
] as const;

export interface HttpRun {
  readonly server: string;
  readonly scenario: string;
  readonly result?: { requestsPerSec: number; p50Ms: number; p99Ms: number; errors: number };
  /** Server CPU per answered request, µs, over the whole call (a little start-up included). */
  readonly serverCpuMicrosPerRequest?: number;
  readonly error?: string;
}

export interface HttpSectionResult {
  readonly skipped?: string;
  readonly scenarios?: readonly string[];
  readonly servers?: readonly string[];
  readonly runs?: HttpRun[];
}

export async function httpSection(config: BenchConfig, log: (line: string) => void): Promise<HttpSectionResult> {
  const loaded = await loadOptional(MODULE);
  if (loaded.module === undefined) return { skipped: loaded.missing };
  if (typeof loaded.module.httpLoad !== 'function') return { skipped: `${MODULE} does not export httpLoad` };
  const modulePath = resolve(benchDir, MODULE);
  const servers: { label: string; start: () => Promise<RunningServer> }[] = [{ label: 'gearmand -t 4 -r http', start: () => startGearmand({ http: true }) }];
  if (existsSync(gearportCli)) servers.push({ label: 'gearport --http-port', start: () => startGearportIsolated([...config.gearportArgs], { http: true }) });
  const runs: HttpRun[] = [];
  for (const { label, start } of servers) {
    let server: RunningServer | undefined;
    let workers: ChildProcess | undefined;
    let workerCount = 0;
    try {
      server = await start();
      const base = { host: server.host, port: server.httpPort!, gearPort: server.port, path: `/${FUNCTION}` };
      const timeoutMs = config.seconds * 1000 + 90_000;
      for (const scenario of SCENARIOS) {
        try {
          if (scenario.workers !== workerCount) {
            if (workers !== undefined) {
              workers.kill();
              await waitForWorkers(server.host, server.port, FUNCTION, 0, 10_000, true);
            }
            workers = fork(modulePath, ['--workers', String(server.port), String(scenario.workers)], { stdio: 'inherit' });
            workerCount = scenario.workers;
            await waitForWorkers(server.host, server.port, FUNCTION, scenario.workers, 10_000, true);
            // Warm-up (connections, JIT), not recorded.
            await runModuleInChild(modulePath, 'httpLoad', [{ ...base, connections: 16, seconds: config.warmupSeconds, background: false }], timeoutMs);
          }
          const cpuBefore = cpuSeconds(server.pid);
          const result = (await runModuleInChild(modulePath, 'httpLoad', [{ ...base, connections: scenario.connections, seconds: config.seconds, background: scenario.background }], timeoutMs)) as HttpRun['result'];
          const requests = result!.requestsPerSec * config.seconds;
          const serverCpuMicrosPerRequest = requests > 0 ? ((cpuSeconds(server.pid) - cpuBefore) * 1e6) / requests : NaN;
          runs.push({ server: label, scenario: scenario.label, result, serverCpuMicrosPerRequest });
          log(`http ${label.padEnd(22)} ${scenario.label.padEnd(11)} ${Math.round(result!.requestsPerSec).toLocaleString('en-US')} req/s p50 ${result!.p50Ms.toFixed(2)} ms p99 ${result!.p99Ms.toFixed(2)} ms errors ${result!.errors} server CPU ${Math.round(serverCpuMicrosPerRequest)} µs/req`);
        } catch (err) {
          runs.push({ server: label, scenario: scenario.label, error: (err as Error).message.split('\n')[0] });
          log(`http ${label} ${scenario.label}: FAILED ${(err as Error).message.split('\n')[0]}`);
        }
      }
    } catch (err) {
      runs.push({ server: label, scenario: 'setup', error: (err as Error).message.split('\n')[0] });
      log(`http ${label}: FAILED ${(err as Error).message.split('\n')[0]}`);
    } finally {
      workers?.kill();
      await server?.stop();
    }
  }
  return { scenarios: SCENARIOS.map((s) => s.label), servers: servers.map((s) => s.label), runs };
}
