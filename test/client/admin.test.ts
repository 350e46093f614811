import { describe, test, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, AdminError, Client, ServerError, Worker } from '../../src/client/index.js';
import { Resources, suiteServer, addressOf, eventually, gate, serverKinds, skipKind } from './fixtures.js';

for (const kind of serverKinds) {
  describe(`admin against ${kind}`, { skip: skipKind(kind) }, () => {
    const res = new Resources();
    afterEach(() => res.dispose());
    const shared = suiteServer(kind, { before, after });

    async function setup() {
      const server = shared();
      const servers = [addressOf(server)];
      const admin = res.add(new Admin(addressOf(server)), (a) => a.close());
      const client = res.add(new Client({ servers }), (c) => c.close());
      return { server, servers, admin, client };
    }

    test('version, getpid and verbose', async () => {
      const { server, admin } = await setup();
      assert.match(await admin.version(), /^\d+\.\d+/);
      assert.equal(await admin.getpid(), server.pid);
      assert.match(await admin.verbose(), /^(FATAL|ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG)$/);
    });

    test('status, prioritystatus, workers, show jobs and show unique jobs', async () => {
      const { servers, admin, client } = await setup();
      const worker = res.add(new Worker({ servers, clientId: 'admin-test-worker' }), (w) => w.close());
      const release = gate();
      await worker.register('busy', () => release.promise.then(() => 'done'));
      await worker.start();
      const running = client.submit('busy', 'x', { unique: 'running-one' });
      const queued = [
        await client.submitBackground('idle', 'a', { unique: 'queued-high', priority: 'high' }),
        await client.submitBackground('idle', 'b', { unique: 'queued-low-1', priority: 'low' }),
        await client.submitBackground('idle', 'c', { unique: 'queued-low-2', priority: 'low' }),
      ];
      await eventually(async () => (await client.getStatusUnique('running-one')).running);

      const status = await admin.status();
      const byName = new Map(status.map((s) => [s.name, s]));
      assert.deepEqual(byName.get('busy'), { name: 'busy', total: 1, running: 1, workers: 1 });
      assert.deepEqual(byName.get('idle'), { name: 'idle', total: 3, running: 0, workers: 0 });

      const priority = new Map((await admin.priorityStatus()).map((s) => [s.name, s]));
      assert.deepEqual(priority.get('idle'), { name: 'idle', high: 1, normal: 0, low: 2, workers: 0 });
      assert.deepEqual(priority.get('busy'), { name: 'busy', high: 0, normal: 0, low: 0, workers: 1 });

      const workers = await admin.workers();
      const mine = workers.find((w) => w.id === 'admin-test-worker');
      assert.ok(mine, 'the worker connection is listed with its client id');
      assert.deepEqual(mine.functions, ['busy']);
      assert.equal(mine.ip, '127.0.0.1');
      assert.ok(Number.isInteger(mine.fd));
      assert.ok(workers.some((w) => w.id === '-' && w.functions.length === 0), 'clients are listed too');

      const handles = new Set([running.handle, ...queued.map((q) => q.handle)]);
      const jobs = (await admin.showJobs()).filter((j) => handles.has(j.handle));
      assert.equal(jobs.length, 4);
      for (const job of jobs) {
        assert.equal(job.retries, 0);
        assert.equal(job.ignored, false);
      }
      const uniques = (await admin.showUniqueJobs()).filter((u) => u.startsWith('queued-') || u === 'running-one');
      assert.deepEqual(uniques.sort(), ['queued-high', 'queued-low-1', 'queued-low-2', 'running-one']);
      release.open();
      assert.equal(await running.text(), 'done');
    });

    test('maxqueue limits a queue; submissions beyond it get QUEUE_ERROR', async () => {
      const { admin, client } = await setup();
      await admin.createFunction('limited');
      await admin.maxQueue('limited', 1);
      await client.submitBackground('limited', '1');
      await assert.rejects(client.submitBackground('limited', '2'), (error: unknown) => {
        assert.ok(error instanceof ServerError);
        assert.equal(error.serverCode, 'QUEUE_ERROR');
        return true;
      });
      await admin.maxQueue('limited', { high: 0, normal: 3, low: 0 });
      await client.submitBackground('limited', '2');
      await admin.maxQueue('limited');
      await client.submitBackground('limited', '3');
    });

    test('cancel job fails a queued job for its client; unknown handles give UNKNOWN_JOB', async () => {
      const { admin, client } = await setup();
      const job = client.submit('nobody', 'x');
      const handle = await job.created;
      await admin.cancelJob(handle);
      await assert.rejects(job.result, (error: unknown) => (error as { code?: string }).code === 'JOB_FAILED');
      await assert.rejects(admin.cancelJob('H:nowhere:999'), (error: unknown) => error instanceof AdminError && error.serverCode === 'UNKNOWN_JOB');
    });

    test('create function and drop function', async () => {
      const { admin } = await setup();
      await admin.createFunction('made');
      assert.ok((await admin.status()).some((s) => s.name === 'made'));
      await admin.dropFunction('made');
      assert.ok(!(await admin.status()).some((s) => s.name === 'made'));
      await assert.rejects(admin.dropFunction('made'), AdminError);
      await assert.rejects(admin.dropFunction('two words'), RangeError);
    });
  });
}
