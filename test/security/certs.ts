/**
 * Real certificates for the TLS tests, made with the openssl CLI in a temporary directory:
 * a CA, a server certificate for localhost/127.0.0.1, client certificates by CN, and a
 * client certificate from a CA the server does not trust.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertSet {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A key that does not belong to serverCert. */
  readonly otherKey: string;
  client(cn: string): { cert: string; key: string };
  /** A client certificate signed by an untrusted CA. */
  readonly strangerCert: string;
  readonly strangerKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function issue(dir: string, name: string, subject: string, ca: string, caKey: string, ext?: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2'];
  if (ext !== undefined) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    args.push('-extfile', `${name}.ext`);
  }
  openssl(dir, args);
}

export function makeCerts(clients: readonly string[]): CertSet {
  const dir = mkdtempSync(join(tmpdir(), 'gearport-certs-'));
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Gearport Test CA']);
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'stranger-ca.key', '-out', 'stranger-ca.pem', '-days', '2', '-subj', '/CN=Stranger CA']);
  issue(dir, 'server', '/CN=localhost', 'ca.pem', 'ca.key', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, ['genrsa', '-out', 'other.key', '2048']);
  for (const cn of clients) issue(dir, `client-${cn}`, `/CN=${cn}`, 'ca.pem', 'ca.key');
  issue(dir, 'stranger', '/CN=worker-1', 'stranger-ca.pem', 'stranger-ca.key');
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caFile: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    otherKey: p('other.key'),
    client: (cn) => ({ cert: p(`client-${cn}.pem`), key: p(`client-${cn}.key`) }),
    strangerCert: p('stranger.pem'),
    strangerKey: p('stranger.key'),
  };
}

/** Gearport's flags for TLS on the Gearman port with `certs`' server certificate. */
export function sslArgs(certs: CertSet): string[] {
  return ['--ssl', '--ssl-certificate', certs.serverCert, '--ssl-key', certs.serverKey];
}
