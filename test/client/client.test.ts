import { describe, test, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Worker, JobExceptionError, JobFailedError, type JobEvent } from '../../src/client/index.js';
import { Resources, suiteServer, addressOf, eventually, gate, serverKinds, skipKind } from './fixtures.js';

for (const kind of serverKinds) {
  describe(`client and worker against ${kind}`, { skip: skipKind(kind) }, () => {
    const res = new Resources();
    afterEach(() => res.dispose());
    const shared = suiteServer(kind, { before, after });

    async function setup(workerOptions: ConstructorParameters<typeof Worker>[0] = {}) {
      const server = shared();
      const servers = [addressOf(server)];
      const worker = res.add(new Worker({ servers, ...workerOptions }), (w) => w.close());
      const client = res.add(new Client({ servers }), (c) => c.close());
      return { server, servers, worker, client };
    }

    test('a foreground job returns the worker result, text or binary', async () => {
      const { worker, client } = await setup();
      await worker.register('reverse', (job) => Buffer.from(job.workload).reverse());
      await worker.register('upper', (job) => job.text.toUpperCase());
      await worker.register('nothing', () => undefined);
      await worker.start();
      const bytes = Buffer.from([0, 1, 2, 255, 0]);
      assert.deepEqual(await client.submit('reverse', bytes), Buffer.from([0, 255, 2, 1, 0]));
      assert.equal(await client.submit('upper', 'héllo').text(), 'HÉLLO');
      assert.equal((await client.submit('nothing', 'x')).length, 0);
    });

    test('progress events come through the async iterator, in order, before the result', async () => {
      const { worker, client } = await setup();
      await worker.register('progress', async (job) => {
        job.data('part-1');
        job.status(1, 3);
        job.warning('careful');
        job.status(3, 3);
        job.data(Buffer.from([0, 0]));
        return 'done';
      });
      await worker.start();
      const job = client.submit('progress', '');
      const events: JobEvent[] = [];
      for await (const event of job) events.push(event);
      assert.deepEqual(events, [
        { type: 'data', data: Buffer.from('part-1') },
        { type: 'status', numerator: 1, denominator: 3 },
        { type: 'warning', data: Buffer.from('careful') },
        { type: 'status', numerator: 3, denominator: 3 },
        { type: 'data', data: Buffer.from([0, 0]) },
      ]);
      assert.equal(await job.text(), 'done');
      assert.match(job.handle ?? '', /:\d+$/);
    });

    test('unread progress events are bounded: the oldest are dropped and counted', async () => {
      const { worker, client } = await setup();
      await worker.register('chatty', async (job) => {
        for (let i = 0; i < 10; i++) job.data(`event-${i}`);
        return 'done';
      });
      await worker.start();
      // Awaiting the result first: every event has arrived (same connection, in order) unread.
      const job = client.submit('chatty', '', { maxBufferedEvents: 3 });
      assert.equal(await job.text(), 'done');
      const events: JobEvent[] = [];
      for await (const event of job) events.push(event);
      assert.deepEqual(events, ['event-7', 'event-8', 'event-9'].map((text) => ({ type: 'data', data: Buffer.from(text) })));
      assert.equal(job.droppedEvents, 7);

      const silent = client.submit('chatty', '', { maxBufferedEvents: 0 });
      assert.equal(await silent.text(), 'done');
      for await (const event of silent) assert.fail(`unexpected event ${JSON.stringify(event)}`);
      assert.equal(silent.droppedEvents, 10);
      assert.throws(() => client.submit('chatty', '', { maxBufferedEvents: -1 }), /maxBufferedEvents must be a non-negative integer, not -1/);
      assert.throws(() => new Client({ maxBufferedEvents: 1.5 }), /maxBufferedEvents must be a non-negative integer, not 1.5/);
    });

    test('a thrown error rejects with JobExceptionError; with errors: "fail" with JobFailedError', async () => {
      const { worker, client, servers } = await setup();
      await worker.register('explode', () => {
        throw new Error('disk on fire');
      });
      await worker.register('fizzle', () => Promise.reject(new Error('ignored')), { errors: 'fail' });
      await worker.start();
      await assert.rejects(client.submit('explode', 'x').result, (error: unknown) => {
        assert.ok(error instanceof JobExceptionError);
        assert.equal(error.code, 'JOB_EXCEPTION');
        assert.equal(error.data.toString(), 'disk on fire');
        return true;
      });
      await assert.rejects(client.submit('fizzle', 'x').result, (error: unknown) => error instanceof JobFailedError && error.code === 'JOB_FAILED');
      // Without the exceptions option the server reports the exception as WORK_FAIL (spec 1.6).
      const plain = res.add(new Client({ servers, exceptions: false }), (c) => c.close());
      const failed = plain.submit('explode', 'x');
      const events: JobEvent[] = [];
      await assert.rejects(
        (async () => {
          for await (const event of failed) events.push(event);
        })(),
        (error: unknown) => error instanceof JobFailedError && error.handle === failed.handle,
      );
      assert.deepEqual(events, []);
    });

    test('queued jobs run high, then normal, then low priority', async () => {
      const { worker, client } = await setup();
      for (const priority of ['low', 'normal', 'high'] as const) {
        await client.submitBackground('ordered', priority, { priority });
      }
      const done = gate();
      const seen: string[] = [];
      await worker.register('ordered', (job) => {
        seen.push(job.text);
        if (seen.length === 3) done.open();
      });
      await worker.start();
      await done.promise;
      assert.deepEqual(seen, ['high', 'normal', 'low']);
      // Foreground priorities take the same path.
      assert.equal(await client.submit('ordered', 'x', { priority: 'low' }).text(), '');
      assert.equal(await client.submit('ordered', 'x', { priority: 'high' }).text(), '');
    });

    test('status by handle and by unique id follows a background job', async () => {
      const { worker, client } = await setup();
      const release = gate();
      const started = gate();
      await worker.register('slow', async (job) => {
        job.status(2, 5);
        started.open();
        await release.promise;
      });
      const bg = await client.submitBackground('slow', 'x', { unique: `status-${kind}` });
      assert.equal(bg.unique, `status-${kind}`);
      const queued = await client.getStatus(bg);
      assert.deepEqual(queued, { handle: bg.handle, known: true, running: false, numerator: 0, denominator: 0 });
      await worker.start();
      await started.promise;
      const running = await eventually(async () => {
        const status = await client.getStatus(bg.handle);
        return status.numerator === 2 ? status : undefined;
      });
      assert.deepEqual(running, { handle: bg.handle, known: true, running: true, numerator: 2, denominator: 5 });
      const byUnique = await client.getStatusUnique(bg.unique);
      assert.deepEqual(byUnique, { unique: bg.unique, known: true, running: true, numerator: 2, denominator: 5, clientCount: 0 });
      release.open();
      await eventually(async () => !(await client.getStatus(bg)).known);
      assert.equal((await client.getStatusUnique(bg.unique)).known, false);
    });

    test('submissions with the same unique id coalesce into one job', async () => {
      const { worker, client, servers } = await setup();
      const release = gate();
      let runs = 0;
      await worker.register('coalesce', async (job) => {
        runs++;
        job.data('progress');
        await release.promise;
        return `ran ${job.text}`;
      });
      await worker.start();
      const other = res.add(new Client({ servers }), (c) => c.close());
      const first = client.submit('coalesce', 'first', { unique: 'same' });
      await first.created;
      const second = client.submit('coalesce', 'second', { unique: 'same' });
      const third = other.submit('coalesce', 'third', { unique: 'same' });
      await Promise.all([second.created, third.created]);
      assert.equal(second.handle, first.handle);
      assert.equal(third.handle, first.handle);
      await eventually(async () => (await client.getStatusUnique('same')).clientCount === 2);
      release.open();
      assert.deepEqual(await Promise.all([first.text(), second.text(), third.text()]), ['ran first', 'ran first', 'ran first']);
      assert.equal(runs, 1);
    });

    test('a job submitted for a later time runs after that time', async () => {
      const { worker, client } = await setup({ pollIntervalMs: 200 });
      const ran = gate<number>();
      await worker.register('later', () => ran.open(Date.now()));
      await worker.start();
      const when = Date.now() + 2000;
      const job = await client.submitAt('later', 'x', new Date(when));
      assert.equal((await client.getStatus(job)).known, true);
      const ranAt = await ran.promise;
      // The server compares whole seconds (spec 1.5 step 2): not before the second we asked for.
      assert.ok(ranAt >= Math.ceil(when / 1000) * 1000 - 50, `ran ${when - ranAt} ms early`);
      assert.ok(ranAt < when + 5000, `ran ${ranAt - when} ms late`);
    });

    test('echo round trip', async () => {
      const { client } = await setup();
      assert.deepEqual(await client.echo(Buffer.from([0, 1, 2])), Buffer.from([0, 1, 2]));
    });
  });
}
