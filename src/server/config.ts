import { hostname } from 'node:os';
import { defaultSecurityConfig, securityConfigProblem, type SecurityConfig } from '../security/config.js';
import { DEFAULT_WAL_LIMIT_BYTES } from '../store/sqlite-checkpointer.js';

export const VerboseLevels = ['FATAL', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'] as const;
export type VerboseLevel = (typeof VerboseLevels)[number];

export const QueueTypes = ['builtin', 'memory', 'none', 'sqlite', 'libsqlite3', 'postgres', 'libpq', 'redis'] as const;
export type QueueType = (typeof QueueTypes)[number];

/**
 * Every setting of the server, with its default. The CLI and tests fill it; `validateConfig`
 * checks it once at start. Each limit exists so that memory and sockets stay bounded.
 */
export interface GearportConfig {
  // ---- gearmand-compatible ----
  /** Gearman port (binary and admin text protocols). gearmand: -p, default 4730. */
  port: number;
  /** Addresses to listen on; empty = every address, as gearmand. gearmand: -L. */
  listen: string[];
  /** listen() backlog. gearmand: -b. */
  backlog: number;
  /** gearmand's I/O threads; accepted for compatibility, Gearport runs one event loop. */
  threads: number;
  verbose: VerboseLevel;
  /** 'stderr', 'none' or a file path. gearmand: -l. */
  logFile: string;
  /** Retries after a worker is lost before the job fails; 0 = unlimited. gearmand: -j. */
  jobRetries: number;
  /** Sleeping workers woken per new job; 0 = all. gearmand: -w. */
  workerWakeup: number;
  /** Accepted for compatibility: grabs always rotate over a worker's functions (gearmand 2.0). */
  roundRobin: boolean;
  /** Every connection starts with the `exceptions` option. */
  exceptions: boolean;
  /** Handle prefix; default `H:<hostname>` (gearman-spec 1.10). */
  jobHandlePrefix: string;
  /** HTTP front port; undefined = no HTTP front. gearmand: --http-port with -r http. */
  httpPort: number | undefined;
  /** Durable queue for background jobs. gearmand: -q. */
  queueType: QueueType;
  /** Directory of the default SQLite file. */
  dataDir: string;
  /** SQLite file; default <dataDir>/gearport.sqlite. gearmand: --libsqlite3-db. */
  sqliteFile: string | undefined;
  sqliteTable: string;
  /** SQLite synchronous mode: NORMAL survives kill -9 (WAL); FULL also survives power loss. */
  sqliteSynchronous: 'NORMAL' | 'FULL' | 'EXTRA';
  /** WAL size at which SQLite writes wait for the checkpoint thread to catch up; 0 = no thread (checkpoints inside commits). */
  sqliteWalLimit: number;
  /** PostgreSQL connection string. gearmand: --libpq-conninfo. */
  postgresConninfo: string;
  postgresTable: string;
  redisHost: string;
  redisPort: number;
  /**
   * Redis AUTH password; undefined = none. gearmand: --redis-password. The CLI also takes it
   * from env GEARPORT_REDIS_PASSWORD or --config-file, which keep it out of `ps`.
   */
  redisPassword: string | undefined;
  /** Redis 6 ACL user to AUTH as (with redisPassword); undefined = the `default` user. Not in gearmand. */
  redisUsername: string | undefined;
  redisKeyPrefix: string;
  /** Milliseconds a store operation may take before it counts as failed. */
  storeTimeoutMs: number;

  // ---- limits of the Gearman port ----
  /** Largest packet payload; a bigger header is refused before any byte is buffered. */
  maxPacketSize: number;
  /** Longest admin text line. gearmand: 8192 (its receive buffer). */
  maxAdminLineLength: number;
  /** Open connections on the Gearman port; more are refused at accept. */
  maxConnections: number;
  /** Open connections from one address; 0 = no per-address limit. */
  maxConnectionsPerAddress: number;
  /** Reading pauses while a connection has this much output unsent (it must read first). */
  outputHighWaterMark: number;
  /** A connection with this much output unsent is a slow consumer and is cut off. */
  maxOutputBuffer: number;
  /** A connection that sends no byte this long after connecting is closed. */
  silentConnectionTimeoutMs: number;
  /**
   * After input on the Gearman port or the HTTP front, keep polling this many microseconds
   * before the event loop may sleep: lower latency per hop for up to a core of CPU.
   * 0 = off (busy-poll.ts).
   */
  busyPollMicros: number;

  // ---- limits of the job engine ----
  /** maxqueue given to every new function; 0 = unlimited. */
  defaultMaxQueue: number;
  /** Bytes of workloads (plus per-job overhead) held in memory by all jobs. */
  maxJobBytes: number;
  /** Distinct function names; idle ones are reclaimed first when the limit is met. */
  maxFunctions: number;
  /** Graceful shutdown waits this long for running jobs before closing anyway. */
  shutdownTimeoutMs: number;

  // ---- limits of the HTTP front (gearmand has none: gearman-spec 3.6, 7 B9) ----
  /** Request line plus headers, bytes; more is refused with 431 (414 when the line alone is too long). */
  httpMaxHeaderBytes: number;
  /** Request target (path and query), bytes; longer is refused with 414. */
  httpMaxUrlBytes: number;
  /** Request body, bytes: refused with 413 from Content-Length before any body byte is read. */
  httpMaxBodyBytes: number;
  /** Time to receive a request's headers; slower senders get 408 and are cut off (at most httpRequestTimeoutMs). */
  httpHeadersTimeoutMs: number;
  /** Time to receive a whole request (headers and body); slower senders get 408. */
  httpRequestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  httpKeepAliveTimeoutMs: number;
  /** Requests served on one connection before it is closed; 0 = unlimited. */
  httpMaxRequestsPerConnection: number;
  /** Requests of one connection worked on at once (pipelining); reading pauses beyond them. */
  httpMaxPipelined: number;
  /** Open HTTP connections; more are answered 503 and closed. */
  httpMaxConnections: number;
  /** Open HTTP connections from one address; 0 = no per-address limit. */
  httpMaxConnectionsPerAddress: number;
  /** Foreground HTTP jobs awaited at once by one address (429 beyond); 0 = no limit. */
  httpMaxWaitsPerAddress: number;
  /** How long a foreground HTTP caller waits for its result before 504. */
  httpWaitTimeoutMs: number;
  /** Upper bound of the per-request X-Gearman-Timeout header. */
  httpMaxWaitTimeoutMs: number;
  /**
   * Refuse (404 NO_WORKER) HTTP jobs for functions no worker has registered, so callers
   * cannot create function state or queue work nobody will run.
   */
  httpRequireWorker: boolean;

  // ---- security: TLS, client-certificate rights, HTTP tokens, CORS, rate limits (src/security) ----
  security: SecurityConfig;
}

const MiB = 1024 * 1024;
/** A longer busy-poll window only burns CPU: a peer silent for 10 ms is not about to answer. */
export const MAX_BUSY_POLL_MICROS = 10_000;

export function defaultConfig(): GearportConfig {
  return {
    port: 4730,
    listen: [],
    backlog: 1024,
    threads: 4,
    verbose: 'ERROR',
    logFile: 'stderr',
    jobRetries: 0,
    workerWakeup: 0,
    roundRobin: false,
    exceptions: false,
    jobHandlePrefix: `H:${hostname()}`,
    httpPort: undefined,
    queueType: 'sqlite',
    dataDir: 'gearport-data',
    sqliteFile: undefined,
    sqliteTable: 'gearport_queue',
    sqliteSynchronous: 'NORMAL',
    sqliteWalLimit: DEFAULT_WAL_LIMIT_BYTES,
    postgresConninfo: 'postgres://127.0.0.1:5432/postgres',
    postgresTable: 'gearport_queue',
    redisHost: '127.0.0.1',
    redisPort: 6379,
    redisPassword: undefined,
    redisUsername: undefined,
    redisKeyPrefix: 'gearport:',
    storeTimeoutMs: 5000,
    maxPacketSize: 16 * MiB,
    maxAdminLineLength: 8192,
    maxConnections: 10_000,
    maxConnectionsPerAddress: 0,
    outputHighWaterMark: 1 * MiB,
    maxOutputBuffer: 64 * MiB,
    silentConnectionTimeoutMs: 30_000,
    busyPollMicros: 0,
    defaultMaxQueue: 0,
    maxJobBytes: 1024 * MiB,
    maxFunctions: 10_000,
    shutdownTimeoutMs: 30_000,
    httpMaxHeaderBytes: 16 * 1024,
    httpMaxUrlBytes: 8 * 1024,
    httpMaxBodyBytes: 1 * MiB,
    httpHeadersTimeoutMs: 10_000,
    httpRequestTimeoutMs: 30_000,
    httpKeepAliveTimeoutMs: 5_000,
    httpMaxRequestsPerConnection: 10_000,
    httpMaxPipelined: 16,
    httpMaxConnections: 10_000,
    httpMaxConnectionsPerAddress: 1_000,
    httpMaxWaitsPerAddress: 1_000,
    httpRequireWorker: false,
    httpWaitTimeoutMs: 30_000,
    httpMaxWaitTimeoutMs: 300_000,
    security: defaultSecurityConfig(),
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Refuse settings that cannot work or would be unsafe; returns the config unchanged. */
export function validateConfig(config: GearportConfig): GearportConfig {
  const port = (name: string, v: number | undefined, allowZero = true) => {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1) || v > 65535) throw new ConfigError(`${name} must be a port number (0-65535), got ${v}`);
  };
  const positive = (name: keyof GearportConfig) => {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${name} must be a positive integer, got ${String(v)}`);
  };
  const nonNegative = (name: keyof GearportConfig) => {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ConfigError(`${name} must be a non-negative integer, got ${String(v)}`);
  };
  port('port', config.port);
  port('httpPort', config.httpPort);
  if (config.httpPort !== undefined && config.httpPort !== 0 && config.httpPort === config.port) {
    throw new ConfigError('the HTTP port and the Gearman port must differ');
  }
  for (const name of ['maxPacketSize', 'maxAdminLineLength', 'maxConnections', 'outputHighWaterMark', 'maxOutputBuffer', 'silentConnectionTimeoutMs', 'backlog', 'storeTimeoutMs', 'shutdownTimeoutMs'] as const) positive(name);
  for (const name of ['jobRetries', 'workerWakeup', 'defaultMaxQueue', 'maxJobBytes', 'maxFunctions', 'maxConnectionsPerAddress', 'threads'] as const) nonNegative(name);
  for (const name of ['httpMaxHeaderBytes', 'httpMaxUrlBytes', 'httpMaxBodyBytes', 'httpHeadersTimeoutMs', 'httpRequestTimeoutMs', 'httpKeepAliveTimeoutMs', 'httpMaxPipelined', 'httpMaxConnections', 'httpWaitTimeoutMs', 'httpMaxWaitTimeoutMs'] as const) positive(name);
  for (const name of ['httpMaxRequestsPerConnection', 'httpMaxConnectionsPerAddress', 'httpMaxWaitsPerAddress'] as const) nonNegative(name);
  if (config.httpWaitTimeoutMs > config.httpMaxWaitTimeoutMs) throw new ConfigError('httpWaitTimeoutMs must not exceed httpMaxWaitTimeoutMs');
  if (config.httpMaxUrlBytes > config.httpMaxHeaderBytes) throw new ConfigError('httpMaxUrlBytes must not exceed httpMaxHeaderBytes');
  nonNegative('busyPollMicros');
  if (config.busyPollMicros > MAX_BUSY_POLL_MICROS) throw new ConfigError(`busyPollMicros must be 0-${MAX_BUSY_POLL_MICROS}, got ${config.busyPollMicros}`);
  if (config.redisUsername !== undefined && config.redisPassword === undefined) {
    throw new ConfigError('redisUsername needs redisPassword (--redis-password or GEARPORT_REDIS_PASSWORD): Redis authenticates a user by its password');
  }
  if (config.jobRetries > 255) throw new ConfigError(`jobRetries must be 0-255, got ${config.jobRetries}`);
  if (config.workerWakeup > 255) throw new ConfigError(`workerWakeup must be 0-255, got ${config.workerWakeup}`);
  if (config.maxOutputBuffer < config.maxPacketSize) {
    throw new ConfigError('maxOutputBuffer must be at least maxPacketSize, or the largest result could never be delivered');
  }
  if (config.outputHighWaterMark > config.maxOutputBuffer) throw new ConfigError('outputHighWaterMark must not exceed maxOutputBuffer');
  if (!VerboseLevels.includes(config.verbose)) throw new ConfigError(`verbose must be one of ${VerboseLevels.join(', ')}`);
  if (!QueueTypes.includes(config.queueType)) throw new ConfigError(`queue type must be one of ${QueueTypes.join(', ')}`);
  // The handle must fit gearmand's 64-byte buffer with a counter (spec 1.10).
  if (Buffer.byteLength(config.jobHandlePrefix) + 11 > 63) throw new ConfigError('job handle prefix is too long (at most 52 bytes)');
  const securityProblem = securityConfigProblem(config.security, config.listen, config.httpPort);
  if (securityProblem !== undefined) throw new ConfigError(securityProblem);
  return config;
}
