import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runInReadBatch, scheduleFlush, type Flushable } from '../../src/server/output-batch.js';

/** A connection stand-in that records when it is flushed; `onFlush` may act during its flush. */
function target(name: string, urgent: boolean, log: string[], onFlush?: () => void): Flushable {
  return {
    urgent,
    flush() {
      log.push(name);
      onFlush?.();
    },
  };
}

const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

test('a read flushes what it scheduled before it returns, workers first, each once', () => {
  const log: string[] = [];
  const client1 = target('client1', false, log);
  const worker = target('worker', true, log);
  const client2 = target('client2', false, log);
  runInReadBatch(
    () => {
      scheduleFlush(client1);
      scheduleFlush(worker);
      scheduleFlush(client2);
      assert.deepEqual(log, [], 'nothing is written while the read is handled');
    },
    Buffer.alloc(0),
    0,
  );
  assert.deepEqual(log, ['worker', 'client1', 'client2']);
});

test('batches of every size, one after another, each flush exactly their own connections', () => {
  // The list is reused between batches (slots overwritten, not cut off): a later, smaller
  // batch must not flush what an earlier, larger one left behind.
  for (const size of [5, 1, 3, 0, 8, 2]) {
    const log: string[] = [];
    runInReadBatch(
      () => {
        for (let i = 0; i < size; i++) scheduleFlush(target(`c${i}`, i % 3 === 0, log));
      },
      Buffer.alloc(0),
      0,
    );
    const urgent = Array.from({ length: size }, (_, i) => i).filter((i) => i % 3 === 0);
    const others = Array.from({ length: size }, (_, i) => i).filter((i) => i % 3 !== 0);
    assert.deepEqual(log, [...urgent, ...others].map((i) => `c${i}`), `batch of ${size}`);
  }
});

test('outside a read the flush comes on the next tick; one scheduled during a flush is not lost', async () => {
  const log: string[] = [];
  const late = target('late', false, log);
  const first = target('first', false, log, () => scheduleFlush(late));
  scheduleFlush(first);
  assert.deepEqual(log, []);
  await tick();
  assert.deepEqual(log.slice(0, 1), ['first']);
  await tick();
  assert.deepEqual(log, ['first', 'late']);
  // And the list is clean afterwards: the next batch flushes only its own.
  const next = target('next', false, log);
  runInReadBatch(() => scheduleFlush(next), Buffer.alloc(0), 0);
  assert.deepEqual(log, ['first', 'late', 'next']);
});
