/**
 * Differential: the admin text protocol, exact reply bytes including the mixed `\n` / `\r\n`
 * line endings (gearman-spec 2.2, group A item 8). Handles, fds, pids and versions normalized.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { differential, T } from './harness.js';
import { sortListing } from '../helpers/normalize.js';

function exitOf(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server still running ${timeoutMs} ms after shutdown`)), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

differential('admin text protocol', (scenario) => {
  scenario('status: total (queued + running), running, workers per function', async (t) => {
    const c = await t.peer('client');
    for (const [i, data] of ['a', 'b', 'c'].entries()) {
      t.send(c, T.SUBMIT_JOB_BG, ['f', '', data]);
      await t.expect(c, `JOB_CREATED <H${i + 1}>`);
    }
    const w = await t.worker('worker', 'f', 'g');
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'JOB_ASSIGN <H1>\0f\0a');
    await t.worker('idle', 'f');
    assert.equal(await t.listing('status\r\n'), 'f\t3\t1\t2\ng\t0\t0\t1\n.\n');
    // Command words ignore case; LF alone ends a line too.
    assert.equal(await t.listing('STATUS\n'), 'f\t3\t1\t2\ng\t0\t0\t1\n.\n');
  });

  scenario('prioritystatus: queued per priority, then workers', async (t) => {
    const c = await t.peer('client');
    const submits = [T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_LOW_BG, T.SUBMIT_JOB_LOW_BG, T.SUBMIT_JOB_LOW_BG];
    for (const [i, type] of submits.entries()) {
      t.send(c, type, ['f', '', String(i)]);
      await t.expect(c, `JOB_CREATED <H${i + 1}>`);
    }
    const w = await t.worker('worker', 'f');
    t.send(w, T.GRAB_JOB); // running jobs are not counted
    await t.expect(w, 'JOB_ASSIGN <H1>\0f\x000');
    assert.equal(await t.listing('prioritystatus\r\n'), 'f\t0\t2\t3\t1\n.\n');
  });

  scenario('show jobs and show unique jobs', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'bg-unique', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB, ['f', 'fg-unique', 'x']);
    await t.expect(c, 'JOB_CREATED <H2>');
    t.send(c, T.SUBMIT_JOB, ['f', '-', 'workload']);
    await t.expect(c, 'JOB_CREATED <H3>');
    t.send(c, T.SUBMIT_JOB, ['f', '', 'x']);
    await t.expect(c, 'JOB_CREATED <H4>');
    // handle, retries, ignore, persisted: gearmand marks background jobs persisted even with
    // no queue plugin configured.
    assert.equal(await t.listing('show jobs\r\n'), '<H1>\t0\t0\t1\n<H2>\t0\t0\t0\n<H3>\t0\t0\t0\n<H4>\t0\t0\t0\n.\n');
    assert.equal(await t.listing('show unique jobs\r\n'), '\n-\nbg-unique\nfg-unique\n.\n');
    assert.equal(await t.listing('SHOW JOBS\r\n'), '<H1>\t0\t0\t1\n<H2>\t0\t0\t0\n<H3>\t0\t0\t0\n<H4>\t0\t0\t0\n.\n');
    assert.equal(await t.admin('show\r\n', 'line'), 'ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n');
    assert.equal(await t.admin('show foo\r\n', 'line'), 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n');
    assert.equal(await t.admin('show unique foo\r\n', 'line'), 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n');
    // A client that disconnects abandons its queued foreground jobs.
    await c.close();
    const observer = await t.newAdmin();
    const expected = t.per({
      // gearman-spec 1.8: gearmand keeps them, flagged ignore, until a worker's grab meets them.
      gearmand: '<H1>\t0\t0\t1\n<H2>\t0\t1\t0\n<H3>\t0\t1\t0\n<H4>\t0\t1\t0\n.\n',
      // Gearport withdraws a queued foreground job nobody waits for at once (deliberate,
      // src/engine/engine.ts detachJob; spec 7 group B item 5 abandoned-job quirks).
      gearport: '<H1>\t0\t0\t1\n.\n',
    });
    let listing = '';
    // No event tells when the server has processed the close: poll, bounded to ~2 s.
    for (let i = 0; i < 100 && listing !== expected; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 20));
      listing = sortListing(t.names.normalize(await observer.command('show jobs\r\n', 'listing')));
    }
    assert.equal(listing, expected);
    assert.equal(await t.listing('status\r\n'), t.per({ gearmand: 'f\t4\t0\t0\n.\n', gearport: 'f\t1\t0\t0\n.\n' }));
  });

  scenario('cancel job: WORK_FAIL to attached clients, OK; unknown and malformed forms', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB, ['f', '', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '', 'y']);
    await t.expect(c, 'JOB_CREATED <H2>');
    assert.equal(await t.admin(`cancel job ${t.names.handleOf('<H1>')}\r\n`, 'line'), 'OK\r\n');
    await t.expect(c, 'WORK_FAIL <H1>');
    assert.equal(
      await t.listing('show jobs\r\n'),
      t.per({
        // gearman-spec 2.2: gearmand flags the queued job ignore and keeps it until selected.
        gearmand: '<H1>\t0\t1\t0\n<H2>\t0\t0\t1\n.\n',
        // Gearport removes a cancelled queued job at once (deliberate, src/engine/engine.ts cancel).
        gearport: '<H2>\t0\t0\t1\n.\n',
      }),
    );
    assert.equal(await t.admin(`cancel job ${t.names.handleOf('<H1>')}\r\n`, 'line'), t.per({ gearmand: 'OK\r\n', gearport: 'ERR UNKNOWN_JOB\r\n' }));
    // The cancelled job is discarded when selected: the worker gets the next one.
    const w = await t.worker('worker', 'f');
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'JOB_ASSIGN <H2>\0f\0y');
    t.send(w, T.GRAB_JOB);
    await t.expect(w, 'NO_JOB');
    assert.equal(await t.admin('cancel job H:nohost:999\r\n', 'line'), 'ERR UNKNOWN_JOB\r\n');
    assert.equal(await t.admin('cancel foo bar\r\n', 'line'), 'ERR UNKNOWN_ERROR\r\n');
    assert.equal(await t.admin('cancel job a b\r\n', 'line'), 'ERR UNKNOWN_ERROR\r\n');
    assert.equal(await t.admin('cancel job\r\n', 'line'), 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n');
  });

  scenario('cancel job of a running job whose only client left: OK, the worker finishes it unheard', async (t) => {
    // Found while adding `cancel job` to the random test (gearman-spec 2.2: a job in memory is found,
    // abandoned ones included): Gearport took the ignore flag for an earlier cancel.
    const { client: c, worker: w } = await t.runningJob('worker', 'u');
    await c.close();
    await t.untilListing('show jobs\r\n', (l) => l === '<H1>\t0\t1\t0\n.\n', 'the client\'s close handled');
    const other = await t.peer('other');
    t.send(other, T.GET_STATUS_UNIQUE, ['u']);
    await t.expect(other, 'STATUS_RES_UNIQUE u\x001\x001\x000\x000\x000');
    assert.equal(await t.admin(`cancel job ${t.names.handleOf('<H1>')}\r\n`, 'line'), 'OK\r\n');
    // README compatibility row 8: a second cancel finds the job again in gearmand, not in
    // Gearport; gearmand keeps the cancelled job's unique, Gearport frees it at once.
    assert.equal(await t.admin(`cancel job ${t.names.handleOf('<H1>')}\r\n`, 'line'), t.per({ gearmand: 'OK\r\n', gearport: 'ERR UNKNOWN_JOB\r\n' }));
    t.send(other, T.GET_STATUS_UNIQUE, ['u']);
    await t.expect(other, t.per({ gearmand: 'STATUS_RES_UNIQUE u\x001\x001\x000\x000\x000', gearport: 'STATUS_RES_UNIQUE u\x000\x000\x000\x000\x000' }));
    t.send(other, T.GET_STATUS, ['<H1>']);
    await t.expect(other, 'STATUS_RES <H1>\x001\x001\x000\x000');
    assert.equal(await t.listing('show jobs\r\n'), '<H1>\t0\t1\t0\n.\n');
    t.send(w, T.WORK_COMPLETE, ['<H1>', 'late']);
    await t.expectNothing(w, 'the worker still held the cancelled job');
    assert.equal(await t.listing('show jobs\r\n'), '.\n');
  });

  scenario('cancel job of a running job: WORK_FAIL now; what the worker sends later', async (t) => {
    const { client: c, worker: w } = await t.runningJob();
    assert.equal(await t.admin(`CANCEL JOB ${t.names.handleOf('<H1>')}\r\n`, 'line'), 'OK\r\n');
    await t.expect(c, 'WORK_FAIL <H1>');
    t.send(w, T.WORK_DATA, ['<H1>', 'more']);
    t.send(w, T.WORK_COMPLETE, ['<H1>', 'late']);
    await t.expectNothing(w, 'the worker still holds the cancelled job');
    if (t.kind === 'gearmand') {
      // gearman-spec 2.2: clients stay attached after cancel and hear the rest.
      await t.expect(c, 'WORK_DATA <H1>\0more');
      await t.expect(c, 'WORK_COMPLETE <H1>\0late');
    } else {
      // Gearport detaches clients on cancel: a WORK_FAIL is their last word on the job
      // (deliberate: src/engine/engine.ts cancel).
      await t.expectNothing(c, 'after WORK_FAIL of a cancelled job');
    }
    assert.equal(await t.listing('show jobs\r\n'), '.\n');
  });

  scenario('create function (CRLF) and its arity error', async (t) => {
    assert.equal(await t.admin('create function made\r\n', 'line'), 'OK\r\n');
    assert.equal(await t.admin('create function made\r\n', 'line'), 'OK\r\n'); // exists: still OK
    assert.equal(await t.listing('status\r\n'), 'made\t0\t0\t0\n.\n');
    assert.equal(
      await t.admin('create function\r\n', 'line'),
      'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n',
    );
  });

  scenario('create function with a bare LF line ending', async (t) => {
    assert.equal(await t.admin('create function abc\n', 'line'), 'OK\r\n');
    // gearman-spec 7 group B item 7: gearmand loses the last character with bare LF;
    // Gearport keeps the name whole.
    assert.equal(await t.listing('status\r\n'), t.per({ gearmand: 'ab\t0\t0\t0\n.\n', gearport: 'abc\t0\t0\t0\n.\n' }));
  });

  scenario('drop function: OK when idle, refused with workers, not found, arity error', async (t) => {
    assert.equal(await t.admin('create function idle\r\n', 'line'), 'OK\r\n');
    assert.equal(await t.admin('drop function idle\r\n', 'line'), 'OK\r\n');
    await t.worker('worker', 'busy');
    assert.equal(await t.admin('drop function busy\r\n', 'line'), 'ERR there are still connected workers or executing clients\r\n');
    assert.equal(await t.admin('drop function idle\r\n', 'line'), 'ERR function not found\r\n');
    assert.equal(
      await t.admin('drop function\r\n', 'line'),
      'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop\r\n',
    );
    assert.equal(await t.listing('status\r\n'), 'busy\t0\t0\t1\n.\n');
  });

  scenario('maxqueue: limits per priority; a full queue answers QUEUE_ERROR, coalescing bypasses it', async (t) => {
    assert.equal(
      await t.admin('maxqueue\r\n', 'line'),
      'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n',
    );
    assert.equal(await t.admin('maxqueue nosuchfunction 1\r\n', 'line'), 'OK\r\n');
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'first', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    assert.equal(await t.admin('maxqueue f 2\r\n', 'line'), 'OK\r\n');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'second', 'x']);
    await t.expect(c, 'JOB_CREATED <H2>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'third', 'x']);
    await t.expect(c, 'ERROR QUEUE_ERROR\0Job queue is full');
    t.send(c, T.SUBMIT_JOB, ['f', 'third', 'x']);
    await t.expect(c, 'ERROR QUEUE_ERROR\0Job queue is full');
    // The limit counts every priority's jobs of the function (job_total, spec 1.5 step 7).
    t.send(c, T.SUBMIT_JOB_HIGH_BG, ['f', 'third', 'x']);
    await t.expect(c, 'ERROR QUEUE_ERROR\0Job queue is full');
    // Coalescing onto an existing job is not limited.
    t.send(c, T.SUBMIT_JOB, ['f', 'first', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    // Two numbers set HIGH and NORMAL; LOW becomes unlimited (spec 1.12 item 9).
    assert.equal(await t.admin('maxqueue f 2 2\r\n', 'line'), 'OK\r\n');
    t.send(c, T.SUBMIT_JOB_LOW_BG, ['f', 'low', 'x']);
    await t.expect(c, 'JOB_CREATED <H3>');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'normal', 'x']);
    await t.expect(c, 'ERROR QUEUE_ERROR\0Job queue is full');
    // Zero means unlimited again.
    assert.equal(await t.admin('maxqueue f 0\r\n', 'line'), 'OK\r\n');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'normal', 'x']);
    await t.expect(c, 'JOB_CREATED <H4>');
    assert.equal(await t.listing('status\r\n'), 'f\t4\t0\t0\n.\n');
  });

  scenario('arity errors name the command word as sent, in its case', async (t) => {
    // Found by admin-lines.test.ts: Gearport wrote the word in lower case.
    assert.equal(await t.admin('CREATE\r\n', 'line'), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+CREATE\r\n');
    assert.equal(await t.admin('Drop func x\r\n', 'line'), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+Drop\r\n');
    assert.equal(await t.admin('maxQueue\r\n', 'line'), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxQueue\r\n');
  });

  scenario('drop function ignores the case of ASCII letters only', async (t) => {
    // Found by admin-lines.test.ts: gearmand compares with strcasecmp (C locale), Gearport folded latin1 letters too.
    assert.equal(await t.admin('create function \xe9t\xe9\r\n', 'line'), 'OK\r\n');
    assert.equal(await t.admin('drop function \xc9T\xc9\r\n', 'line'), 'ERR function not found\r\n');
    assert.equal(await t.admin('create function ab\r\n', 'line'), 'OK\r\n');
    assert.equal(await t.admin('drop function AB\r\n', 'line'), 'OK\r\n');
    assert.equal(await t.listing('status\r\n'), '\xe9t\xe9\t0\t0\t0\n.\n');
  });

  scenario('maxqueue reads its numbers as C atoi does', async (t) => {
    // Found by admin-lines.test.ts: a no-break space (0xA0) is no C blank, so `\xa02` reads 0
    // (unlimited); Gearport's parseInt skipped it and read 2. A tab is a C blank.
    const c = await t.peer('client');
    assert.equal(await t.admin('create function f\r\n', 'line'), 'OK\r\n');
    assert.equal(await t.admin('maxqueue f \xa02\r\n', 'line'), 'OK\r\n');
    for (let i = 1; i <= 3; i++) {
      t.send(c, T.SUBMIT_JOB_BG, ['f', `u${i}`, 'x']);
      await t.expect(c, `JOB_CREATED <H${i}>`);
    }
    assert.equal(await t.admin('maxqueue f \t3\r\n', 'line'), 'OK\r\n');
    t.send(c, T.SUBMIT_JOB_BG, ['f', 'u4', 'x']);
    await t.expect(c, 'ERROR QUEUE_ERROR\0Job queue is full');
  });

  scenario('getpid, version, verbose', async (t) => {
    assert.equal(await t.admin('getpid\r\n', 'line'), `OK ${t.server.pid}\n`);
    const version = await t.admin('version\r\n', 'line');
    assert.match(version, /^OK \S+\n$/);
    // The harness starts gearmand with --verbose ERROR and Gearport with --verbose WARNING.
    assert.equal(await t.admin('verbose\r\n', 'line'), t.per({ gearmand: 'OK ERROR\n', gearport: 'OK WARNING\n' }));
  }, { args: { gearport: ['--verbose', 'WARNING'] } });

  scenario('unknown commands and the empty line', async (t) => {
    assert.equal(await t.admin('foo\r\n', 'line'), 'ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n');
    assert.equal(await t.admin('foo bar baz\r\n', 'line'), 'ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n');
    assert.equal(await t.admin('\r\n', 'line'), 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n');
    assert.equal(await t.admin('shutdow\r\n', 'line'), 'ERR UNKNOWN_COMMAND Unknown+server+commandshutdow\r\n');
    // The server is still up and answering.
    assert.equal(await t.listing('status\r\n'), '.\n');
  });

  scenario('shutdown: removed from gearmand 1.1.15, kept by Gearport for loopback peers', async (t) => {
    if (t.kind === 'gearmand') {
      assert.equal(await t.admin('shutdown\r\n', 'line'), 'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n');
      assert.equal(await t.admin('shutdown graceful\r\n', 'line'), 'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n');
      assert.equal(await t.listing('status\r\n'), '.\n');
    } else {
      // gearman-spec 2.2 (shutdown removed in 1.1.15); Gearport keeps it for loopback and
      // admin identities (deliberate: src/engine/admin.ts): OK, then the process exits.
      assert.equal(await t.admin('shutdown now\r\n', 'line'), 'ERR UNKNOWN_ARGS\r\n');
      assert.equal(await t.admin('shutdown\r\n', 'line'), 'OK\r\n');
      await exitOf(t.server.process, 10_000);
    }
  });

  scenario('more than 5 tokens on an admin line', async (t) => {
    const a = await t.newAdmin();
    if (t.kind === 'gearmand') {
      // gearman-spec 2.1: a sixth token drops the connection without a reply.
      await assert.rejects(a.command('status a b c d e\r\n', 'line'), /closed while waiting/);
    } else {
      // Gearport answers an ERR line and keeps the connection (spec 7 group B item 1).
      assert.equal(await a.command('status a b c d e\r\n', 'line'), 'ERR TOO_MANY_ARGUMENTS At+most+5+tokens+per+command\r\n');
      assert.equal(await a.command('status\r\n', 'listing'), '.\n');
    }
    // Five tokens are fine (extra arguments are ignored by status).
    assert.equal(await t.listing('status a b c d\r\n'), '.\n');
  });

  scenario('drop function with queued jobs', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '', 'x']);
    await t.expect(c, 'JOB_CREATED <H1>');
    // gearman-spec 7 group B item 6: gearmand frees the function and strands its jobs;
    // Gearport refuses while jobs are queued.
    assert.equal(await t.admin('drop function f\r\n', 'line'), t.per({ gearmand: 'OK\r\n', gearport: 'ERR there are still queued jobs\r\n' }));
    assert.equal(await t.listing('status\r\n'), t.per({ gearmand: '.\n', gearport: 'f\t1\t0\t0\n.\n' }));
  });

  scenario('--job-handle-prefix replaces the whole handle prefix', async (t) => {
    const c = await t.peer('client');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '', 'x']);
    const created = await c.expect(T.JOB_CREATED);
    assert.equal(created.fields[0], 'TESTPREFIX:1');
    t.send(c, T.SUBMIT_JOB_BG, ['f', '', 'y']);
    assert.equal((await c.expect(T.JOB_CREATED)).fields[0], 'TESTPREFIX:2');
  }, { args: ['--job-handle-prefix', 'TESTPREFIX'] });
});
