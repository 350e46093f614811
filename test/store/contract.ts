/**
 * What every store must do, run against each backend: replay in insertion order across
 * restarts, every field kept byte for byte (the gearmand defects of spec 7 B10 fixed), removes,
 * group commit, and refusing bad input.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Priority, StoreErrorCode, isStoreError, type ObservableJobStore, type StoredJob } from '../../src/store/index.js';
import { job } from './helpers.js';

export interface ContractTarget {
  /** A fresh store object on the same storage as the previous ones (a "restart"). */
  create(): ObservableJobStore;
  /** Point later create() calls at empty storage, and delete what the previous one used. */
  reset(): Promise<void>;
  /** True when writes go through group commit (all but memory). */
  batched: boolean;
  /** Skip reason, decided once before the suite runs. */
  skip?: () => Promise<string | false>;
}

export function storeContract(name: string, target: ContractTarget): void {
  describe(`${name} store contract`, () => {
    let skip: string | false = false;
    const open: ObservableJobStore[] = [];

    before(async () => {
      skip = (await target.skip?.()) ?? false;
    });
    after(async () => {
      for (const store of open) await store.close().catch(() => undefined);
      if (!skip) await target.reset();
    });

    /** Open a store on the current storage; `fresh` first moves to empty storage. */
    async function start(t: { skip(reason: string): void }, fresh = false): Promise<{ store: ObservableJobStore; replayed: StoredJob[] } | undefined> {
      if (skip) {
        t.skip(skip);
        return undefined;
      }
      if (fresh) await target.reset();
      const store = target.create();
      open.push(store);
      const replayed = await store.open();
      return { store, replayed };
    }

    async function restart(store: ObservableJobStore): Promise<{ store: ObservableJobStore; replayed: StoredJob[] }> {
      await store.close();
      const next = target.create();
      open.push(next);
      return { store: next, replayed: await next.open() };
    }

    it('starts empty, then replays stored jobs in insertion order after a restart', async (t) => {
      const first = await start(t, true);
      if (!first) return;
      assert.deepEqual(first.replayed, []);
      const jobs = [job(3), job(1), job(2)];
      for (const each of jobs) await first.store.add(each);
      const second = await restart(first.store);
      assert.deepEqual(second.replayed, jobs);
      assert.deepEqual(second.replayed.map((j) => j.key), ['job-3', 'job-1', 'job-2']);
    });

    it('keeps the order monotonic across restarts, with removes in between', async (t) => {
      const first = await start(t, true);
      if (!first) return;
      await Promise.all([first.store.add(job(1)), first.store.add(job(2))]);
      const second = await restart(first.store);
      await second.store.remove('job-1');
      await second.store.add(job(3));
      await second.store.add(job(0));
      const third = await restart(second.store);
      assert.deepEqual(third.replayed.map((j) => j.key), ['job-2', 'job-3', 'job-0']);
    });

    it('keeps priorities, epoch times, reducers and function names exactly', async (t) => {
      const first = await start(t, true);
      if (!first) return;
      const jobs = [
        job(1, { priority: Priority.HIGH, when: 0 }),
        job(2, { priority: Priority.LOW, when: 4102444800, reducer: 'sum-reducer' }),
        job(3, { priority: Priority.NORMAL, when: 1, functionName: 'fn-with-dash\u00e9\u00ff', reducer: 'r\u0000r' }),
        // gearmand queues background jobs for the empty function name too.
        job(4, { functionName: '' }),
      ];
      await Promise.all(jobs.map((each) => first.store.add(each)));
      const second = await restart(first.store);
      assert.deepEqual(second.replayed, jobs);
    });

    it('round-trips binary data with NUL bytes, empty workloads and large workloads', async (t) => {
      const first = await start(t, true);
      if (!first) return;
      const everyByte = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      const large = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < large.length; i += 1) large[i] = (i * 31 + 7) % 256;
      const jobs = [
        job(1, { data: Buffer.from([0, 0, 0x41, 0, 0xff]) }),
        job(2, { data: Buffer.alloc(0) }),
        job(3, { data: everyByte }),
        job(4, { data: large }),
      ];
      await Promise.all(jobs.map((each) => first.store.add(each)));
      const second = await restart(first.store);
      assert.equal(second.replayed.length, 4);
      assert.ok(second.replayed[0]!.data.equals(jobs[0]!.data), 'NUL bytes kept');
      assert.equal(second.replayed[1]!.data.length, 0, 'empty workload kept as empty');
      assert.ok(second.replayed[2]!.data.equals(everyByte), 'every byte value kept');
      assert.ok(second.replayed[3]!.data.equals(large), '4 MiB workload kept');
    });

    it("stores jobs sharing an empty or '-' unique separately (gearmand collides them), and 64-byte uniques", async (t) => {
      const first = await start(t, true);
      if (!first) return;
      const unique64 = Array.from({ length: 64 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
      const jobs = [
        job(1, { unique: '' }),
        job(2, { unique: '' }),
        job(3, { unique: '-', data: Buffer.from('same') }),
        job(4, { unique: '-', data: Buffer.from('same') }),
        job(5, { unique: unique64 }),
        job(6, { unique: 'bin\u0000\u00ff' }),
      ];
      await Promise.all(jobs.map((each) => first.store.add(each)));
      await first.store.remove('job-2');
      const second = await restart(first.store);
      assert.deepEqual(second.replayed, jobs.filter((each) => each.key !== 'job-2'));
    });

    it('removes jobs, and removing an absent key is not an error', async (t) => {
      const first = await start(t, true);
      if (!first) return;
      await Promise.all([1, 2, 3].map((i) => first.store.add(job(i))));
      await first.store.remove('job-2');
      await first.store.remove('job-2');
      await first.store.remove('never-stored');
      const second = await restart(first.store);
      assert.deepEqual(second.replayed.map((j) => j.key), ['job-1', 'job-3']);
    });

    it('an add and a remove of the same key in one tick leave nothing behind', async (t) => {
      const first = await start(t, true);
      if (!first) return;
      await Promise.all([first.store.add(job(1)), first.store.remove('job-1'), first.store.add(job(2))]);
      const second = await restart(first.store);
      assert.deepEqual(second.replayed.map((j) => j.key), ['job-2']);
    });

    it('group commit: 1000 concurrent adds resolve using a handful of transactions', async (t) => {
      const first = await start(t, true);
      if (!first) return;
      const before = first.store.stats.flushes;
      const jobs = Array.from({ length: 1000 }, (_, i) => job(i, { data: Buffer.from([i % 256, 0, 1]) }));
      await Promise.all(jobs.map((each) => first.store.add(each)));
      const used = first.store.stats.flushes - before;
      if (target.batched) assert.ok(used >= 1 && used <= 9, `1000 adds took ${used} transactions`);
      const removals = jobs.slice(0, 500).map((each) => first.store.remove(each.key));
      await Promise.all(removals);
      const second = await restart(first.store);
      assert.deepEqual(second.replayed.map((j) => j.key), jobs.slice(500).map((j) => j.key));
    });

    it('refuses an invalid job and any use after close, with stable codes', async (t) => {
      const first = await start(t, true);
      if (!first) return;
      await assert.rejects(first.store.add(job(1, { priority: 7 as Priority })), (error) => isStoreError(error, StoreErrorCode.INVALID));
      await assert.rejects(first.store.add(job(1, { key: '' })), (error) => isStoreError(error, StoreErrorCode.INVALID));
      // A number key is one the store's newKey() handed out, never a caller's.
      const notHandedOut = (first.store.newKey?.() ?? 0) + 1;
      await assert.rejects(first.store.add(job(1, { key: notHandedOut })), (error) => {
        assert.ok(isStoreError(error, StoreErrorCode.INVALID));
        assert.match(error.message, new RegExp(`key ${notHandedOut} is a number this store's newKey\\(\\) did not hand out`));
        return true;
      });
      await assert.rejects(first.store.add(job(1, { unique: 'x'.repeat(65) })), (error) => isStoreError(error, StoreErrorCode.INVALID));
      await first.store.close();
      await assert.rejects(first.store.add(job(2)), (error) => isStoreError(error, StoreErrorCode.CLOSED));
      await assert.rejects(first.store.remove('job-2'), (error) => isStoreError(error, StoreErrorCode.CLOSED));
    });
  });
}
