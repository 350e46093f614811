/**
 * Issue 5, crash test: a client pipelines thousands of background submissions, the server is
 * killed with SIGKILL at a random moment, and after a restart on the same store every job that
 * was acknowledged (JOB_CREATED received) before the kill runs, and once they have completed a
 * clean restart replays none of them again. Once per store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketType as T } from '../../src/protocol/index.js';
import { StoreKinds, SubmissionLoad, killHard, missingFrom, newStore, runJobs, startOn, storeSkip, workloads } from './harness.js';

const FUNCTION = 'crash-me';
/** Acknowledgements to see before the kill may come, so "thousands" are at stake. */
const ACKS_BEFORE_KILL = 2000;

for (const kind of StoreKinds) {
  test(`${kind}: every acknowledged background job runs after kill -9 and a restart`, { skip: await storeSkip(kind), timeout: 90_000 }, async (t) => {
    const store = newStore(kind);
    let server = await startOn(store);
    try {
      const load = new SubmissionLoad(server.port, {
        connections: 4,
        inFlight: 250,
        total: 40_000,
        maxMs: 20_000,
        make: (i) => ({ type: T.SUBMIT_JOB_BG, functionName: FUNCTION, unique: `u-${i}`, data: Buffer.from(`w-${i}`) }),
      });
      await load.until(() => load.acknowledged.length >= ACKS_BEFORE_KILL, 20_000, `${ACKS_BEFORE_KILL} acknowledgements`);
      // A random moment while submissions are still in flight.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 400)));
      const port = server.port;
      await killHard(server);
      await load.done;
      const acknowledged = workloads(load.acknowledged);
      const sent = load.sent;
      assert.ok(acknowledged.size >= ACKS_BEFORE_KILL, `only ${acknowledged.size} acknowledged`);
      assert.equal(load.refused.length, 0, `refusals before the kill: ${JSON.stringify(load.refused.slice(0, 3).map((r) => r.error))}`);

      server = await startOn(store, [], port);
      const ran = await runJobs(server.port, FUNCTION, { timeoutMs: 45_000 });
      const ranWorkloads = workloads(ran);
      const lost = missingFrom(acknowledged, ranWorkloads);
      assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acknowledged.size} acknowledged jobs did not run after the restart (${store.where})`);
      // Nothing runs that was never submitted, and each stored job runs once.
      assert.equal(ranWorkloads.size, ran.length, 'a replayed job ran twice');
      for (const data of ranWorkloads) {
        const index = Number(data.slice(2));
        assert.ok(data.startsWith('w-') && index < sent, `unexpected workload ${data}`);
      }
      // Completed jobs are forgotten: after a clean stop nothing is replayed again.
      await server.stop();
      server = await startOn(store, [], port);
      const again = await runJobs(server.port, FUNCTION, { timeoutMs: 20_000 });
      assert.equal(again.length, 0, `${again.length} completed jobs were replayed again`);
      // Unacknowledged submissions may or may not have been stored before the kill.
      t.diagnostic(`${kind}: ${acknowledged.size} acknowledged of ${sent} sent before the kill; ${ran.length} ran after the restart`);
    } finally {
      await server.stop();
      await store.cleanup();
    }
  });
}
