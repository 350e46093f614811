import type { Engine } from '../../engine/engine.js';
import type { BusyPoll } from '../busy-poll.js';
import type { GearportConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { VERSION } from '../version.js';

/** The settings of the HTTP front (a slice of the server config; see config.ts for defaults). */
export type HttpLimits = Pick<
  GearportConfig,
  | 'httpMaxHeaderBytes'
  | 'httpMaxUrlBytes'
  | 'httpMaxBodyBytes'
  | 'httpHeadersTimeoutMs'
  | 'httpRequestTimeoutMs'
  | 'httpKeepAliveTimeoutMs'
  | 'httpMaxRequestsPerConnection'
  | 'httpMaxPipelined'
  | 'httpMaxConnections'
  | 'httpMaxConnectionsPerAddress'
  | 'httpMaxWaitsPerAddress'
  | 'httpRequireWorker'
  | 'httpWaitTimeoutMs'
  | 'httpMaxWaitTimeoutMs'
  | 'maxOutputBuffer'
  | 'outputHighWaterMark'
  | 'backlog'
  | 'security'
>;

/** Every extra route lives under this prefix; a Gearman function name starting with it is not reachable over HTTP. */
const API_PREFIX = '_gearport';

/** What follows `_gearport` when `path` (leading slashes removed) names the reserved API, else undefined. */
export function apiRest(path: string): string | undefined {
  if (!path.startsWith(API_PREFIX)) return undefined;
  const next = path.charCodeAt(API_PREFIX.length);
  return Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */ ? path.slice(API_PREFIX.length) : undefined;
}

/** gearmand sends `Server: Gearman/<version>` (gearman-spec 3.4); the comment names us. */
export const SERVER_HEADER = `Gearman/${VERSION} (Gearport)`;

/** What every request handler shares: the engine, the limits and per-address counters. */
export interface HttpContext {
  readonly engine: Engine;
  readonly limits: HttpLimits;
  readonly logger: Logger;
  /** Foreground jobs awaited right now, per client address (httpMaxWaitsPerAddress). */
  readonly waitsByAddress: Map<string, number>;
  /** The server's poller when --busy-poll is on: told of reads, and its time is a metric. */
  readonly busyPoll?: BusyPoll;
}
