/**
 * TLS for the Gearman port: server options for tls.createServer and the rights of each
 * verified peer. Built once at start; every failure is a TlsSetupError or RightsFileError
 * that stops start-up.
 */
import type { TLSSocket, TlsOptions } from 'node:tls';
import { CertificateRights, NO_RIGHTS, OPEN_RIGHTS, type PeerRights } from './cert-rights.js';
import type { GearTlsConfig } from './config.js';
import { fingerprint256, loadTlsMaterial } from './tls.js';

export interface GearTlsSetup {
  readonly serverOptions: TlsOptions;
  /** Rights of a connection whose handshake has completed. */
  rightsOf(socket: TLSSocket): PeerRights;
}

/** Verified certificates with no rights file: register and submit, as an open gearmand. */
const VERIFIED_DEFAULT = OPEN_RIGHTS;

export function prepareGearTls(config: GearTlsConfig): GearTlsSetup | undefined {
  if (!config.enabled) return undefined;
  const material = loadTlsMaterial({
    certFile: config.certFile,
    keyFile: config.keyFile,
    // gearmand loads the CA without effect (spec 1.13); we use it only to verify clients.
    caFile: config.verifyClient ? config.caFile : undefined,
  });
  const rights = config.clientRightsFile !== undefined ? CertificateRights.load(config.clientRightsFile) : undefined;
  const serverOptions: TlsOptions = {
    ...material,
    requestCert: config.verifyClient,
    rejectUnauthorized: config.verifyClient,
    handshakeTimeout: config.handshakeTimeoutMs,
  };
  return {
    serverOptions,
    rightsOf(socket) {
      if (!config.verifyClient) return OPEN_RIGHTS;
      if (!socket.authorized) return NO_RIGHTS;
      if (rights === undefined) return VERIFIED_DEFAULT;
      const cert = socket.getPeerCertificate();
      if (cert === null || cert.raw === undefined) return NO_RIGHTS;
      const cn = cert.subject?.CN;
      return rights.rightsOf({ cn: Array.isArray(cn) ? cn[0] : cn, fingerprint256: fingerprint256(cert.raw) });
    },
  };
}
