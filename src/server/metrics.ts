import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import type { BusyPoll } from './busy-poll.js';

/**
 * Prometheus metrics, read from the engine when scraped: nothing is counted twice and the hot
 * path only bumps plain integers (Engine.counters).
 */
export function createMetrics(engine: Engine, busyPoll?: BusyPoll): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gearport_' });
  const perFunction = (name: string, help: string, read: (fn: { total: number; running: number; queued: number; workers: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['function'],
      registers: [registry],
      collect() {
        this.reset();
        for (const fn of engine.functions.values()) {
          this.set({ function: fn.name }, read({ total: fn.total, running: fn.running, queued: fn.queued, workers: fn.workers.length }));
        }
      },
    });
  perFunction('gearport_function_jobs_queued', 'Jobs waiting in the queues of a function', (f) => f.queued);
  perFunction('gearport_function_jobs_running', 'Jobs of a function held by workers', (f) => f.running);
  perFunction('gearport_function_workers', 'Workers registered for a function', (f) => f.workers);
  new Gauge({
    name: 'gearport_jobs',
    help: 'Jobs in memory (queued, running, scheduled or being stored)',
    registers: [registry],
    collect() {
      this.set(engine.jobs.size);
    },
  });
  new Gauge({
    name: 'gearport_job_memory_bytes',
    help: 'Workload bytes (plus per-job overhead) held by jobs, against --max-job-memory',
    registers: [registry],
    collect() {
      this.set(engine.memoryBytes);
    },
  });
  new Gauge({
    name: 'gearport_peers',
    help: 'Gearman connections plus HTTP requests waiting on a job',
    registers: [registry],
    collect() {
      this.set(engine.peers.size);
    },
  });
  const totals: [keyof Engine['counters'], string][] = [
    ['submitted', 'New jobs accepted'],
    ['coalesced', 'Submissions that joined an existing job through its unique id'],
    ['refused', 'Submissions refused (queue full, memory budget, store failure, bad unique)'],
    ['completed', 'Jobs completed by a worker'],
    ['failed', 'Jobs failed by a worker (WORK_FAIL)'],
    ['exceptions', 'Jobs ended by WORK_EXCEPTION'],
    ['requeued', 'Jobs requeued because their worker was lost or timed out'],
  ];
  for (const [key, help] of totals) {
    new Counter({
      name: `gearport_jobs_${key}_total`,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(engine.counters[key]);
      },
    });
  }
  if (busyPoll !== undefined) {
    new Counter({
      name: 'gearport_busy_poll_seconds_total',
      help: 'Seconds the event loop was kept polling instead of sleeping (--busy-poll): a CPU was busy all that time',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(busyPoll.seconds);
      },
    });
  }
  return registry;
}
