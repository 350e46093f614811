/**
 * Parent side of the load processes: fork bench/load-child.js, follow its phases and sample
 * CPU time of the server and of the load processes exactly over the measured window.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { benchConfig } from './config.js';
import { PINNED_CPUS, cpuSeconds, machineBusySeconds, pinToCpu } from './proc.js';
import type { ChildMessage, LoadJob, LoadSummary } from './load-child.js';

const childScript = resolve(dirname(fileURLToPath(import.meta.url)), 'load-child.js');

/** CPU use over the measured window, in cores (1.0 = one core busy all the time). */
export interface CpuShare {
  readonly server: number;
  readonly load: number;
  /** Everything else on the machine (other users of the 2 cores, steal): noise. */
  readonly other: number;
}

export interface MeasuredLoad extends LoadSummary {
  readonly cpu: CpuShare;
}

interface Child {
  readonly process: ChildProcess;
  /** Resolves with the child's result, rejects on failure or exit without one. */
  readonly result: Promise<unknown>;
  readonly ready: Promise<void>;
}

function startChild(job: LoadJob, onPhase: (phase: 'measure-start' | 'measure-end') => void, timeoutMs: number): Child {
  const child = fork(childScript, [JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (benchConfig.pin) pinToCpu(child.pid!, PINNED_CPUS.load);
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const result = new Promise<unknown>((resolveResult, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`load process (${job.kind}) did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message: ChildMessage) => {
      switch (message.type) {
        case 'ready':
          return resolveReady();
        case 'phase':
          return onPhase(message.phase);
        case 'result':
          clearTimeout(timer);
          return resolveResult(message.result);
        case 'failed':
          clearTimeout(timer);
          return reject(new Error(`load process (${job.kind}) failed: ${message.message}`));
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`load process (${job.kind}) exited (code ${code}, signal ${signal}) without a result`));
    });
  });
  // A failure before 'ready' must not leave the caller waiting on ready forever.
  result.then(resolveReady, resolveReady);
  return { process: child, result, ready };
}

/** Samples CPU seconds of a set of processes at measure-start and measure-end. */
class CpuWindow {
  private startServer = NaN;
  private startLoad = NaN;
  private startMachine = NaN;
  private startWall = 0;
  private share: CpuShare = { server: NaN, load: NaN, other: NaN };

  constructor(
    private readonly serverPid: number,
    private readonly loadPids: () => number[],
  ) {}

  private loadSeconds(): number {
    return this.loadPids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  }

  readonly onPhase = (phase: 'measure-start' | 'measure-end'): void => {
    if (phase === 'measure-start') {
      this.startWall = performance.now();
      this.startServer = cpuSeconds(this.serverPid);
      this.startLoad = this.loadSeconds();
      this.startMachine = machineBusySeconds();
    } else {
      const wall = (performance.now() - this.startWall) / 1000;
      const server = (cpuSeconds(this.serverPid) - this.startServer) / wall;
      const load = (this.loadSeconds() - this.startLoad) / wall;
      const machine = (machineBusySeconds() - this.startMachine) / wall;
      this.share = { server, load, other: Math.max(0, machine - server - load) };
    }
  };

  get cpu(): CpuShare {
    return this.share;
  }
}

/** Generous bound for one load process: warm-up + window + drain + start-up slack. */
function timeoutFor(job: { warmupMs: number; measureMs: number; drainTimeoutMs: number }): number {
  return job.warmupMs + job.measureMs + job.drainTimeoutMs + 30_000;
}

/** Run one load job in one child process (workers and clients together, or background). */
export async function runInOneProcess(job: Extract<LoadJob, { kind: 'foreground' | 'background' }>, serverPid: number): Promise<MeasuredLoad> {
  const pids: number[] = [];
  const cpu = new CpuWindow(serverPid, () => pids);
  const child = startChild(job, cpu.onPhase, timeoutFor(job));
  pids.push(child.process.pid!);
  const summary = (await child.result) as LoadSummary;
  return { ...summary, cpu: cpu.cpu };
}

/** Workers in one child, clients in another (to compare with the one-process layout). */
export async function runInTwoProcesses(job: Extract<LoadJob, { kind: 'foreground' }>, serverPid: number): Promise<MeasuredLoad> {
  const pids: number[] = [];
  const cpu = new CpuWindow(serverPid, () => pids);
  const workers = startChild({ kind: 'workers', host: job.host, port: job.port, workers: job.workers }, () => {}, timeoutFor(job) + 30_000);
  pids.push(workers.process.pid!);
  await workers.ready;
  try {
    const clients = startChild({ ...job, kind: 'clients' }, cpu.onPhase, timeoutFor(job));
    pids.push(clients.process.pid!);
    const summary = (await clients.result) as LoadSummary;
    workers.process.send({ type: 'stop' });
    const workerSide = (await workers.result) as { workerJobs: number; errors: number; errorNotes: string[] };
    return {
      ...summary,
      workerJobs: workerSide.workerJobs,
      errors: summary.errors + workerSide.errors,
      errorNotes: [...summary.errorNotes, ...workerSide.errorNotes],
      cpu: cpu.cpu,
    };
  } finally {
    if (workers.process.exitCode === null) workers.process.kill('SIGKILL');
  }
}

/** Call an export of another bench module in a fresh child, so it runs apart from us too. */
export async function runModuleInChild(module: string, exportName: string, args: unknown[], timeoutMs: number): Promise<unknown> {
  const child = startChild({ kind: 'module', module, exportName, args }, () => {}, timeoutMs);
  return child.result;
}
