/**
 * `gearadmin -S/--ssl` against Gearport with TLS on the Gearman port (gearmand --ssl).
 *
 * gearadmin has no certificate flags. Its connection code (gearmand util/instance.hpp and .cc)
 * reads, with --ssl, the CA from GEARMAND_CA_CERTIFICATE and its own certificate and key from
 * GEARMAN_CLIENT_PEM and GEARMAN_CLIENT_KEY, else from compiled-in paths; init_ssl() exists only
 * in a build with SSL. Debian's 1.1.20 is built without: its gearadmin links no TLS library,
 * so -S is accepted, ignored, and the admin text goes out in plaintext. Hence: a TLS-capable
 * gearadmin (init_ssl's message is in the binary) is tested end to end with those variables;
 * any gearadmin is shown to get no listing from the TLS port, and its own admin commands are run
 * over TLS through a loopback bridge that verifies the server against the test CA (as stunnel).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { PacketType as T } from '../../src/protocol/index.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { skipUnless, startGearport, type RunningServer } from '../helpers/servers.js';
import { runTool, type ToolResult } from '../helpers/tools.js';
import { makeCerts, sslArgs, type CertSet } from '../security/certs.js';
import { sortedLines } from './common.js';

const skip = skipUnless('gearadmin') || skipUnless('openssl');

/** Whether this gearadmin was built with TLS: init_ssl's error text is compiled in only then. */
function gearadminHasTls(): boolean {
  const path = execFileSync('sh', ['-c', 'command -v gearadmin'], { encoding: 'utf8' }).trim();
  return readFileSync(path).includes('Error loading CA file');
}
const hasTls = skip === false && gearadminHasTls();

/**
 * A loopback TCP port that carries each connection to Gearport's TLS port, verifying the server
 * certificate against `caFile` for "localhost": what stunnel does for a client without TLS.
 */
interface TlsBridge {
  readonly port: number;
  /** Connections whose TLS handshake with Gearport succeeded and verified. */
  verified(): number;
  close(): Promise<void>;
}

