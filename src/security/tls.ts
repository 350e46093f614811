/**
 * Certificate material for TLS listeners, loaded and checked once at start. Any problem
 * stops start-up with a message naming the file: TLS never silently falls back to plaintext
 * (gearmand logs and carries on, gearman-spec 1.13; #207).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { GearTlsConfig } from './config.js';

export class TlsSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsSetupError';
  }
}

/** gearmand's environment variables override the options (gearman-spec 1.13). */
export function applyGearmandTlsEnv(tls: GearTlsConfig, env: NodeJS.ProcessEnv): void {
  if (env.GEARMAND_CA_CERTIFICATE) tls.caFile = env.GEARMAND_CA_CERTIFICATE;
  if (env.GEARMAND_SERVER_PEM) tls.certFile = env.GEARMAND_SERVER_PEM;
  if (env.GEARMAND_SERVER_KEY) tls.keyFile = env.GEARMAND_SERVER_KEY;
}

function readPem(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new TlsSetupError(`cannot read the ${what} ${file}: ${why}`);
  }
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate signed by this CA. */
  caFile?: string;
}

/**
 * Read and check a certificate, its key and optionally a CA: the certificate must parse,
 * the key must match it, and the CA must parse. Returns options for tls.createServer.
 */
export function loadTlsMaterial(files: TlsFiles): SecureContextOptions {
  const cert = readPem('certificate', files.certFile);
  const key = readPem('private key', files.keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new TlsSetupError(`the certificate ${files.certFile} is not a PEM certificate: ${(err as Error).message}`);
  }
  const options: SecureContextOptions = { cert, key, minVersion: 'TLSv1.2' };
  if (files.caFile !== undefined) {
    const ca = readPem('CA file', files.caFile);
    try {
      new X509Certificate(ca);
    } catch (err) {
      throw new TlsSetupError(`the CA file ${files.caFile} is not a PEM certificate: ${(err as Error).message}`);
    }
    options.ca = ca;
  }
  try {
    createSecureContext(options);
  } catch (err) {
    const message = (err as Error).message;
    if (/key values mismatch|KEY_VALUES_MISMATCH/i.test(message)) {
      throw new TlsSetupError(`the private key ${files.keyFile} does not match the certificate ${files.certFile}`);
    }
    throw new TlsSetupError(`cannot use the certificate ${files.certFile} with the key ${files.keyFile}: ${message}`);
  }
  if (Date.parse(x509.validTo) < Date.now()) {
    throw new TlsSetupError(`the certificate ${files.certFile} expired on ${x509.validTo}`);
  }
  return options;
}

/** SHA-256 fingerprint as colon-separated upper-case hex (the form `openssl x509 -fingerprint -sha256` prints). */
export function fingerprint256(der: Buffer): string {
  return colonHex(createHash('sha256').update(der).digest('hex'));
}

/** Hex digits (with or without colons) as colon-separated upper-case pairs. */
export function colonHex(hex: string): string {
  return hex.replace(/:/g, '').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}
