import { describe, test, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { Client, Worker, Admin, AbortError, TimeoutError } from '../../src/client/index.js';
import { Resources, suiteServer, addressOf, gate, serverKinds, skipKind } from './fixtures.js';

/** A TCP server that accepts connections and never answers. */
async function silentServer(res: Resources): Promise<{ host: string; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  res.add(server, (s) => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => s.close(resolve));
  });
  const address = server.address();
  return { host: '127.0.0.1', port: typeof address === 'object' && address ? address.port : 0 };
}

describe('timeouts and AbortSignal on a server that never answers', () => {
  const res = new Resources();
  afterEach(() => res.dispose());

  test('every call rejects with TimeoutError after timeoutMs', async () => {
    const address = await silentServer(res);
    const client = res.add(new Client({ servers: [address] }), (c) => c.close());
    const isTimeout = (error: unknown) => error instanceof TimeoutError && error.code === 'TIMEOUT';
    await assert.rejects(client.submit('f', 'x', { timeoutMs: 150 }).result, isTimeout);
    await assert.rejects(client.submitBackground('f', 'x', { timeoutMs: 150 }), isTimeout);
    await assert.rejects(client.submitAt('f', 'x', Date.now() + 1000, { timeoutMs: 150 }), isTimeout);
    await assert.rejects(client.getStatus('H:x:1', { timeoutMs: 150 }), isTimeout);
    await assert.rejects(client.getStatusUnique('u', { timeoutMs: 150 }), isTimeout);
    await assert.rejects(client.echo('x', { timeoutMs: 150 }), isTimeout);
    const admin = res.add(new Admin(address), (a) => a.close());
    await assert.rejects(admin.status({ timeoutMs: 150 }), isTimeout);
    await assert.rejects(admin.version({ timeoutMs: 150 }), isTimeout);
  });

  test('defaultTimeoutMs applies to calls without their own', async () => {
    const address = await silentServer(res);
    const client = res.add(new Client({ servers: [address], defaultTimeoutMs: 100 }), (c) => c.close());
    await assert.rejects(client.echo('x'), TimeoutError);
  });

  test('an AbortSignal rejects the call with AbortError, before or while it waits', async () => {
    const address = await silentServer(res);
    const client = res.add(new Client({ servers: [address] }), (c) => c.close());
    const isAbort = (error: unknown) => error instanceof AbortError && error.code === 'ABORTED';
    await assert.rejects(client.submit('f', 'x', { signal: AbortSignal.abort() }).result, isAbort);
    await assert.rejects(client.getStatus('H:x:1', { signal: AbortSignal.abort() }), isAbort);
    const controller = new AbortController();
    const job = client.submit('f', 'x', { signal: controller.signal });
    const status = client.getStatusUnique('u', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 50);
    await assert.rejects(job.result, isAbort);
    await assert.rejects(status, isAbort);
  });
});

for (const kind of serverKinds) {
  describe(`timeouts and abort against ${kind}`, { skip: skipKind(kind) }, () => {
    const res = new Resources();
    afterEach(() => res.dispose());
    const shared = suiteServer(kind, { before, after });

    test('a job with no worker times out; the connection stays usable', async () => {
      const server = shared();
      const servers = [addressOf(server)];
      const client = res.add(new Client({ servers }), (c) => c.close());
      await assert.rejects(client.submit('nobody-home', 'x', { timeoutMs: 200 }).result, TimeoutError);
      const worker = res.add(new Worker({ servers }), (w) => w.close());
      await worker.register('ok', () => 'fine');
      await worker.start();
      assert.equal(await client.submit('ok', '').text(), 'fine');
    });

    test('aborting one of two coalesced waiters leaves the other one its result', async () => {
      const server = shared();
      const servers = [addressOf(server)];
      const client = res.add(new Client({ servers }), (c) => c.close());
      const worker = res.add(new Worker({ servers }), (w) => w.close());
      const release = gate();
      await worker.register('shared', async () => {
        await release.promise;
        return 'result';
      });
      await worker.start();
      const controller = new AbortController();
      const impatient = client.submit('shared', 'x', { unique: 'one', signal: controller.signal });
      const patient = client.submit('shared', 'x', { unique: 'one' });
      await patient.created;
      controller.abort();
      await assert.rejects(impatient.result, AbortError);
      release.open();
      assert.equal(await patient.text(), 'result');
    });
  });
}
