import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { AdminPeer } from '../helpers/scripted-peer.js';
import { RawWorker } from './raw-worker.js';
import { RawConnection } from './raw-http.js';

describe('--http-require-worker', () => {
  let server: RunningServer;
  let base: string;

  before(async () => {
    server = await startGearport({ http: true, args: ['--queue-type', 'none', '--http-require-worker'] });
    base = `http://127.0.0.1:${server.httpPort}`;
  });
  after(async () => {
    await server?.stop();
  });

  test('a function no worker registered is 404 NO_WORKER and leaves no state behind', async () => {
    for (const [method, path] of [['POST', '/nobody'], ['GET', '/nobody?x'], ['PUT', '/nobody']] as const) {
      const res = await fetch(`${base}${path}`, { method, body: method === 'GET' ? undefined : 'x', headers: { 'X-Gearman-Background': 'true' } });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NO_WORKER');
    }
    const admin = await AdminPeer.connect(server.port);
    assert.equal(await admin.command('status\r\n', 'listing'), '.\n', 'no function was created');
    await admin.close();
  });

  test('Expect: 100-continue to a function no worker registered: 404 NO_WORKER at once, no 100 first', async () => {
    const conn = await RawConnection.open(server.httpPort!);
    conn.write('POST /nobody HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const res = await conn.read();
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(res.body.toString()).error.code, 'NO_WORKER');
    assert.ok(await conn.closesWithin(5000), 'the body was never invited: the connection closes');
  });

  test('once a worker registers, the same request runs', async () => {
    const worker = await RawWorker.start(server.port, { served: () => [{ complete: 'done' }] });
    try {
      const res = await fetch(`${base}/served`, { method: 'POST', body: 'x' });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'done');
    } finally {
      worker.close();
    }
  });
});
