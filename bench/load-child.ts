/**
 * Entry point of a load-generator child process (forked by bench/load-runner.ts).
 * The job comes as JSON in argv[2]; progress and the result go back over the IPC channel.
 * Keeping load out of the orchestrator means the orchestrator's own work (reading /proc,
 * starting servers) never steals time from the load loop, and every server gets an
 * identical, freshly started load process.
 */
import { WorkerPool, runBackgroundSubmits, runForegroundClients, type LoadResult, type WindowOptions } from './gearman-load.js';
import { summarize, type LatencySummary } from './stats.js';

export type LoadJob =
  | ({ readonly kind: 'foreground'; readonly workers: number; readonly clients: number; readonly ratePerSecond?: number } & Omit<WindowOptions, 'onPhase'>)
  | ({ readonly kind: 'clients'; readonly clients: number } & Omit<WindowOptions, 'onPhase'>)
  | { readonly kind: 'workers'; readonly host: string; readonly port: number; readonly workers: number }
  | ({ readonly kind: 'background'; readonly connections: number; readonly window: number } & Omit<WindowOptions, 'onPhase'>)
  /** Call `exportName(...args)` of a bench module (sections written by others). */
  | { readonly kind: 'module'; readonly module: string; readonly exportName: string; readonly args: unknown[] };

/** A load result without the raw samples (they stay in the child). */
export interface LoadSummary extends Omit<LoadResult, 'latenciesMicros'> {
  readonly latency: LatencySummary;
  /** Workers' completions, when this process ran the workers. */
  readonly workerJobs?: number;
}

export type ChildMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'phase'; readonly phase: 'measure-start' | 'measure-end' }
  | { readonly type: 'result'; readonly result: unknown }
  | { readonly type: 'failed'; readonly message: string };

export type ParentMessage = { readonly type: 'stop' };

/** To the parent over IPC; run by hand (no IPC channel), results print as JSON lines. */
function send(message: ChildMessage): Promise<void> {
  if (process.send === undefined) {
    if (message.type !== 'phase') console.log(JSON.stringify(message));
    return Promise.resolve();
  }
  return new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));
}

function summarizeLoad(result: LoadResult, workerJobs?: number): LoadSummary {
  const { latenciesMicros, ...rest } = result;
  return { ...rest, latency: summarize(latenciesMicros), ...(workerJobs === undefined ? {} : { workerJobs }) };
}

const onPhase = (phase: 'measure-start' | 'measure-end') => void send({ type: 'phase', phase });

async function run(job: LoadJob): Promise<unknown> {
  switch (job.kind) {
    case 'foreground': {
      const pool = await WorkerPool.start(job.host, job.port, job.workers);
      await send({ type: 'ready' });
      try {
        const result = await runForegroundClients({ ...job, onPhase });
        return summarizeLoad(
          { ...result, errors: result.errors + pool.errors.count, errorNotes: [...result.errorNotes, ...pool.errors.notes] },
          pool.jobsDone,
        );
      } finally {
        pool.close();
      }
    }
    case 'clients':
      await send({ type: 'ready' });
      return summarizeLoad(await runForegroundClients({ ...job, onPhase }));
    case 'workers': {
      const pool = await WorkerPool.start(job.host, job.port, job.workers);
      await send({ type: 'ready' });
      await new Promise<void>((resolve) => process.once('message', () => resolve()));
      pool.close();
      return { workerJobs: pool.jobsDone, errors: pool.errors.count, errorNotes: pool.errors.notes };
    }
    case 'background':
      await send({ type: 'ready' });
      return summarizeLoad(await runBackgroundSubmits({ ...job, onPhase }));
    case 'module': {
      const mod = (await import(job.module)) as Record<string, unknown>;
      const fn = mod[job.exportName];
      if (typeof fn !== 'function') throw new Error(`${job.module} has no export ${job.exportName}`);
      await send({ type: 'ready' });
      return await (fn as (...args: unknown[]) => Promise<unknown>)(...job.args);
    }
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;
try {
  const result = await run(job);
  await send({ type: 'result', result });
} catch (err) {
  await send({ type: 'failed', message: (err as Error).stack ?? String(err) });
}
if (process.connected) process.disconnect();
// Sockets are destroyed by now; exit anyway in case a module under test left a handle open.
setTimeout(() => process.exit(0), 200).unref();
