import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JobIndex } from '../../src/engine/job-index.js';
import type { Job } from '../../src/engine/job.js';

/** The index only reads `id`; a stand-in job carries its handle (as Job spells it) for the comparisons. */
function newJob(index: JobIndex): Job {
  const id = index.nextId();
  return { id, handle: index.head + id } as Job;
}

test('property: the paged index answers as a plain map of handles would, whatever order jobs leave in', () => {
  fc.assert(
    fc.property(
      // Runs of submissions and removals; long runs cross many 1024-handle pages.
      fc.array(fc.tuple(fc.constantFrom('add', 'remove'), fc.integer({ min: 1, max: 3000 }), fc.nat()), { maxLength: 12 }),
      (steps) => {
        const index = new JobIndex('H:t');
        const model = new Map<string, Job>();
        const live: Job[] = [];
        let issued = 0;
        for (const [kind, count, seed] of steps) {
          for (let i = 0; i < count; i++) {
            if (kind === 'add') {
              const job = newJob(index);
              issued = job.id;
              index.add(job);
              model.set(job.handle, job);
              live.push(job);
            } else if (live.length > 0) {
              const [job] = live.splice((seed + i * 7919) % live.length, 1);
              index.delete(job!);
              index.delete(job!); // a second delete changes nothing
              model.delete(job!.handle);
            }
          }
          assert.equal(index.size, model.size);
        }
        for (const [handle, job] of model) assert.equal(index.get(handle), job);
        for (let id = 1; id <= issued + 1; id++) {
          const handle = index.head + id;
          assert.equal(index.get(handle), model.get(handle));
        }
        assert.deepEqual(index.values().map((j) => j.handle), [...model.keys()].sort((a, b) => index.idOf(a) - index.idOf(b)));
      },
    ),
    { numRuns: 60 },
  );
});

test('a few long-lived jobs among many finished ones do not keep their pages', () => {
  const index = new JobIndex('H:t');
  const kept: Job[] = [];
  // 200 pages' worth of jobs, one in 500 kept: every page ends nearly empty.
  for (let i = 0; i < 200 * 1024; i++) {
    const job = newJob(index);
    index.add(job);
    if (i % 500 === 0) kept.push(job);
    else index.delete(job);
  }
  const internals = index as unknown as { pages: Map<number, unknown>; sparse: Map<number, Job> };
  assert.ok(internals.pages.size <= 2, `pages kept: ${internals.pages.size}`);
  assert.equal(index.size, kept.length);
  for (const job of kept) assert.equal(index.get(job.handle), job);
});

test('handles are read exactly as written: other prefixes and spellings find nothing', () => {
  const index = new JobIndex('H:host:7');
  const job = newJob(index);
  index.add(job);
  assert.equal(index.get('H:host:7:1'), job);
  for (const other of ['H:host:7:01', 'H:host:7:', 'H:host:7:1x', 'H:host:71', 'H:host:8:1', 'H:host:7:-1', 'H:host:7:1.0']) {
    assert.equal(index.get(other), undefined, other);
  }
  // Up to 15 digits, all exact doubles; longer is not a handle this server could have issued.
  assert.equal(index.idOf('H:host:7:999999999999999'), 999999999999999);
  assert.equal(index.idOf('H:host:7:1000000000000000'), 0);
});
