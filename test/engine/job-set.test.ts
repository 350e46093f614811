import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { JobSet } from '../../src/engine/job-set.js';
import type { Job } from '../../src/engine/job.js';

test('JobSet behaves as a Set in insertion order, whatever mix of adds and deletes', () => {
  const jobs = Array.from({ length: 5 }, (_, i) => ({ id: i }) as unknown as Job);
  const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 4 }));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const set = new JobSet();
      const model = new Set<Job>();
      for (const [add, i] of ops) {
        if (add) {
          set.add(jobs[i]!);
          model.add(jobs[i]!);
        } else {
          set.delete(jobs[i]!);
          model.delete(jobs[i]!);
        }
        assert.equal(set.size, model.size);
        assert.deepEqual(set.toArray(), [...model]);
        for (const job of jobs) assert.equal(set.has(job), model.has(job));
      }
    }),
  );
});
