/**
 * TLS on the Gearman port (gearmand --ssl, gearman-spec 1.13) with real certificates: it
 * serves binary and admin over TLS, refuses to start on bad certificate settings (never
 * plaintext), cuts off silent handshakes, and with --ssl-verify-client applies per-certificate
 * rights (7 B11: gearmand verifies nothing).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { FrameDecoder, encodeRequest, ownFrame, PacketType as T, type OwnedFrame } from '../../src/protocol/index.js';
import { freePort, gearportCli, skipUnless, startGearport, type RunningServer } from '../helpers/servers.js';
import { collect, openSocket } from '../robustness/attacks.js';
import { makeCerts, sslArgs, type CertSet } from './certs.js';

const skip = skipUnless('openssl');

interface TlsPeer {
  readonly socket: TLSSocket;
  send(packet: Buffer | string): void;
  next(timeoutMs?: number): Promise<OwnedFrame>;
  close(): void;
}

function tlsPeer(port: number, certs: CertSet, client?: { cert: string; key: string }): Promise<TlsPeer> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(certs.caFile),
      cert: client ? readFileSync(client.cert) : undefined,
      key: client ? readFileSync(client.key) : undefined,
    });
    const frames: OwnedFrame[] = [];
    const waiters: ((f: OwnedFrame | Error) => void)[] = [];
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) =>
      decoder.push(chunk, (f) => {
        const copy = ownFrame(f);
        const w = waiters.shift();
        if (w) w(copy);
        else frames.push(copy);
      }),
    );
    socket.on('close', () => {
      for (const w of waiters.splice(0)) w(new Error('connection closed'));
    });
    socket.once('secureConnect', () =>
      resolve({
        socket,
        send: (p) => socket.write(p),
        next: (timeoutMs = 5000) =>
          new Promise<OwnedFrame>((res, rej) => {
            const f = frames.shift();
            if (f) return res(f);
            if (socket.destroyed) return rej(new Error('connection closed'));
            const timer = setTimeout(() => rej(new Error('no frame in time')), timeoutMs);
            waiters.push((x) => {
              clearTimeout(timer);
              if (x instanceof Error) rej(x);
              else res(x);
            });
          }),
        close: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

/** Whether a TLS client is refused (handshake error or closed before any answer). */
async function refused(port: number, certs: CertSet, client?: { cert: string; key: string }): Promise<boolean> {
  try {
    const peer = await tlsPeer(port, certs, client);
    // TLS 1.3: a rejected client certificate shows up after the handshake, on first use.
    peer.send(encodeRequest(T.ECHO_REQ, ['x']));
    try {
      await peer.next(3000);
      return false;
    } catch {
      return true;
    } finally {
      peer.close();
    }
  } catch {
    return true;
  }
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [gearportCli, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('TLS on the Gearman port', { skip, timeout: 120_000 }, () => {
  let certs: CertSet;
  before(() => {
    certs = makeCerts(['worker-1', 'submitter', 'operator', 'nobody']);
  });

  test('binary and admin protocols over TLS; a plaintext peer gets nothing', async () => {
    const server = await startGearport({ args: sslArgs(certs) });
    try {
      const peer = await tlsPeer(server.port, certs);
      peer.send(encodeRequest(T.ECHO_REQ, ['over tls']));
      const echo = await peer.next();
      assert.equal(echo.kind === 'packet' && echo.type, T.ECHO_RES);
      assert.equal(echo.kind === 'packet' && echo.args[0]!.toString(), 'over tls');
      peer.send('version\r\n');
      const version = await peer.next();
      assert.match(version.kind === 'text' ? version.line.toString() : '', /^OK /);
      peer.close();
      const plain = await openSocket(server.host, server.port);
      assert.ok(plain);
      plain.write('version\r\n');
      const { data } = await collect(plain, 3000);
      plain.destroy();
      assert.ok(!data.toString('latin1').includes('OK '), 'a plaintext admin command must not be answered');
    } finally {
      await server.stop();
    }
  });

  test("gearmand's environment variables override the certificate options", async () => {
    const server = await startGearport({
      args: ['--ssl', '--ssl-certificate', '/nonexistent/cert.pem', '--ssl-key', '/nonexistent/key.pem'],
      env: { GEARMAND_SERVER_PEM: certs.serverCert, GEARMAND_SERVER_KEY: certs.serverKey },
    });
    try {
      const peer = await tlsPeer(server.port, certs);
      peer.send(encodeRequest(T.ECHO_REQ, ['env']));
      assert.equal((await peer.next()).kind, 'packet');
      peer.close();
    } finally {
      await server.stop();
    }
  });

  test('bad certificate settings stop start-up with a clear message (never plaintext)', async () => {
    const port = String(await freePort());
    const base = ['--port', port, '--listen', '127.0.0.1', '-q', 'none', '--ssl'];
    const missing = await runCli([...base, '--ssl-certificate', join(certs.dir, 'missing.pem'), '--ssl-key', certs.serverKey]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the certificate .*missing\.pem: no such file/);
    const mismatch = await runCli([...base, '--ssl-certificate', certs.serverCert, '--ssl-key', certs.otherKey]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /does not match the certificate/);
    const garbage = join(certs.dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const notPem = await runCli([...base, '--ssl-certificate', garbage, '--ssl-key', certs.serverKey]);
    assert.equal(notPem.code, 1);
    assert.match(notPem.stderr, /not a PEM certificate/);
    const noCa = await runCli([...base, '--ssl-certificate', certs.serverCert, '--ssl-key', certs.serverKey, '--ssl-verify-client', '--ssl-ca-file', join(certs.dir, 'nope.pem')]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /cannot read the CA file/);
    const rightsWithoutVerify = await runCli([...base, '--ssl-certificate', certs.serverCert, '--ssl-key', certs.serverKey, '--ssl-client-rights', 'x.json']);
    assert.equal(rightsWithoutVerify.code, 2);
    assert.match(rightsWithoutVerify.stderr, /needs --ssl-verify-client/);
  });

  test('silent TLS clients are cut off at the handshake timeout while others are served', async () => {
    const server = await startGearport({ args: [...sslArgs(certs), '--ssl-handshake-timeout', '700'] });
    try {
      const silent = await Promise.all(Array.from({ length: 200 }, () => openSocket(server.host, server.port)));
      const started = Date.now();
      const peer = await tlsPeer(server.port, certs);
      peer.send(encodeRequest(T.ECHO_REQ, ['busy?']));
      assert.equal((await peer.next()).kind, 'packet');
      assert.ok(Date.now() - started < 1000, 'a real client is served while 200 silent handshakes wait');
      const closed = await Promise.all(silent.map((s) => collect(s!, 5000)));
      assert.equal(closed.filter((c) => c.closed).length, 200);
      peer.close();
    } finally {
      await server.stop();
    }
  });

  test('connection limits apply to TLS connections before the handshake', async () => {
    const server = await startGearport({ args: [...sslArgs(certs), '--max-connections-per-address', '5'] });
    try {
      const peers = [];
      for (let i = 0; i < 5; i++) peers.push(await tlsPeer(server.port, certs));
      assert.ok(await refused(server.port, certs), 'a sixth connection from the same address is refused');
      peers.pop()!.close();
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!(await refused(server.port, certs)), 'a freed slot can be used again');
      for (const p of peers) p.close();
    } finally {
      await server.stop();
    }
  });

  describe('client certificates and rights', () => {
    let server: RunningServer;
    before(async () => {
      const rightsFile = join(certs.dir, 'rights.json');
      writeFileSync(
        rightsFile,
        JSON.stringify({
          clients: [
            { cn: 'worker-1', rights: ['register'] },
            { cn: 'submitter', rights: ['submit'] },
            { cn: 'operator', rights: ['submit', 'register', 'admin'] },
          ],
        }),
      );
      server = await startGearport({
        args: [...sslArgs(certs), '--ssl-ca-file', certs.caFile, '--ssl-verify-client', '--ssl-client-rights', rightsFile],
      });
    });
    after(async () => {
      await server?.stop();
    });

    test('no certificate, or one from another CA, is refused', async () => {
      assert.ok(await refused(server.port, certs));
      assert.ok(await refused(server.port, certs, { cert: certs.strangerCert, key: certs.strangerKey }));
      assert.ok(!(await refused(server.port, certs, certs.client('worker-1'))));
    });

    test('register may CAN_DO but not submit; submit may submit but not CAN_DO', async () => {
      const worker = await tlsPeer(server.port, certs, certs.client('worker-1'));
      worker.send(Buffer.concat([encodeRequest(T.CAN_DO, ['locked_fn']), encodeRequest(T.ECHO_REQ, ['sync'])]));
      const w1 = await worker.next();
      assert.equal(w1.kind === 'packet' && w1.type, T.ECHO_RES, 'CAN_DO is accepted silently');
      worker.send(encodeRequest(T.SUBMIT_JOB_BG, ['locked_fn', '', 'data']));
      const w2 = await worker.next();
      assert.equal(w2.kind === 'packet' && w2.type, T.ERROR);
      assert.equal(w2.kind === 'packet' && w2.args[0]!.toString(), 'PERMISSION_DENIED');

      const client = await tlsPeer(server.port, certs, certs.client('submitter'));
      client.send(encodeRequest(T.SUBMIT_JOB_BG, ['locked_fn', '', 'data']));
      const c1 = await client.next();
      assert.equal(c1.kind === 'packet' && c1.type, T.JOB_CREATED);
      client.send(encodeRequest(T.CAN_DO, ['locked_fn']));
      const c2 = await client.next();
      assert.equal(c2.kind === 'packet' && c2.args[0]!.toString(), 'PERMISSION_DENIED');
      // A certificate that matches no entry gets no rights at all.
      const nobody = await tlsPeer(server.port, certs, certs.client('nobody'));
      nobody.send(encodeRequest(T.SUBMIT_JOB, ['locked_fn', '', 'x']));
      const n1 = await nobody.next();
      assert.equal(n1.kind === 'packet' && n1.args[0]!.toString(), 'PERMISSION_DENIED');
      for (const p of [worker, client, nobody]) p.close();
    });
  });
});
