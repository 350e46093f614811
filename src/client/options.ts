/** Server addresses and the reconnection policy shared by Client, Worker and Admin. */
import type { ConnectionOptions as TlsOptions } from 'node:tls';

export interface ServerAddress {
  /** Host name or IP address. Default `127.0.0.1`. */
  host?: string;
  /** TCP port. Default 4730 (Gearman's registered port). */
  port?: number;
  /**
   * TLS to a server started with `--ssl` (gearmand's or Gearport's): `true` for the system's
   * CAs, or Node's TLS options (`ca`, `cert` and `key` for a client certificate, `servername`).
   * The server's certificate is always verified.
   */
  tls?: true | TlsOptions;
}

export interface ResolvedAddress {
  readonly host: string;
  readonly port: number;
  /** `host:port`, used as a key and in messages. */
  readonly key: string;
  /** TLS options when the server speaks TLS. */
  readonly tls?: TlsOptions;
}

export interface BackoffOptions {
  /** Delay after the first failure. Default 100 ms. */
  initialDelayMs?: number;
  /** Longest delay between attempts. Default 5000 ms. */
  maxDelayMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
}

/** Options common to every call that waits on the server. */
export interface CallOptions {
  /** Reject with TimeoutError (code `TIMEOUT`) after this many milliseconds. */
  timeoutMs?: number;
  /** Reject with AbortError (code `ABORTED`) when this signal fires. */
  signal?: AbortSignal;
}

const DEFAULT_PORT = 4730;
const DEFAULT_HOST = '127.0.0.1';

export const connectionDefaults = {
  /** A TCP connect that takes longer counts as a failure of that server. */
  connectTimeoutMs: 5000,
  backoff: { initialDelayMs: 100, maxDelayMs: 5000, factor: 2 },
} as const;

export function resolveAddress(address: ServerAddress = {}): ResolvedAddress {
  const host = address.host ?? DEFAULT_HOST;
  const port = address.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
  if (address.tls === undefined) return { host, port, key: `${host}:${port}` };
  if (address.tls !== true && address.tls.rejectUnauthorized === false) {
    throw new RangeError(`tls.rejectUnauthorized false for ${host}:${port}: give the server's CA (tls.ca) instead`);
  }
  return { host, port, key: `${host}:${port}`, tls: address.tls === true ? {} : address.tls };
}

export function resolveServers(servers: readonly ServerAddress[] | undefined): ResolvedAddress[] {
  const list = servers === undefined || servers.length === 0 ? [{}] : servers;
  return list.map(resolveAddress);
}
