import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/client/backoff.js';

test('reconnection backoff grows by its factor up to maxDelayMs, and resets on success', () => {
  const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 3 });
  const now = 1_000_000;
  assert.deepEqual(Array.from({ length: 5 }, () => backoff.fail(now)), [100, 300, 900, 1000, 1000]);
  assert.equal(backoff.waitMs(now + 400), 600);
  assert.equal(backoff.waitMs(now + 5000), 0);
  backoff.succeed();
  assert.equal(backoff.waitMs(now), 0);
  assert.equal(backoff.fail(now), 100);
});

test('backoff defaults: 100 ms doubling up to 5 s', () => {
  const backoff = new Backoff();
  const delays = Array.from({ length: 10 }, () => backoff.fail(0));
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
});
