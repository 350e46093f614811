import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Worker, NoServerAvailableError, ConnectionLostError } from '../../src/client/index.js';
import { freePort } from '../helpers/servers.js';
import { Resources, addressOf, eventually, gate, serverKinds, skipKind } from './fixtures.js';

for (const kind of serverKinds) {
  describe(`failover and reconnection against ${kind}`, { skip: skipKind(kind) }, () => {
    const res = new Resources();
    afterEach(() => res.dispose());
    const fastBackoff = { initialDelayMs: 50, maxDelayMs: 200 };

    test('jobs spread over servers by unique and fail over when one is down', async () => {
      const a = await res.server(kind);
      const b = await res.server(kind);
      const servers = [addressOf(a), addressOf(b)];
      const worker = res.add(new Worker({ servers, backoff: fastBackoff, concurrency: 4 }), (w) => w.close());
      await worker.register('where', (job) => job.text);
      await worker.start();
      const client = res.add(new Client({ servers, backoff: fastBackoff }), (c) => c.close());
      const used = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const job = client.submit('where', String(i), { unique: `spread-${i}` });
        assert.equal(await job.text(), String(i));
        used.add(job.server!);
      }
      assert.equal(used.size, 2, 'uniques hash onto both servers');
      // The same unique always maps to the same server.
      const again = client.submit('where', 'x', { unique: 'spread-0' });
      const first = client.submit('where', 'y', { unique: 'spread-0' });
      await Promise.all([again, first]);
      assert.equal(again.server, first.server);

      await a.stop();
      for (let i = 0; i < 12; i++) {
        const job = client.submit('where', String(i), { unique: `spread-${i}` });
        assert.equal(await job.text(), String(i));
        assert.equal(job.server, `${b.host}:${b.port}`);
      }
      const bg = await client.submitBackground('where', 'bg', { unique: 'spread-1' });
      assert.equal(bg.server, `${b.host}:${b.port}`);
    });

    test('a client and a worker reconnect when the server comes back on the same port', async () => {
      const first = await res.server(kind);
      const port = first.port;
      const servers = [addressOf(first)];
      const worker = res.add(new Worker({ servers, backoff: fastBackoff, pollIntervalMs: 500 }), (w) => w.close());
      const reconnected = gate();
      let connects = 0;
      worker.on('connect', () => ++connects === 2 && reconnected.open());
      await worker.register('echo', (job) => job.text);
      await worker.start();
      const client = res.add(new Client({ servers, backoff: fastBackoff }), (c) => c.close());
      assert.equal(await client.submit('echo', 'before').text(), 'before');

      const release = gate();
      const hanging = client.submit('never', 'x');
      await hanging.created;
      await first.stop();
      // A foreground job in flight is lost with its connection.
      await assert.rejects(hanging.result, (error: unknown) => error instanceof ConnectionLostError && error.code === 'CONNECTION_LOST');
      release.open();

      await res.server(kind, { port });
      await reconnected.promise;
      assert.equal(await client.submit('echo', 'after').text(), 'after');
    });

    test('a call made while the server is down succeeds once it is back', async () => {
      const first = await res.server(kind);
      const port = first.port;
      const servers = [addressOf(first)];
      await first.stop();
      const worker = res.add(new Worker({ servers, backoff: fastBackoff }), (w) => w.close());
      await worker.register('echo', (job) => job.text);
      await worker.start(); // first attempt fails; retried with backoff
      assert.deepEqual(worker.connectedServers, []);
      const client = res.add(new Client({ servers, backoff: fastBackoff, unavailableTimeoutMs: 20_000 }), (c) => c.close());
      const job = client.submit('echo', 'patient');
      await new Promise((r) => setTimeout(r, 300));
      await res.server(kind, { port });
      assert.equal(await job.text(), 'patient');
      await eventually(() => worker.connectedServers.length === 1);
    });

    test('with every server down, calls reject with NoServerAvailableError', async () => {
      // Two different closed ports: freePort can hand out the same one twice in a row.
      const first = await freePort();
      let second = await freePort();
      for (let tries = 0; second === first && tries < 10; tries++) second = await freePort();
      assert.notEqual(second, first, 'freePort gave the same port 11 times');
      const servers = [{ host: '127.0.0.1', port: first }, { host: '127.0.0.1', port: second }];
      const client = res.add(new Client({ servers, backoff: fastBackoff, unavailableTimeoutMs: 300 }), (c) => c.close());
      await assert.rejects(client.submit('x', 'y').result, (error: unknown) => {
        assert.ok(error instanceof NoServerAvailableError);
        assert.equal(error.code, 'NO_SERVER_AVAILABLE');
        assert.equal(error.failures.size, 2);
        return true;
      });
      await assert.rejects(client.submitBackground('x', 'y'), NoServerAvailableError);
    });
  });
}
