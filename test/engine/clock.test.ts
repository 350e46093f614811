/** The system clock's timers, also beyond setTimeout's 2^31-1 ms (a CAN_DO_TIMEOUT may be years). */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { systemClock } from '../../src/engine/types.js';

const DAY = 24 * 3600 * 1000;

test('a timer of 60 days fires once, at its time, not at setTimeout\'s 24.8-day limit or at once', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  let fired = 0;
  systemClock.setTimer(60 * DAY, () => fired++);
  mock.timers.tick(1);
  assert.equal(fired, 0, 'not at once');
  mock.timers.tick(30 * DAY);
  assert.equal(fired, 0, 'not at 30 days');
  mock.timers.tick(30 * DAY - 2);
  assert.equal(fired, 0, 'not 1 ms early');
  mock.timers.tick(1);
  assert.equal(fired, 1);
  mock.timers.tick(100 * DAY);
  assert.equal(fired, 1, 'once');
});

test('clearing a long timer before or after its first setTimeout leg stops it', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  let fired = 0;
  const early = systemClock.setTimer(40 * DAY, () => fired++);
  const late = systemClock.setTimer(40 * DAY, () => fired++);
  systemClock.clearTimer(early);
  mock.timers.tick(30 * DAY);
  systemClock.clearTimer(late);
  mock.timers.tick(20 * DAY);
  assert.equal(fired, 0);
});
