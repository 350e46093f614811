import { describe, test, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, Client, Worker } from '../../src/client/index.js';
import { Resources, suiteServer, addressOf, eventually, gate, serverKinds, skipKind } from './fixtures.js';

for (const kind of serverKinds) {
  describe(`worker against ${kind}`, { skip: skipKind(kind) }, () => {
    const res = new Resources();
    afterEach(() => res.dispose());
    const shared = suiteServer(kind, { before, after });

    async function setup(workerOptions: ConstructorParameters<typeof Worker>[0] = {}) {
      const server = shared();
      const servers = [addressOf(server)];
      const worker = res.add(new Worker({ servers, ...workerOptions }), (w) => w.close());
      const client = res.add(new Client({ servers }), (c) => c.close());
      const admin = res.add(new Admin(addressOf(server)), (a) => a.close());
      return { server, servers, worker, client, admin };
    }

    test('runs up to `concurrency` jobs at once on one connection', async () => {
      const { worker, client, admin } = await setup({ concurrency: 3, clientId: 'busy-worker' });
      let active = 0;
      let peak = 0;
      const release = gate();
      await worker.register('hold', async (job) => {
        active++;
        peak = Math.max(peak, active);
        await release.promise;
        active--;
        return job.text;
      });
      await worker.start();
      const jobs = Array.from({ length: 6 }, (_, i) => client.submit('hold', String(i)));
      await eventually(() => active === 3, 10_000, 'three jobs running');
      const connections = (await admin.workers()).filter((w) => w.id === 'busy-worker');
      assert.equal(connections.length, 1, 'one connection carries every job');
      const [status] = (await admin.status()).filter((s) => s.name === 'hold');
      assert.deepEqual(status, { name: 'hold', total: 6, running: 3, workers: 1 });
      release.open();
      assert.deepEqual(await Promise.all(jobs.map((j) => j.text())), ['0', '1', '2', '3', '4', '5']);
      assert.equal(peak, 3);
    });

    test('sleeps after NO_JOB and wakes on NOOP (no polling)', async () => {
      const { worker, client } = await setup({ pollIntervalMs: 0 });
      await worker.register('wake', (job) => `awake ${job.text}`);
      await worker.start();
      // Give the worker time to grab, get NO_JOB and send PRE_SLEEP.
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      assert.equal(await client.submit('wake', '1').text(), 'awake 1');
      assert.equal(await client.submit('wake', '2').text(), 'awake 2');
      assert.ok(Date.now() - started < 3000);
    });

    test('a job still queued when a function is registered later is picked up', async () => {
      const { worker, client } = await setup({ pollIntervalMs: 0 });
      await worker.register('first', () => 'a');
      await worker.start();
      await new Promise((r) => setTimeout(r, 100));
      const queued = client.submit('second', 'x');
      await queued.created;
      await worker.register('second', () => 'b');
      assert.equal(await queued.text(), 'b');
    });

    test('CAN_DO_TIMEOUT: the server requeues a job that overruns; its signal fires', async () => {
      const { worker, client } = await setup();
      let calls = 0;
      let firstAbortedBy: unknown;
      await worker.register(
        'overrun',
        async (job) => {
          calls++;
          if (calls === 1) {
            await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }));
            firstAbortedBy = job.signal.reason;
            return 'too late';
          }
          return `second run of ${job.text}`;
        },
        { timeoutMs: 1000 },
      );
      await worker.start();
      assert.equal(await client.submit('overrun', 'x', { timeoutMs: 15_000 }).text(), 'second run of x');
      assert.equal(calls, 2);
      assert.match(String(firstAbortedBy), /CAN_DO_TIMEOUT/);
    });

    test('graceful stop finishes jobs in hand and takes no new ones', async () => {
      const { worker, client, admin } = await setup({ concurrency: 2 });
      const release = gate();
      let started = 0;
      await worker.register('finish', async (job) => {
        started++;
        await release.promise;
        return `finished ${job.text}`;
      });
      await worker.start();
      const inHand = [client.submit('finish', 'a'), client.submit('finish', 'b')];
      await eventually(() => started === 2, 10_000, 'both jobs started');
      const stopped = worker.stop();
      const late = await client.submitBackground('finish', 'late');
      release.open();
      await stopped;
      assert.deepEqual(await Promise.all(inHand.map((j) => j.text())), ['finished a', 'finished b']);
      assert.equal(started, 2, 'no job was taken after stop()');
      const status = await client.getStatus(late);
      assert.equal(status.known, true);
      assert.equal(status.running, false);
      const [fn] = (await admin.status()).filter((s) => s.name === 'finish');
      assert.equal(fn?.workers, 0, 'the worker has disconnected');
    });

    test('a worker connects to several servers at once', async () => {
      const second = await res.server(kind);
      const { worker, servers } = await setup();
      const both = [...servers, addressOf(second)];
      const multi = res.add(new Worker({ servers: both }), (w) => w.close());
      worker.close();
      await multi.register('where', (job) => `${job.text} ok`);
      await multi.start();
      assert.equal(multi.connectedServers.length, 2);
      for (const address of both) {
        const direct = res.add(new Client({ servers: [address] }), (c) => c.close());
        assert.equal(await direct.submit('where', address.port.toString()).text(), `${address.port} ok`);
      }
    });
  });
}
