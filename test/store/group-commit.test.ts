import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommitter } from '../../src/store/group-commit.js';
import { StoreErrorCode, isStoreError, type StoreKey, type StoredJob } from '../../src/store/index.js';
import { job } from './helpers.js';

interface Write {
  adds: StoreKey[];
  removes: StoreKey[];
}

function recorder(behaviour: (write: Write) => Promise<void> = async () => undefined): { writes: Write[]; writer: (adds: StoredJob[], removes: StoreKey[]) => Promise<void> } {
  const writes: Write[] = [];
  return {
    writes,
    writer: (adds, removes) => {
      const write = { adds: adds.map((each) => each.key), removes };
      writes.push(write);
      return behaviour(write);
    },
  };
}

describe('group commit', () => {
  it('writes everything submitted in one tick as one batch, and resolves every caller after it', async () => {
    const { writes, writer } = recorder();
    const committer = new GroupCommitter(writer, { store: 'test', timeoutMs: 5000 });
    await Promise.all([committer.add(job(1)), committer.add(job(2)), committer.remove('old'), committer.add(job(3))]);
    assert.deepEqual(writes, [{ adds: ['job-1', 'job-2', 'job-3'], removes: ['old'] }]);
  });

  it('gathers operations arriving during a write into the next batch', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { writes, writer } = recorder((write) => (write.adds[0] === 'job-1' ? gate : Promise.resolve()));
    const committer = new GroupCommitter(writer, { store: 'test', timeoutMs: 5000 });
    const first = committer.add(job(1));
    await new Promise((resolve) => setImmediate(resolve));
    const later = Array.from({ length: 100 }, (_, i) => committer.add(job(100 + i)));
    release();
    await Promise.all([first, ...later]);
    assert.equal(writes.length, 2);
    assert.equal(writes[1]!.adds.length, 100);
  });

  it('nets out an add and a remove of the same key within one batch', async () => {
    const { writes, writer } = recorder();
    const committer = new GroupCommitter(writer, { store: 'test', timeoutMs: 5000 });
    await Promise.all([committer.add(job(1)), committer.remove('job-1'), committer.remove('job-2'), committer.add(job(2))]);
    assert.deepEqual(writes, [{ adds: ['job-2'], removes: ['job-1'] }]);
  });

  it('rejects every caller of a failed batch with STORE_UNAVAILABLE and carries on', async () => {
    let fail = true;
    const { writer } = recorder(async () => {
      if (fail) throw new Error('disk on fire');
    });
    const outcomes: boolean[] = [];
    const committer = new GroupCommitter(writer, { store: 'test', timeoutMs: 5000, onWrite: (ok) => outcomes.push(ok) });
    const results = await Promise.allSettled([committer.add(job(1)), committer.add(job(2))]);
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.ok(isStoreError(result.reason, StoreErrorCode.UNAVAILABLE));
      assert.match(result.reason.message, /disk on fire/);
    }
    fail = false;
    await committer.add(job(3));
    assert.deepEqual(outcomes, [false, true]);
  });

  it('never waits forever: a hung write rejects its callers at the timeout, and later batches still run', async () => {
    const { writes, writer } = recorder((write) => (write.adds[0] === 'job-1' ? new Promise<void>(() => undefined) : Promise.resolve()));
    const committer = new GroupCommitter(writer, { store: 'test', timeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(committer.add(job(1)), (error) => isStoreError(error, StoreErrorCode.UNAVAILABLE) && /within 300 ms/.test(error.message));
    assert.ok(Date.now() - started < 2000);
    await committer.add(job(2));
    assert.deepEqual(writes.map((write) => write.adds), [['job-1'], ['job-2']]);
  });

  it('drops, unwritten, a batch whose time ran out before its write began', async () => {
    const { writes, writer } = recorder();
    // The gathering window outlasts the timeout, so the batch expires while still queued.
    const committer = new GroupCommitter(writer, { store: 'test', timeoutMs: 100, windowMs: 400 });
    await assert.rejects(committer.add(job(1)), (error) => isStoreError(error, StoreErrorCode.UNAVAILABLE));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await committer.idle();
    assert.deepEqual(writes, [], 'a rejected add is never written afterwards');
  });

  it('caps a batch by count so one transaction stays bounded', async () => {
    const { writes, writer } = recorder();
    const committer = new GroupCommitter(writer, { store: 'test', timeoutMs: 5000, maxOpsPerBatch: 10 });
    await Promise.all(Array.from({ length: 35 }, (_, i) => committer.add(job(i))));
    assert.deepEqual(writes.map((write) => write.adds.length), [10, 10, 10, 5]);
  });

  it('caps a batch by bytes; a job larger than the cap still goes alone', async () => {
    const { writes, writer } = recorder();
    const committer = new GroupCommitter(writer, { store: 'test', timeoutMs: 5000, maxBytesPerBatch: 100 });
    // A job counts its data plus its names: 'reverse' and 'u-N' add 10 bytes here.
    const sized = (index: number, size: number) => committer.add(job(index, { data: Buffer.alloc(size) }));
    await Promise.all([sized(1, 40), sized(2, 40), sized(3, 40), sized(4, 500), sized(5, 10)]);
    assert.deepEqual(writes.map((write) => write.adds), [['job-1', 'job-2'], ['job-3'], ['job-4'], ['job-5']]);
  });
});
