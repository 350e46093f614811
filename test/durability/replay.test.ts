/**
 * Issue 5, what a replay keeps, per store, after kill -9 and a restart:
 * - priorities and order: HIGH before NORMAL before LOW, FIFO within each;
 * - epoch jobs stay scheduled and run at their time, not before;
 * - a submission with the unique of a replayed job coalesces onto it (same handle back);
 * - binary workloads (NUL bytes, every byte value), empty workloads, empty and '-' uniques
 *   whose rows must not overwrite each other (gearmand's collisions, spec 7 B10), names
 *   containing '-' and ':' (gearmand's Redis key parsing, spec 4.5);
 * - a workload of several MB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PacketType as T } from '../../src/protocol/index.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { StoreKinds, SubmissionLoad, killHard, newStore, runJobs, startOn, storeSkip, type Submission } from './harness.js';

const ORDER_FN = 'replay-order';
const BYTES_FN = 'replay-bytes-fn:x';
const COALESCE_FN = 'replay-coalesce';
const LARGE_FN = 'replay-large';
const EPOCH_FN = 'replay-epoch';
/** Seconds from submission to an epoch job's time: longer than kill + restart usually take. */
const EPOCH_DELAY_S = 5;

const PRIORITY_TYPES = [T.SUBMIT_JOB_LOW_BG, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH_BG] as const;
const PRIORITY_LABEL: Record<number, string> = { [T.SUBMIT_JOB_HIGH_BG]: 'H', [T.SUBMIT_JOB_BG]: 'N', [T.SUBMIT_JOB_LOW_BG]: 'L' };

function bg(functionName: string, unique: string, data: Buffer | string, type: number = T.SUBMIT_JOB_BG): Submission {
  return { type, functionName, unique, data: typeof data === 'string' ? Buffer.from(data, 'latin1') : data };
}

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
/** Workloads of BYTES_FN by unique label (uniques themselves are part of the check). */
const binaryJobs: Submission[] = [
  bg(BYTES_FN, 'all-bytes', allBytes),
  bg(BYTES_FN, 'nuls', '\0lead\0mid\0\0trail\0'),
  bg(BYTES_FN, 'only-nul', '\0'),
  bg(BYTES_FN, 'empty-data', ''),
  bg(BYTES_FN, 'a-b:c-d', 'unique with dashes and a colon'),
  // Empty uniques never coalesce: two rows, both replayed (gearmand SQLite keeps one).
  bg(BYTES_FN, '', 'empty unique one'),
  bg(BYTES_FN, '', 'empty unique two'),
  // '-' coalesces by data: different data are two jobs, both replayed.
  bg(BYTES_FN, '-', 'dash unique one'),
  bg(BYTES_FN, '-', 'dash unique two'),
  bg(BYTES_FN, 'high-bytes', Buffer.from([0xff, 0xfe, 0x80, 0x00, 0x7f])),
  // The longest unique (64 bytes, kept whole unlike gearmand), bytes above 0x7f included.
  bg(BYTES_FN, Buffer.from(Array.from({ length: 64 }, (_, i) => 0x80 + i)).toString('latin1'), 'longest unique'),
];

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

