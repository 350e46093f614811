/**
 * The library over TLS to a Gearport started with --ssl: a worker, a client and the admin
 * talk through verified TLS, also with client certificates (--ssl-verify-client); a server
 * the CA does not vouch for, or a plaintext port, is refused at connect, never used.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Admin, Client, Worker } from '../../src/client/index.js';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { skipUnless } from '../helpers/servers.js';
import { makeCerts, sslArgs, type CertSet } from '../security/certs.js';

describe('client library over TLS', { skip: skipUnless('openssl') }, () => {
  let certs: CertSet;
  let server: RunningServer;
  let mutual: RunningServer;
  let ca: Buffer;

  before(async () => {
    certs = makeCerts(['app-1']);
    ca = readFileSync(certs.caFile);
    const tls = sslArgs(certs);
    server = await startGearport({ args: [...tls, '-q', 'none'] });
    mutual = await startGearport({ args: [...tls, '-q', 'none', '--ssl-verify-client', '--ssl-ca-file', certs.caFile] });
  });

  after(async () => {
    await server?.stop();
    await mutual?.stop();
  });

  test('worker, client and admin run a job through verified TLS', async () => {
    const servers = [{ host: '127.0.0.1', port: server.port, tls: { ca } }];
    const worker = new Worker({ servers });
    const client = new Client({ servers });
    const admin = new Admin({ ...servers[0]! });
    try {
      await worker.register('tls-reverse', (job) => Buffer.from(job.workload).reverse());
      await worker.start();
      assert.equal(await client.submit('tls-reverse', 'secret', { timeoutMs: 10_000 }).text(), 'terces');
      const status = await admin.status({ timeoutMs: 5000 });
      assert.deepEqual(
        status.filter((s) => s.name === 'tls-reverse').map((s) => s.workers),
        [1],
      );
    } finally {
      client.close();
      await worker.close();
      admin.close();
    }
  });

  test('a client certificate opens a port that verifies clients; without one the port refuses', async () => {
    const app = certs.client('app-1');
    const withCert = new Admin({ host: 'localhost', port: mutual.port, tls: { ca, cert: readFileSync(app.cert), key: readFileSync(app.key) } });
    const without = new Admin({ host: 'localhost', port: mutual.port, tls: { ca } });
    try {
      assert.match(await withCert.version({ timeoutMs: 5000 }), /\d+\.\d+/);
      await assert.rejects(without.version({ timeoutMs: 5000 }));
    } finally {
      withCert.close();
      without.close();
    }
  });

  test('a server certificate the CA does not vouch for is refused at connect', async () => {
    // The system's CAs do not know the test CA.
    const admin = new Admin({ host: '127.0.0.1', port: server.port, tls: true });
    try {
      await assert.rejects(admin.version({ timeoutMs: 5000 }), /certificate/i);
    } finally {
      admin.close();
    }
  });

  test('rejectUnauthorized: false is refused when the address is given', () => {
    assert.throws(() => new Admin({ host: '127.0.0.1', port: server.port, tls: { rejectUnauthorized: false } }), /rejectUnauthorized/);
  });
});
