/**
 * Security settings of both ports, kept in one object so the server config gains a single
 * field. Filled by the CLI (src/security/cli.ts), checked by `securityConfigProblem`.
 */
import { isLoopback } from '../server/peer-address.js';

export interface GearTlsConfig {
  /** TLS on every connection of the Gearman port (gearmand --ssl, gearman-spec 1.13). */
  enabled: boolean;
  /** CA bundle that client certificates must chain to (gearmand --ssl-ca-file). */
  caFile: string;
  /** Server certificate, PEM (gearmand --ssl-certificate). */
  certFile: string;
  /** Server private key, PEM (gearmand --ssl-key). */
  keyFile: string;
  /** Ask for a client certificate and refuse peers without one signed by caFile (gearmand never does: 7 B11). */
  verifyClient: boolean;
  /** JSON file mapping certificate CN or SHA-256 fingerprint to rights (register, submit, admin). */
  clientRightsFile: string | undefined;
  /** A peer that has not finished the handshake in this long is cut off (gearmand busy-loops: 7 B11). */
  handshakeTimeoutMs: number;
}

export interface RateConfig {
  /** Sustained requests per second; 0 = no limit. */
  perSecond: number;
  /** Requests allowed at once above the sustained rate. */
  burst: number;
}

export interface SecurityConfig {
  gearTls: GearTlsConfig;
  /** HTTPS for the HTTP front: both set = TLS on, neither = plain HTTP. */
  httpTlsCertFile: string | undefined;
  httpTlsKeyFile: string | undefined;
  /** Bearer tokens (src/security/tokens.ts format); undefined = no authentication. */
  httpTokensFile: string | undefined;
  /** Serve HTTP beyond loopback without tokens: refused unless set (DESIGN: safe defaults). */
  httpAllowAnonymous: boolean;
  /** Origins given CORS headers; empty = no CORS headers at all. `*` allows any origin. */
  httpCorsOrigins: string[];
  /** Requests per token (the token file may override per token). */
  httpRatePerToken: RateConfig;
  /** Requests per client address, authenticated or not. */
  httpRatePerAddress: RateConfig;
}

/** gearmand's compiled-in defaults: $(sysconfdir)/ssl/certs/gearmand-ca.pem etc. (spec 1.13). */
export const GEARMAND_SSL_DEFAULTS = {
  caFile: '/etc/ssl/certs/gearmand-ca.pem',
  certFile: '/etc/ssl/certs/gearmand.pem',
  keyFile: '/etc/ssl/certs/gearmand.key',
} as const;

export function defaultSecurityConfig(): SecurityConfig {
  return {
    gearTls: {
      enabled: false,
      ...GEARMAND_SSL_DEFAULTS,
      verifyClient: false,
      clientRightsFile: undefined,
      handshakeTimeoutMs: 10_000,
    },
    httpTlsCertFile: undefined,
    httpTlsKeyFile: undefined,
    httpTokensFile: undefined,
    httpAllowAnonymous: false,
    httpCorsOrigins: [],
    httpRatePerToken: { perSecond: 0, burst: 0 },
    httpRatePerAddress: { perSecond: 0, burst: 0 },
  };
}

/** Whether an address is this machine only (an empty listen list means every address). */
export function isLoopbackListen(address: string): boolean {
  return address === 'localhost' || isLoopback(address);
}

/**
 * Refusals, each with the reason and the way out. `listen` and `httpPort` come from the
 * server config. Returns an error message, or undefined when the settings may start.
 */
export function securityConfigProblem(security: SecurityConfig, listen: readonly string[], httpPort: number | undefined): string | undefined {
  const t = security.gearTls;
  if (!Number.isInteger(t.handshakeTimeoutMs) || t.handshakeTimeoutMs <= 0) return `the TLS handshake timeout must be a positive number of milliseconds, got ${t.handshakeTimeoutMs}`;
  if (!t.enabled && (t.verifyClient || t.clientRightsFile !== undefined)) {
    return '--ssl-verify-client and --ssl-client-rights need --ssl (TLS on the Gearman port)';
  }
  if (t.clientRightsFile !== undefined && !t.verifyClient) return '--ssl-client-rights needs --ssl-verify-client (rights come from verified certificates)';
  if ((security.httpTlsCertFile === undefined) !== (security.httpTlsKeyFile === undefined)) {
    return 'HTTPS needs both --http-tls-cert and --http-tls-key';
  }
  for (const [name, rate] of [['per-token', security.httpRatePerToken], ['per-address', security.httpRatePerAddress]] as const) {
    if (!(rate.perSecond >= 0) || !Number.isFinite(rate.perSecond)) return `the ${name} rate must be a non-negative number, got ${rate.perSecond}`;
    if (!Number.isInteger(rate.burst) || rate.burst < 0) return `the ${name} burst must be a non-negative integer, got ${rate.burst}`;
  }
  for (const origin of security.httpCorsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) return `--http-cors-origin takes an origin such as https://app.example.com (scheme and host, no path), got '${origin}'`;
  }
  if (httpPort !== undefined && security.httpTokensFile === undefined && !security.httpAllowAnonymous) {
    const open = listen.length === 0 ? ['every address'] : listen.filter((a) => !isLoopbackListen(a));
    if (open.length > 0) {
      return (
        `refusing to serve HTTP on ${open.join(', ')} without authentication: anyone who can reach it could run jobs. ` +
        'Give --http-tokens FILE, listen on loopback only (-L 127.0.0.1), or pass --http-allow-anonymous to accept the risk'
      );
    }
  }
  return undefined;
}