function startTlsBridge(targetPort: number, caFile: string): Promise<TlsBridge> {
  const ca = readFileSync(caFile);
  const open = new Set<Socket>();
  let verified = 0;
  const server: Server = createServer((plain) => {
    const secure = tlsConnect({ host: '127.0.0.1', port: targetPort, servername: 'localhost', ca });
    open.add(plain).add(secure);
    plain.pause();
    secure.once('secureConnect', () => {
      if (secure.authorized) verified++;
      plain.pipe(secure);
      secure.pipe(plain);
      plain.resume();
    });
    const closeBoth = () => {
      plain.destroy();
      secure.destroy();
      open.delete(plain);
      open.delete(secure);
    };
    plain.on('error', closeBoth).on('close', closeBoth);
    secure.on('error', closeBoth).on('close', closeBoth);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        verified: () => verified,
        close: () =>
          new Promise<void>((done) => {
            for (const s of open) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

function gearadmin(port: number, flags: string[], env?: NodeJS.ProcessEnv): Promise<ToolResult> {
  return runTool('gearadmin', ['-h', '127.0.0.1', '-p', String(port), ...flags], { env, timeoutMs: 20_000 });
}

/** A listing as gearadmin prints it: rows, then "." on its own line. */
const LISTING = /(^|\n)\.\n$/;

describe('gearadmin -S/--ssl and Gearport with TLS on the Gearman port', { skip, timeout: 120_000 }, () => {
  let certs: CertSet;
  let server: RunningServer;
  let bridge: TlsBridge;
  let client: ScriptedPeer;
  let worker: ScriptedPeer;

  before(async () => {
    certs = makeCerts(['gearadmin']);
    server = await startGearport({ args: sslArgs(certs) });
    bridge = await startTlsBridge(server.port, certs.caFile);
    // Every connection Gearport sees is TLS: the jobs and the worker come through the bridge too.
    client = await ScriptedPeer.connect(bridge.port, 'client');
    worker = await ScriptedPeer.connect(bridge.port, 'worker');
    client.send(T.SUBMIT_JOB_BG, ['tls_fn', 'u-1', Buffer.from('a')]);
    await client.expect(T.JOB_CREATED);
    client.send(T.SUBMIT_JOB_BG, ['tls_fn', 'u-2', Buffer.from('b')]);
    await client.expect(T.JOB_CREATED);
    worker.send(T.SET_CLIENT_ID, ['tls-worker']);
    worker.send(T.CAN_DO, ['tls_fn']);
    worker.send(T.ECHO_REQ, [Buffer.from('sync')]);
    await worker.expect(T.ECHO_RES);
  });

  after(async () => {
    await client?.close();
    await worker?.close();
    await bridge?.close();
    await server?.stop();
  });

  test('without TLS, gearadmin gets no listing from the TLS port, and TLS clients are still served', async () => {
    for (const flags of [['--status'], ['--workers']]) {
      const plain = await gearadmin(server.port, flags);
      assert.notEqual(plain.code, 0, `gearadmin ${flags.join(' ')} must fail; stdout ${JSON.stringify(plain.stdout)}`);
      assert.doesNotMatch(plain.stdout, LISTING);
      assert.doesNotMatch(plain.stdout, /tls_fn/);
    }
    client.send(T.ECHO_REQ, [Buffer.from('still served')]);
    assert.deepEqual((await client.expect(T.ECHO_RES)).fields, ['still served']);
  });

  test("gearadmin's --status and --workers over TLS (through the verifying bridge) list the right rows", async () => {
    const before = bridge.verified();
    const status = await gearadmin(bridge.port, ['--status']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout, 'tls_fn\t2\t0\t1\n.\n');
    const workers = await gearadmin(bridge.port, ['--workers']);
    assert.equal(workers.code, 0, workers.stderr);
    // Our client, our worker and gearadmin's own connection, all seen from the bridge on loopback.
    assert.deepEqual(sortedLines(workers.stdout.replace(/^\d+ /gm, '<fd> ')), [
      '.',
      '<fd> 127.0.0.1 - :',
      '<fd> 127.0.0.1 - :',
      '<fd> 127.0.0.1 tls-worker : tls_fn',
    ]);
    const uniques = await gearadmin(bridge.port, ['--show-unique-jobs']);
    assert.deepEqual(sortedLines(uniques.stdout), ['.', 'u-1', 'u-2']);
    assert.ok(bridge.verified() >= before + 3, 'each gearadmin run went over a verified TLS connection');
  });

  test('-S on a gearadmin built without TLS is accepted and ignored: it still speaks plaintext', { skip: hasTls ? 'this gearadmin has TLS (covered by the next test)' : false }, async () => {
    // Through the bridge the server is TLS and the tool plaintext: -S changes nothing.
    for (const flag of ['-S', '--ssl']) {
      const status = await gearadmin(bridge.port, [flag, '--status']);
      assert.equal(status.code, 0, status.stderr);
      assert.equal(status.stdout, 'tls_fn\t2\t0\t1\n.\n');
      // Directly on the TLS port it gets no listing, exactly as without -S.
      const direct = await gearadmin(server.port, [flag, '--status']);
      assert.notEqual(direct.code, 0);
      assert.doesNotMatch(direct.stdout, LISTING);
    }
  });

  test('gearadmin --ssl with the test CA and a client certificate from the environment', { skip: hasTls ? false : 'this gearadmin was built without TLS (Debian 1.1.20): -S is a no-op' }, async () => {
    const mine = certs.client('gearadmin');
    const env = { GEARMAND_CA_CERTIFICATE: certs.caFile, GEARMAN_CLIENT_PEM: mine.cert, GEARMAN_CLIENT_KEY: mine.key };
    const status = await gearadmin(server.port, ['--ssl', '--status'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout, 'tls_fn\t2\t0\t1\n.\n');
    const workers = await gearadmin(server.port, ['-S', '--workers'], env);
    assert.equal(workers.code, 0, workers.stderr);
    assert.ok(sortedLines(workers.stdout).some((l) => / 127\.0\.0\.1 tls-worker : tls_fn$/.test(l)), workers.stdout);
  });
});
