/** Public API of the Gearman client, worker and admin library. */
export { Client, clientDefaults } from './client.js';
export type {
  ClientOptions,
  SubmitOptions,
  BackgroundSubmitOptions,
  ScheduleOptions,
  BackgroundJob,
  JobRef,
  Priority,
  Workload,
} from './client.js';
export type { JobStatus, UniqueStatus } from './client-session.js';
export { ForegroundJob } from './foreground-job.js';
export type { JobEvent } from './foreground-job.js';
export { Worker, workerDefaults } from './worker.js';
export type { WorkerOptions, RegisterOptions, JobHandler, JobResult, ErrorReport, WorkerEvents } from './worker.js';
export { WorkerJob } from './worker-job.js';
export { Admin } from './admin.js';
export type {
  AdminOptions,
  FunctionStatus,
  FunctionPriorityStatus,
  WorkerInfo,
  JobInfo,
  MaxQueueSizes,
} from './admin.js';
export * from './errors.js';
export type { ServerAddress, BackoffOptions, CallOptions } from './options.js';
