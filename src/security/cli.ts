/**
 * Command-line options of the security settings, added to gearport's program by
 * src/cli-options.ts. gearmand's --ssl options keep their names and meaning (gearman-spec 1.13, 5).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { SecurityConfig } from './config.js';
import { defaultSecurityConfig } from './config.js';
import { applyGearmandTlsEnv } from './tls.js';

function milliseconds(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected milliseconds, got '${value}'.`);
  const n = Number.parseInt(value, 10);
  if (n < 1 || n > 2 ** 31 - 1) throw new InvalidArgumentError(`expected 1 to ${2 ** 31 - 1} milliseconds, got ${n}.`);
  return n;
}

function rate(value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected requests per second (0 = no limit), got '${value}'.`);
  return n;
}

function count(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'.`);
  return Number.parseInt(value, 10);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addSecurityOptions(program: Command): Command {
  const d = defaultSecurityConfig();
  return program
    .option('--ssl', 'TLS on every connection of the Gearman port')
    .option('--ssl-ca-file <file>', 'CA that client certificates must chain to (env GEARMAND_CA_CERTIFICATE overrides)', d.gearTls.caFile)
    .option('--ssl-certificate <file>', 'server certificate, PEM (env GEARMAND_SERVER_PEM overrides)', d.gearTls.certFile)
    .option('--ssl-key <file>', 'server private key, PEM (env GEARMAND_SERVER_KEY overrides)', d.gearTls.keyFile)
    .option('--ssl-verify-client', 'require a client certificate signed by --ssl-ca-file')
    .option('--ssl-client-rights <file>', 'JSON file: certificate CN or fingerprint -> rights (register, submit, admin)')
    .option('--ssl-handshake-timeout <ms>', 'cut off peers that have not finished the TLS handshake', milliseconds, d.gearTls.handshakeTimeoutMs)
    .option('--http-tls-cert <file>', 'serve HTTPS with this certificate (PEM; needs --http-tls-key)')
    .option('--http-tls-key <file>', 'private key of --http-tls-cert (PEM)')
    .option('--http-tokens <file>', 'bearer tokens file (JSON); reloaded on SIGHUP')
    .option('--http-allow-anonymous', 'allow HTTP without tokens on non-loopback addresses')
    .option('--http-cors-origin <origin>', 'origin allowed by CORS (repeatable; * = any)', collect)
    .option('--http-token-rate <rps>', 'requests per second per token (0 = no limit)', rate, d.httpRatePerToken.perSecond)
    .option('--http-token-burst <n>', 'requests per token at once above the rate (default: 2 x rate)', count)
    .option('--http-address-rate <rps>', 'requests per second per client address (0 = no limit)', rate, d.httpRatePerAddress.perSecond)
    .option('--http-address-burst <n>', 'requests per address at once above the rate (default: 2 x rate)', count);
}

/** Fill the security settings from parsed options and gearmand's environment variables. */
export function securityFromOptions(o: Record<string, unknown>, env: NodeJS.ProcessEnv): SecurityConfig {
  const s = defaultSecurityConfig();
  s.gearTls.enabled = o.ssl === true;
  s.gearTls.caFile = o.sslCaFile as string;
  s.gearTls.certFile = o.sslCertificate as string;
  s.gearTls.keyFile = o.sslKey as string;
  applyGearmandTlsEnv(s.gearTls, env);
  s.gearTls.verifyClient = o.sslVerifyClient === true;
  s.gearTls.clientRightsFile = o.sslClientRights as string | undefined;
  s.gearTls.handshakeTimeoutMs = o.sslHandshakeTimeout as number;
  s.httpTlsCertFile = o.httpTlsCert as string | undefined;
  s.httpTlsKeyFile = o.httpTlsKey as string | undefined;
  s.httpTokensFile = o.httpTokens as string | undefined;
  s.httpAllowAnonymous = o.httpAllowAnonymous === true;
  s.httpCorsOrigins = (o.httpCorsOrigin as string[] | undefined) ?? [];
  const tokenRate = o.httpTokenRate as number;
  const addressRate = o.httpAddressRate as number;
  s.httpRatePerToken = { perSecond: tokenRate, burst: (o.httpTokenBurst as number | undefined) ?? Math.ceil(2 * tokenRate) };
  s.httpRatePerAddress = { perSecond: addressRate, burst: (o.httpAddressBurst as number | undefined) ?? Math.ceil(2 * addressRate) };
  return s;
}