for (const kind of StoreKinds) {
  test(`${kind}: replay keeps order, priorities, epoch time, coalescing and exact bytes`, { skip: await storeSkip(kind), timeout: 90_000 }, async (t) => {
    const store = newStore(kind);
    let server = await startOn(store);
    const peers: ScriptedPeer[] = [];
    try {
      const orderJobs: Submission[] = Array.from({ length: 30 }, (_, i) => {
        const type = PRIORITY_TYPES[i % 3]!;
        return bg(ORDER_FN, `o-${i}`, `${PRIORITY_LABEL[type]}-${i}`, type);
      });
      const large = randomBytes(4 * 1024 * 1024);
      const epochAt = Math.ceil(Date.now() / 1000) + EPOCH_DELAY_S;
      const submissions: Submission[] = [
        ...orderJobs,
        ...binaryJobs,
        bg(COALESCE_FN, 'same-key', 'original'),
        bg(LARGE_FN, 'big', large),
        { type: T.SUBMIT_JOB_EPOCH, functionName: EPOCH_FN, unique: 'later', data: Buffer.from('at its time'), when: epochAt },
      ];
      // One connection: the store sees the adds in submission order.
      const load = new SubmissionLoad(server.port, { connections: 1, inFlight: 16, total: submissions.length, maxMs: 30_000, make: (i) => submissions[i]! });
      await load.done;
      assert.equal(load.acknowledged.length, submissions.length, `refused: ${JSON.stringify(load.refused.map((r) => [r.submission.unique, r.error]))}`);
      const port = server.port;
      await killHard(server);

      server = await startOn(store, [], port);

      // The epoch job: still scheduled if its time has not come, and run at its time.
      const epochRun = runJobs(server.port, EPOCH_FN, { count: 1, window: 1, timeoutMs: (EPOCH_DELAY_S + 20) * 1000 });
      const restartedBeforeEpoch = Date.now() < epochAt * 1000 - 500;

      // Coalescing onto the replayed job: a background and a foreground submission with its unique.
      const client = await ScriptedPeer.connect(server.port, 'coalescer');
      peers.push(client);
      client.send(T.SUBMIT_JOB_BG, [COALESCE_FN, 'same-key', 'second, ignored']);
      const bgHandle = (await client.expect(T.JOB_CREATED, 10_000)).fields[0]!;
      const fgClient = await ScriptedPeer.connect(server.port, 'fg-coalescer');
      peers.push(fgClient);
      fgClient.send(T.SUBMIT_JOB, [COALESCE_FN, 'same-key', 'third, ignored']);
      const fgHandle = (await fgClient.expect(T.JOB_CREATED, 10_000)).fields[0]!;
      assert.equal(fgHandle, bgHandle, 'a foreground submission with the same unique joins the replayed job');
      const coalesced = await runJobs(server.port, COALESCE_FN);
      assert.deepEqual(coalesced.map((j) => [j.handle, j.data.toString()]), [[bgHandle, 'original']], 'one job, the replayed one, with its stored data');
      const complete = await fgClient.expect(T.WORK_COMPLETE, 10_000);
      assert.equal(complete.fields[0], bgHandle);

      // Priorities and FIFO: one job at a time shows the exact queue order.
      const ordered = await runJobs(server.port, ORDER_FN, { window: 1 });
      const expectedOrder = ['H', 'N', 'L'].flatMap((p) => orderJobs.map((j) => j.data.toString()).filter((d) => d.startsWith(`${p}-`)));
      assert.deepEqual(ordered.map((j) => j.data.toString()), expectedOrder);

      // Exact bytes, uniques kept, nothing overwritten.
      const bytes = await runJobs(server.port, BYTES_FN);
      const seen = bytes.map((j) => [j.unique, j.data.toString('hex')]).sort();
      const wanted = binaryJobs.map((j) => [j.unique, j.data.toString('hex')]).sort();
      assert.deepEqual(seen, wanted);

      const big = await runJobs(server.port, LARGE_FN, { timeoutMs: 30_000 });
      assert.equal(big.length, 1);
      assert.equal(big[0]!.data.length, large.length);
      assert.equal(sha(big[0]!.data), sha(large));

      const [epochJob] = await epochRun;
      assert.equal(epochJob!.data.toString(), 'at its time');
      // Epoch times have second resolution; a job may start within its second.
      assert.ok(epochJob!.at >= epochAt * 1000 - 1000, `epoch job ran ${epochAt * 1000 - epochJob!.at} ms early`);
      if (!restartedBeforeEpoch) {
        // The machine was too slow to show "not before": the job must at least have run.
        t.diagnostic(`${kind}: restart took past the epoch time; only "runs after restart" was checked`);
      }
    } finally {
      for (const peer of peers) await peer.close();
      await server.stop();
      await store.cleanup();
    }
  });
}
