/**
 * Differential: gearmand's command-line flags that change what peers see (gearman-spec 5):
 * -w/--worker-wakeup, -R/--round-robin, and the rest accepted as gearmand accepts them.
 */
import assert from 'node:assert/strict';
import { differential, T } from './harness.js';
import type { ScriptedPeer } from '../helpers/scripted-peer.js';

differential('server flags', (scenario) => {
  scenario('-w 1: one NOOP per queued job, spread over the sleepers', async (t) => {
    const sleepers = [await t.worker('sleeper1', 'f'), await t.worker('sleeper2', 'f'), await t.worker('sleeper3', 'f')];
    for (const s of sleepers) t.send(s, T.PRE_SLEEP);
    for (const s of sleepers) await t.expectNothing(s);
    const c = await t.peer('client');
    const woken: number[] = [];
    for (let job = 1; job <= 3; job++) {
      t.send(c, T.SUBMIT_JOB_BG, ['f', '', `job${job}`]);
      await t.expect(c, `JOB_CREATED <H${job}>`);
      const got = await Promise.all(sleepers.map(async (s) => (await s.drainUntilEcho()).map((f) => t.render(f))));
      const noops = got.flatMap((frames, i) => (frames.length > 0 ? [i] : []));
      assert.deepEqual(got.flat(), ['NOOP'], `job ${job}: exactly one NOOP, got ${JSON.stringify(got)}`);
      woken.push(noops[0]!);
    }
    // The wake-up cursor moves on, so three jobs wake three different sleepers (spec 1.4).
    assert.deepEqual([...woken].sort(), [0, 1, 2]);
  }, { args: ['-w', '1'] });

  scenario('-w 1: the wake-up circle as gearmand keeps it: a registration joins just before the cursor, one leaving at the cursor hands it on', async (t) => {
    // gearmand's per-function circular list (spec 1.4): a new registration is linked in just
    // before the head, so a walk from the head meets it last; unlinking the head makes the next
    // one head. Found probing --worker-wakeup: Gearport appended and let the cursor slip.
    const c = await t.peer('client');
    const noops = async (workers: readonly ScriptedPeer[]): Promise<string[]> => {
      const got = await Promise.all(workers.map(async (w) => (await w.drainUntilEcho()).map((f) => `${w.name} ${t.render(f)}`)));
      return got.flat();
    };
    const [w1, w2, w3] = [await t.worker('w1', 'f'), await t.worker('w2', 'f'), await t.worker('w3', 'f')];
    for (const w of [w1, w2, w3]) t.send(w, T.PRE_SLEEP);
    assert.deepEqual(await noops([w1, w2, w3]), []);
    t.send(c, T.SUBMIT_JOB_BG, ['f', '', 'j1']);
    await t.expect(c, 'JOB_CREATED <H1>');
    assert.deepEqual(await noops([w1, w2, w3]), ['w1 NOOP']);
    const w4 = await t.worker('w4', 'f'); // the circle is now w2 (cursor), w3, w1, w4
    t.send(w1, T.GRAB_JOB);
    await t.expect(w1, 'JOB_ASSIGN <H1>\0f\0j1');
    for (const w of [w1, w4]) t.send(w, T.PRE_SLEEP);
    assert.deepEqual(await noops([w1, w2, w3, w4]), []);
    const woken: string[] = [];
    for (let job = 2; job <= 5; job++) {
      t.send(c, T.SUBMIT_JOB_BG, ['f', '', `j${job}`]);
      await t.expect(c, `JOB_CREATED <H${job}>`);
      woken.push(...(await noops([w1, w2, w3, w4])));
    }
    assert.deepEqual(woken, ['w2 NOOP', 'w3 NOOP', 'w1 NOOP', 'w4 NOOP']);

    // A worker at the cursor's left gives its job up: the requeue wakes the one at the cursor.
    const [x1, x2, x3] = [await t.worker('x1', 'g'), await t.worker('x2', 'g'), await t.worker('x3', 'g')];
    for (const x of [x1, x2, x3]) t.send(x, T.PRE_SLEEP);
    assert.deepEqual(await noops([x1, x2, x3]), []);
    t.send(c, T.SUBMIT_JOB, ['g', '', 'k']);
    await t.expect(c, 'JOB_CREATED <H6>');
    assert.deepEqual(await noops([x1, x2, x3]), ['x1 NOOP']);
    t.send(x1, T.GRAB_JOB);
    await t.expect(x1, 'JOB_ASSIGN <H6>\0g\0k');
    t.send(x1, T.CANT_DO, ['g']);
    await t.expectNothing(x1);
    assert.deepEqual(await noops([x2, x3]), ['x2 NOOP']);
  }, { args: ['-w', '1'] });

  scenario('-R: a worker with two functions alternates between them', async (t) => {
    const c = await t.peer('client');
    for (const [i, [fn, data]] of ([['a', 'a1'], ['a', 'a2'], ['b', 'b1'], ['b', 'b2']] as const).entries()) {
      t.send(c, T.SUBMIT_JOB_BG, [fn, '', data]);
      await t.expect(c, `JOB_CREATED <H${i + 1}>`);
    }
    const w = await t.worker('worker', 'a', 'b');
    // Newest registration (b) first, then round-robin (spec 1.4).
    for (const expected of ['<H3>\0b\0b1', '<H1>\0a\0a1', '<H4>\0b\0b2', '<H2>\0a\0a2']) {
      t.send(w, T.GRAB_JOB);
      await t.expect(w, `JOB_ASSIGN ${expected}`);
    }
  }, { args: ['-R'] });

  scenario("gearmand's other flags are accepted: -j, -t, --exceptions, --job-handle-prefix, --verbose, -l", async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB, ['f', '', 'x']);
    const created = await c.expect(T.JOB_CREATED);
    assert.equal(created.fields[0], 'FLAGS:1');
    const w = await t.worker('worker', 'f');
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'JOB_ASSIGN <H1>\0f\0x');
    t.send(w, T.WORK_EXCEPTION, ['<H1>', 'e']);
    await t.expect(c, 'WORK_EXCEPTION <H1>\0e'); // --exceptions for everyone
    assert.equal(await t.admin('verbose\r\n', 'line'), t.per({ gearmand: 'OK ERROR\n', gearport: 'OK WARNING\n' }));
  }, {
    args: {
      gearmand: ['-j', '3', '-t', '2', '--exceptions', '--job-handle-prefix', 'FLAGS'],
      // The gearmand helper already sets --verbose and --log-file; Gearport gets them here.
      gearport: ['-j', '3', '-t', '2', '--exceptions', '--job-handle-prefix', 'FLAGS', '--verbose', 'WARNING', '-l', 'stderr'],
    },
  });
});

