/**
 * Differential: job submission, coalescing, unique limits, priorities and the GRAB_JOB family
 * (gearman-spec 1.4, 1.5), asserted byte for byte on gearmand and Gearport.
 */
import assert from 'node:assert/strict';
import { differential, T } from './harness.js';

differential('submit and grab', (scenario) => {
  scenario('every submit type answers JOB_CREATED; background and foreground, all priorities', async (t) => {
    const c = await t.peer('client');
    const submits: [number, string[]][] = [
      [T.SUBMIT_JOB, ['f', 'u1', 'normal']],
      [T.SUBMIT_JOB_BG, ['f', 'u2', 'normal-bg']],
      [T.SUBMIT_JOB_HIGH, ['f', 'u3', 'high']],
      [T.SUBMIT_JOB_HIGH_BG, ['f', 'u4', 'high-bg']],
      [T.SUBMIT_JOB_LOW, ['f', 'u5', 'low']],
      [T.SUBMIT_JOB_LOW_BG, ['f', 'u6', 'low-bg']],
      [T.SUBMIT_JOB_EPOCH, ['f', 'u7', '1', 'epoch-past']],
      [T.SUBMIT_REDUCE_JOB, ['f', 'u8', 'reducer', '', 'reduce']],
      [T.SUBMIT_REDUCE_JOB_BACKGROUND, ['f', 'u9', 'reducer', '', 'reduce-bg']],
    ];
    for (const [i, [type, fields]] of submits.entries()) {
      t.send(c, type, fields);
      await t.expect(c, `JOB_CREATED <H${i + 1}>`);
    }
    // Queued per priority: HIGH 2, NORMAL 5 (incl. epoch and reduce jobs), LOW 2 (spec 2.2).
    assert.equal(await t.listing('prioritystatus\r\n', ['f\t']), 'f\t2\t5\t2\t0\n.\n');
    assert.equal(await t.listing('status\r\n', ['f\t']), 'f\t9\t0\t0\n.\n');
  });

  scenario('coalescing by unique: same handle, existing data kept, status counts one job', async (t) => {
    const c1 = await t.peer('client1');
    const c2 = await t.peer('client2');
    t.send(c1, T.SUBMIT_JOB, ['f', 'same', 'first']);
    await t.expect(c1, 'JOB_CREATED <H1>');
    t.send(c2, T.SUBMIT_JOB_HIGH, ['f', 'same', 'second']);
    await t.expect(c2, 'JOB_CREATED <H1>');
    // A background submission coalesces onto the foreground job too (spec 1.5 step 6).
    t.send(c2, T.SUBMIT_JOB_BG, ['f', 'same', 'third']);
    await t.expect(c2, 'JOB_CREATED <H1>');
    // Same unique, other function: a different job.
    t.send(c2, T.SUBMIT_JOB, ['g', 'same', 'x']);
    await t.expect(c2, 'JOB_CREATED <H2>');
    assert.equal(await t.listing('status\r\n', ['f\t', 'g\t']), 'f\t1\t0\t0\ng\t1\t0\t0\n.\n');
    const w = await t.worker('worker', 'f');
    t.send(w, T.GRAB_JOB_UNIQ);
    await t.expect(w, 'JOB_ASSIGN_UNIQ <H1>\0f\0same\0first');
    t.send(w, T.WORK_COMPLETE, ['<H1>', 'done']);
    await t.expect(c1, 'WORK_COMPLETE <H1>\0done');
    await t.expect(c2, 'WORK_COMPLETE <H1>\0done');
    // After completion the unique is free again: a new job.
    t.send(c1, T.SUBMIT_JOB, ['f', 'same', 'again']);
    await t.expect(c1, 'JOB_CREATED <H3>');
  });

  scenario("unique '-' coalesces by workload; '-' with empty data does not", async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '-', 'payload']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '-', 'payload']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '-', 'other']);
    await t.expect(c, 'JOB_CREATED <H2>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '-', '']);
    await t.expect(c, 'JOB_CREATED <H3>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '-', '']);
    await t.expect(c, 'JOB_CREATED <H4>');
    // A real unique equal to the workload does not match a '-' job (spec 1.7).
    t.send(c, T.GET_STATUS_UNIQUE, ['-']);
    await t.expect(c, 'STATUS_RES_UNIQUE -\x000\x000\x000\x000\x000');
    assert.equal(await t.listing('status\r\n', ['f\t']), 'f\t4\t0\t0\n.\n');
  });

  scenario('empty unique never coalesces', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '', 'same']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '', 'same']);
    await t.expect(c, 'JOB_CREATED <H2>');
    t.send(c, T.SUBMIT_JOB, ['f', '', 'same']);
    await t.expect(c, 'JOB_CREATED <H3>');
    assert.equal(await t.listing('show unique jobs\r\n'), '\n\n\n.\n');
  });

  scenario('a client coalescing onto its own job is attached twice: every WORK_* twice, counted twice', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB, ['f', 'twice', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_HIGH, ['f', 'twice', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.GET_STATUS_UNIQUE, ['twice']);
    await t.expect(c, 'STATUS_RES_UNIQUE twice\x001\x000\x000\x000\x002');
    const w = await t.worker('worker', 'f');
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'JOB_ASSIGN <H1>\0f\0x');
    t.send(w, T.WORK_DATA, ['<H1>', 'part']);
    t.send(w, T.WORK_COMPLETE, ['<H1>', 'done']);
    // Spec 1.3, 1.5 step 6: one attachment per foreground submission, also from one connection
    // (a libgearman client with two tasks of the handle waits for one packet each).
    await t.expect(c, 'WORK_DATA <H1>\0part');
    await t.expect(c, 'WORK_DATA <H1>\0part');
    await t.expect(c, 'WORK_COMPLETE <H1>\0done');
    await t.expect(c, 'WORK_COMPLETE <H1>\0done');
    await t.expectNothing(c);
  });

  scenario('GET_STATUS_UNIQUE of a unique in two functions answers for the newest job', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB, ['f', 'shared', 'x']); // f is the older function
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_BG, ['g', 'shared', 'y']);
    await t.expect(c, 'JOB_CREATED <H2>');
    t.send(c, T.GET_STATUS_UNIQUE, ['shared']);
    await t.expect(c, 'STATUS_RES_UNIQUE shared\x001\x000\x000\x000\x000'); // g's: no client attached
    const w = await t.worker('worker', 'g');
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'JOB_ASSIGN <H2>\0g\0y');
    t.send(w, T.WORK_COMPLETE, ['<H2>', '']);
    await t.expectNothing(w);
    t.send(c, T.GET_STATUS_UNIQUE, ['shared']);
    await t.expect(c, 'STATUS_RES_UNIQUE shared\x001\x000\x000\x000\x001'); // f's again
  });

  scenario('a 65-byte unique is refused with ARGUMENT_TOO_LARGE; no job is created', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB, ['f', 'u'.repeat(65), 'x']);
    await t.expect(c, 'ERROR ARGUMENT_TOO_LARGE\0Unique value too large');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'u'.repeat(65), 'x']);
    await t.expect(c, 'ERROR ARGUMENT_TOO_LARGE\0Unique value too large');
    // The unique is checked before the function is looked up (spec 1.5 steps 3-4): nothing created.
    assert.equal(await t.listing('status\r\n', ['f\t']), '.\n');
    t.send(c, T.ECHO_REQ, ['still open']);
    await t.expect(c, 'ECHO_RES still open');
  });

  scenario('a 64-byte unique: gearmand truncates to 63 and never coalesces, Gearport keeps it whole', async (t) => {
    const unique = 'v'.repeat(64);
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['f', unique, 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', unique, 'x']);
    // gearman-spec 7 group B item 3 (1.5 step 8): gearmand stores 63 bytes, so the second
    // submit does not find the first; Gearport stores all 64 and coalesces.
    await t.expect(c, t.per({ gearmand: 'JOB_CREATED <H2>', gearport: 'JOB_CREATED <H1>' }));
    assert.equal(
      await t.listing('show unique jobs\r\n'),
      t.per({ gearmand: `${'v'.repeat(63)}\n${'v'.repeat(63)}\n.\n`, gearport: `${unique}\n.\n` }),
    );
    const w = await t.worker('worker', 'f');
    t.send(w, T.GRAB_JOB_UNIQ);
    // gearmand's framing gets an extra NUL from the truncated unique (spec 1.5 step 8).
    await t.expect(w, t.per({ gearmand: `JOB_ASSIGN_UNIQ <H1>\0f\0${'v'.repeat(63)}\0\0x`, gearport: `JOB_ASSIGN_UNIQ <H1>\0f\0${unique}\0x` }));
  });

  scenario('priorities: HIGH before NORMAL before LOW, FIFO within a priority', async (t) => {
    const c = await t.peer('client');
    const jobs: [number, string][] = [
      [T.SUBMIT_JOB_LOW_BG, 'low1'],
      [T.SUBMIT_JOB_BG, 'normal1'],
      [T.SUBMIT_JOB_HIGH_BG, 'high1'],
      [T.SUBMIT_JOB_LOW, 'low2'],
      [T.SUBMIT_JOB, 'normal2'],
      [T.SUBMIT_JOB_HIGH, 'high2'],
      [T.SUBMIT_JOB_BG, 'normal3'],
    ];
    for (const [i, [type, data]] of jobs.entries()) {
      t.send(c, type, ['f', '', data]);
      await t.expect(c, `JOB_CREATED <H${i + 1}>`);
    }
    const w = await t.worker('worker', 'f');
    for (const expected of ['<H3>\0f\0high1', '<H6>\0f\0high2', '<H2>\0f\0normal1', '<H5>\0f\0normal2', '<H7>\0f\0normal3', '<H1>\0f\0low1', '<H4>\0f\0low2']) {
      t.send(w, T.GRAB_JOB);
      await t.expect(w, `JOB_ASSIGN ${expected}`);
    }
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'NO_JOB');
    assert.equal(await t.listing('status\r\n', ['f\t']), 'f\t7\t7\t1\n.\n');
  });

  scenario('priority across two functions of one worker', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_LOW_BG, ['fb', '', 'b-low']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_HIGH_BG, ['fa', '', 'a-high']);
    await t.expect(c, 'JOB_CREATED <H2>');
    t.send(c, T.SUBMIT_JOB_LOW_BG, ['fa', '', 'a-low']);
    await t.expect(c, 'JOB_CREATED <H3>');
    t.send(c, T.SUBMIT_JOB_HIGH_BG, ['fb', '', 'b-high']);
    await t.expect(c, 'JOB_CREATED <H4>');
    const w = await t.worker('worker', 'fa', 'fb');
    const order = t.per({
      // gearman-spec 1.4 [1.1.x]: functions first (newest registration first), priority only
      // within the chosen function.
      gearmand: ['<H4>\0fb\0b-high', '<H1>\0fb\0b-low', '<H2>\0fa\0a-high', '<H3>\0fa\0a-low'],
      // gearman-spec 1.4 [2.0]: priority is global across the worker's functions.
      gearport: ['<H4>\0fb\0b-high', '<H2>\0fa\0a-high', '<H1>\0fb\0b-low', '<H3>\0fa\0a-low'],
    });
    for (const expected of order) {
      t.send(w, T.GRAB_JOB);
      await t.expect(w, `JOB_ASSIGN ${expected}`);
    }
  });

  scenario('GRAB_JOB, GRAB_JOB_UNIQ and GRAB_JOB_ALL reply layouts; NO_JOB when empty', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'u1', 'd1']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'u2', 'd2']);
    await t.expect(c, 'JOB_CREATED <H2>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'u3', 'd\0with nul']);
    await t.expect(c, 'JOB_CREATED <H3>');
    t.send(c, T.SUBMIT_REDUCE_JOB_BACKGROUND, ['f', 'u4', 'red', '', 'd4']);
    await t.expect(c, 'JOB_CREATED <H4>');
    const w = await t.peer('worker');
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'NO_JOB'); // no CAN_DO yet
    t.send(w, T.CAN_DO, ['f']);
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'JOB_ASSIGN <H1>\0f\0d1');
    t.send(w, T.GRAB_JOB_UNIQ);
    await t.expect(w, 'JOB_ASSIGN_UNIQ <H2>\0f\0u2\0d2');
    // GRAB_JOB_ALL answers JOB_ASSIGN_UNIQ for a job without reducer (spec 7 group A item 5).
    t.send(w, T.GRAB_JOB_ALL);
    await t.expect(w, 'JOB_ASSIGN_UNIQ <H3>\0f\0u3\0d\0with nul');
    t.send(w, T.GRAB_JOB_ALL);
    await t.expect(w, 'JOB_ASSIGN_ALL <H4>\0f\0u4\0red\0d4');
    for (const grab of [T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL]) {
      t.send(w, grab);
      await t.expect(w, 'NO_JOB');
    }
  });

  scenario('SUBMIT_JOB_EPOCH: a past or negative epoch runs now; a future one waits, also beyond 2^53 s', async (t) => {
    const c = await t.peer('client');
    const inAnHour = String(Math.floor(Date.now() / 1000) + 3600);
    const cases = [
      { fn: 'f', future: inAnHour, past: '1', handles: ['<H1>', '<H2>'] },
      { fn: 'g', future: '99999999999999999', past: '-5', handles: ['<H3>', '<H4>'] },
    ];
    for (const { fn, future, past, handles } of cases) {
      t.send(c, T.SUBMIT_JOB_EPOCH, [fn, '', future, 'later']);
      await t.expect(c, `JOB_CREATED ${handles[0]}`);
      t.send(c, T.SUBMIT_JOB_EPOCH, [fn, '', past, 'now']);
      await t.expect(c, `JOB_CREATED ${handles[1]}`);
      const w = await t.worker(`worker-${fn}`, fn);
      t.send(w, T.GRAB_JOB);
      await t.expect(w, `JOB_ASSIGN ${handles[1]}\0${fn}\0now`);
      t.send(w, T.GRAB_JOB);
      await t.expect(w, 'NO_JOB');
    }
    // The future jobs are queued at NORMAL (spec 2.2 prioritystatus counts future epoch jobs).
    assert.equal(await t.listing('prioritystatus\r\n', ['f\t', 'g\t']), 'f\t0\t1\t0\t1\ng\t0\t1\t0\t1\n.\n');
  });

  scenario('a job not yet due alone in NORMAL, and a LOW job: gearmand 1.1 hands out nothing, Gearport the LOW job', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_EPOCH, ['f', '', '99999999999', 'later']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_LOW_BG, ['f', '', 'low']);
    await t.expect(c, 'JOB_CREATED <H2>');
    const w = await t.worker('worker', 'f');
    t.send(w, T.PRE_SLEEP);
    await t.expect(w, 'NOOP'); // work is waiting, on both
    t.send(w, T.GRAB_JOB);
    // gearman-spec 1.4 [1.1.x]: gearmand scans only the function's first non-empty priority
    // list, NORMAL, where nothing is due yet, so its workers spin (NOOP, NO_JOB) until then;
    // Gearport skips jobs not yet due, as gearmand 2.0 does (found by random.test.ts).
    await t.expect(w, t.per({ gearmand: 'NO_JOB', gearport: 'JOB_ASSIGN <H2>\0f\0low' }));
  });

  scenario('reduce jobs: a reducer over 64 bytes is refused; a unique over 64 bytes is truncated by gearmand, refused by Gearport', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_REDUCE_JOB_BACKGROUND, ['f', 'u', 'r'.repeat(65), '', 'x']);
    await t.expect(c, 'ERROR ARGUMENT_TOO_LARGE\0Unique value too large');
    t.send(c, T.SUBMIT_REDUCE_JOB_BACKGROUND, ['f', 'u', 'r'.repeat(64), '', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    // gearman-spec 1.5 step 3, 7 group B item 3: gearmand checks the reducer in place of the
    // unique and keeps 63 bytes of a long unique; Gearport checks both and never truncates.
    const long = 'v'.repeat(70);
    t.send(c, T.SUBMIT_REDUCE_JOB_BACKGROUND, ['f', long, 'r', '', 'y']);
    await t.expect(c, t.per({ gearmand: 'JOB_CREATED <H2>', gearport: 'ERROR ARGUMENT_TOO_LARGE\0Unique value too large' }));
    assert.equal(
      await t.listing('show unique jobs\r\n'),
      t.per({ gearmand: `u\n${'v'.repeat(63)}\n.\n`, gearport: 'u\n.\n' }),
    );
  });

  scenario('SUBMIT_JOB_EPOCH due soon: who is woken, and when', async (t) => {
    const w = await t.worker('worker', 'f');
    t.send(w, T.PRE_SLEEP);
    await t.expectNothing(w);
    const c = await t.peer('client');
    const due = Math.floor(Date.now() / 1000) + 3;
    t.send(c, T.SUBMIT_JOB_EPOCH, ['f', '', String(due), 'soon']);
    await t.expect(c, 'JOB_CREATED <H1>');
    if (t.kind === 'gearmand') {
      // gearmand queues the future job at once, which wakes sleepers for nothing (spec 1.4)...
      await t.expect(w, 'NOOP');
      t.send(w, T.GRAB_JOB);
      await t.expect(w, 'NO_JOB');
      t.send(w, T.PRE_SLEEP);
      await t.expectNothing(w, 'before the epoch is due');
      // ...and 1.1.x has no epoch timer: a bounded wait past the due time proves no NOOP comes.
      await new Promise((r) => setTimeout(r, Math.max(0, due * 1000 - Date.now()) + 1500));
      await t.expectNothing(w, 'after the epoch is due (gearmand 1.1 has no epoch timer)');
    } else {
      // Gearport holds a future job aside: no NOOP until it is due, then one NOOP from its
      // epoch timer (spec 1.4 [2.0] timer; the early wake-up is gearmand's, not copied).
      await t.expectNothing(w, 'before the epoch is due');
      await t.expect(w, 'NOOP', 8000);
      assert.ok(Date.now() >= due * 1000 - 1000, 'woken before the epoch was due');
    }
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'JOB_ASSIGN <H1>\0f\0soon');
  });

  scenario('the empty function name is a function: a background job for it is queued, listed and taken', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['', 'u', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    assert.equal(await t.listing('status\r\n', ['\t']), '\t1\t0\t0\n.\n');
    const w = await t.worker('worker', '');
    t.send(w, T.GRAB_JOB_UNIQ);
    await t.expect(w, 'JOB_ASSIGN_UNIQ <H1>\0\0u\0x');
    t.send(w, T.WORK_COMPLETE, ['<H1>', '']);
    await t.expectNothing(w);
    assert.equal(await t.listing('show jobs\r\n'), '.\n');
  });
});
