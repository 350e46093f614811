import { randomBytes } from 'node:crypto';
import { Engine } from '../engine/engine.js';
import type { JobStore } from '../store/types.js';
import { validateConfig, type GearportConfig } from './config.js';
import { BusyPoll } from './busy-poll.js';
import { GearListener } from './gear-listener.js';
import type { SessionContext } from './gear-session.js';
import { createLogger, type Logger } from './logger.js';
import { openStore } from './store-setup.js';
import { VERSION } from './version.js';
import { prepareGearTls } from '../security/gear-tls.js';

export interface Gearport {
  readonly config: GearportConfig;
  readonly engine: Engine;
  readonly logger: Logger;
  /** The Gearman port actually bound (useful with port 0). */
  readonly port: number;
  /** The HTTP port actually bound, when the HTTP front is on. */
  readonly httpPort: number | undefined;
  /**
   * Stop. Graceful: stop accepting and refuse new jobs, wait (up to shutdownTimeoutMs) for
   * foreground and running jobs, then close. Queued background jobs stay in the store.
   */
  stop(graceful?: boolean): Promise<void>;
  /** Resolves when the server has stopped, whoever stopped it (admin `shutdown` too). */
  readonly stopped: Promise<void>;
}

/** HTTP front hook: installed by src/server/http when it exists (kept apart from the core). */
export interface HttpFront {
  listen(port: number, addresses: readonly string[]): Promise<number>;
  stopAccepting(): void;
  closeAll(): void;
}
export type HttpFrontFactory = (engine: Engine, config: GearportConfig, logger: Logger, busyPoll?: BusyPoll) => HttpFront;
let httpFrontFactory: HttpFrontFactory | undefined;
export function registerHttpFront(factory: HttpFrontFactory): void {
  httpFrontFactory = factory;
}

export async function startGearport(config: GearportConfig, logger?: Logger): Promise<Gearport> {
  validateConfig(config);
  const log = logger ?? createLogger(config.verbose, config.logFile);
  // Certificates are checked before anything opens: a bad one stops start-up (never plaintext).
  const gearTls = prepareGearTls(config.security.gearTls);
  /** The engine and the sessions log through pino with the detail first, as pino wants. */
  const logTo = (level: 'debug' | 'info' | 'warn' | 'error', message: string, detail?: Record<string, unknown>) =>
    log[level](detail ?? {}, message);
  const store: JobStore | undefined = openStore(config, log);
  const engine = new Engine({
    handlePrefix: config.jobHandlePrefix,
    jobRetries: config.jobRetries,
    workerWakeup: config.workerWakeup,
    defaultMaxQueue: config.defaultMaxQueue,
    maxJobBytes: config.maxJobBytes,
    maxFunctions: config.maxFunctions,
    store,
    bootId: randomBytes(6).toString('hex'),
    log: logTo,
  });
  if (store !== undefined) {
    const stored = await store.open();
    const restored = engine.restore(stored);
    if (restored > 0) log.info({ restored, store: store.name }, 'background jobs restored from the store');
  }

  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));

  const ctx: SessionContext = {
    engine,
    limits: config,
    exceptionsByDefault: config.exceptions,
    admin: {
      pid: process.pid,
      version: VERSION,
      verbose: config.verbose,
      // After the OK reply has been flushed (replies go out at the end of the tick).
      shutdown: (graceful) => void setTimeout(() => void stop(graceful), 20),
    },
    log: logTo,
  };
  // One poller for both ports: input on either keeps the loop polling (--busy-poll).
  const busyPoll = config.busyPollMicros > 0 ? new BusyPoll(config.busyPollMicros) : undefined;
  const gear = new GearListener(ctx, config, gearTls, busyPoll);
  const http = httpFrontFactory !== undefined && config.httpPort !== undefined ? httpFrontFactory(engine, config, log, busyPoll) : undefined;
  let port: number;
  let httpPort: number | undefined;
  try {
    port = await gear.listen(config.port, config.listen);
    if (http !== undefined) httpPort = await http.listen(config.httpPort!, config.listen);
  } catch (err) {
    gear.stopAccepting();
    http?.stopAccepting();
    engine.close();
    await store?.close();
    throw err;
  }
  log.info({ port, httpPort, version: VERSION, store: store?.name ?? 'none' }, 'gearport listening');

  async function stop(graceful = false): Promise<void> {
    if (stopping !== undefined) return stopping;
    stopping = (async () => {
      gear.stopAccepting();
      http?.stopAccepting();
      engine.shuttingDown = true;
      if (graceful) await waitForForegroundJobs(engine, config.shutdownTimeoutMs);
      gear.closeAll();
      http?.closeAll();
      engine.close();
      await store?.close();
      log.info('gearport stopped');
      resolveStopped();
    })();
    return stopping;
  }

  return { config, engine, logger: log, port, httpPort, stop, stopped };
}

function waitForForegroundJobs(engine: Engine, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      engine.onJobGone = undefined;
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    engine.onJobGone = () => {
      if (engine.foregroundJobs === 0) done();
    };
    if (engine.foregroundJobs === 0) done();
  });
}
