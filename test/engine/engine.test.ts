import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import { maxQueueLimits, runAdminCommand, type AdminContext } from '../../src/engine/admin.js';
import { Priority, type SubmitRequest } from '../../src/engine/types.js';
import type { StoreKey, StoredJob } from '../../src/store/types.js';
import { ManualClock, RecordingListener } from './fakes.js';

function setup(options: Partial<EngineOptions> = {}) {
  const clock = new ManualClock();
  const engine = new Engine({ handlePrefix: 'H:t', clock, ...options });
  const peer = () => {
    const listener = new RecordingListener();
    return { listener, peer: engine.connect(listener, '127.0.0.1') };
  };
  return { engine, clock, peer };
}

const job = (functionName: string, data = '', extra: Partial<SubmitRequest> = {}): SubmitRequest => ({
  functionName,
  unique: '',
  data: Buffer.from(data),
  priority: Priority.NORMAL,
  background: false,
  ...extra,
});

const admin: AdminContext = { pid: 1, version: 'test', verbose: 'ERROR', mayChangeState: true, shutdown: () => {} };

test('handles count up from 1 and jobs reach workers FIFO within a priority, high before normal before low', () => {
  const { engine, peer } = setup();
  const client = peer();
  const worker = peer();
  engine.canDo(worker.peer, 'f');
  const handles = ['n1', 'l1', 'h1', 'n2', 'h2'].map((d) => {
    const priority = d[0] === 'h' ? Priority.HIGH : d[0] === 'l' ? Priority.LOW : Priority.NORMAL;
    const r = engine.submit(client.peer, job('f', d, { priority }));
    assert.ok(r.ok);
    return r.job.handle;
  });
  assert.deepEqual(handles, ['H:t:1', 'H:t:2', 'H:t:3', 'H:t:4', 'H:t:5']);
  const order: string[] = [];
  for (let a = engine.grab(worker.peer); a; a = engine.grab(worker.peer)) order.push(a.data.toString());
  assert.deepEqual(order, ['h1', 'h2', 'n1', 'n2', 'l1']);
});

test('priority is global across a worker\'s functions, and grabs rotate over functions', () => {
  const { engine, peer } = setup();
  const client = peer();
  const worker = peer();
  engine.canDo(worker.peer, 'a');
  engine.canDo(worker.peer, 'b');
  engine.submit(client.peer, job('a', 'a-normal'));
  engine.submit(client.peer, job('b', 'b-high', { priority: Priority.HIGH }));
  engine.submit(client.peer, job('a', 'a-normal-2'));
  engine.submit(client.peer, job('b', 'b-normal'));
  const order: string[] = [];
  for (let a = engine.grab(worker.peer); a; a = engine.grab(worker.peer)) order.push(a.data.toString());
  assert.equal(order[0], 'b-high');
  assert.deepEqual(order.slice(1).sort(), ['a-normal', 'a-normal-2', 'b-normal']);
});

test('coalescing: same unique gives the same handle; "-" coalesces on the workload; empty never', () => {
  const { engine, peer } = setup();
  const c1 = peer();
  const c2 = peer();
  const a = engine.submit(c1.peer, job('f', 'x', { unique: 'u1' }));
  const b = engine.submit(c2.peer, job('f', 'other', { unique: 'u1' }));
  assert.ok(a.ok && b.ok);
  assert.equal(b.job.handle, a.job.handle);
  assert.equal(b.coalesced, true);
  const d1 = engine.submit(c1.peer, job('f', 'same', { unique: '-' }));
  const d2 = engine.submit(c2.peer, job('f', 'same', { unique: '-' }));
  const d3 = engine.submit(c2.peer, job('f', 'different', { unique: '-' }));
  assert.ok(d1.ok && d2.ok && d3.ok);
  assert.equal(d2.job.handle, d1.job.handle);
  assert.notEqual(d3.job.handle, d1.job.handle);
  const e1 = engine.submit(c1.peer, job('f', 'same', { unique: '' }));
  const e2 = engine.submit(c1.peer, job('f', 'same', { unique: '' }));
  assert.ok(e1.ok && e2.ok);
  assert.notEqual(e1.job.handle, e2.job.handle);
  // Same unique in another function is another job.
  const g = engine.submit(c1.peer, job('g', 'x', { unique: 'u1' }));
  assert.ok(g.ok);
  assert.notEqual(g.job.handle, a.job.handle);
});

test('a 64-byte unique is kept whole and still coalesces; 65 bytes is refused', () => {
  const { engine, peer } = setup();
  const c = peer();
  const u64 = 'u'.repeat(64);
  const a = engine.submit(c.peer, job('f', '', { unique: u64 }));
  const b = engine.submit(c.peer, job('f', '', { unique: u64 }));
  assert.ok(a.ok && b.ok);
  assert.equal(a.job.unique, u64);
  assert.equal(b.job.handle, a.job.handle);
  const tooLong = engine.submit(c.peer, job('f', '', { unique: 'u'.repeat(65) }));
  assert.deepEqual(tooLong, { ok: false, error: { code: 'ARGUMENT_TOO_LARGE', text: 'Unique value too large' } });
});

test('work results reach every attached client, newest first; the job is gone after completion', () => {
  const { engine, peer } = setup();
  const c1 = peer();
  const c2 = peer();
  const w = peer();
  engine.canDo(w.peer, 'f');
  const r = engine.submit(c1.peer, job('f', 'x', { unique: 'k' }));
  engine.submit(c2.peer, job('f', 'x', { unique: 'k' }));
  assert.ok(r.ok);
  const h = r.job.handle;
  assert.equal(engine.grab(w.peer)?.handle, h);
  assert.equal(engine.workData(w.peer, h, Buffer.from('d')), undefined);
  assert.equal(engine.workStatus(w.peer, h, Buffer.from('1'), Buffer.from('4')), undefined);
  assert.deepEqual(engine.status(h), { known: true, running: true, numerator: 1, denominator: 4, clients: 2 });
  assert.equal(engine.workComplete(w.peer, h, Buffer.from('done')), undefined);
  assert.deepEqual(c1.listener.take(), [`DATA ${h} d`, `STATUS ${h} 1/4`, `COMPLETE ${h} done`]);
  assert.deepEqual(c2.listener.take(), [`DATA ${h} d`, `STATUS ${h} 1/4`, `COMPLETE ${h} done`]);
  assert.equal(engine.status(h).known, false);
  assert.deepEqual(engine.workComplete(w.peer, h, Buffer.from('again')), {
    code: 'JOB_NOT_FOUND',
    text: 'Job given in work result not found',
  });
});

test('work results from a connection that does not hold the job are JOB_NOT_FOUND', () => {
  const { engine, peer } = setup();
  const c = peer();
  const w = peer();
  const other = peer();
  engine.canDo(w.peer, 'f');
  const r = engine.submit(c.peer, job('f'));
  assert.ok(r.ok);
  engine.grab(w.peer);
  assert.equal(engine.workData(other.peer, r.job.handle, Buffer.from('x'))?.text, 'Job does not exist on server');
  assert.equal(engine.workException(other.peer, r.job.handle, Buffer.from('x'))?.text, 'An exception was received for a job that does not exist');
  assert.equal(engine.workFail(other.peer, 'H'.repeat(64))?.code, 'ARGUMENT_TOO_LARGE');
});

test('a sleeping worker gets one NOOP between grabs; PRE_SLEEP with work waiting answers at once', () => {
  const { engine, peer } = setup();
  const c = peer();
  const w = peer();
  engine.canDo(w.peer, 'f');
  assert.equal(engine.preSleep(w.peer), false);
  engine.submit(c.peer, job('f', '1'));
  engine.submit(c.peer, job('f', '2'));
  assert.deepEqual(w.listener.take(), ['NOOP']);
  assert.equal(engine.preSleep(w.peer), true);
  engine.grab(w.peer);
  engine.grab(w.peer);
  assert.equal(engine.preSleep(w.peer), false);
  engine.submit(c.peer, job('f', '3'));
  assert.deepEqual(w.listener.take(), ['NOOP']);
});

test('--worker-wakeup limits NOOPs per job and rotates over sleeping workers', () => {
  const { engine, peer } = setup({ workerWakeup: 1 });
  const c = peer();
  const workers = [peer(), peer(), peer()];
  for (const w of workers) {
    engine.canDo(w.peer, 'f');
    engine.preSleep(w.peer);
  }
  engine.submit(c.peer, job('f', '1'));
  engine.submit(c.peer, job('f', '2'));
  assert.deepEqual(workers.map((w) => w.listener.take().length), [1, 1, 0]);
});

test('what belongs to one assignment ends with it: progress, cancellation and abandonment', () => {
  const { engine, peer } = setup({ jobRetries: 0 });
  const c = peer();
  const w1 = peer();
  engine.canDo(w1.peer, 'f');
  // Progress: a requeued job is 0/0 again, and its next worker starts from there.
  const fg = engine.submit(c.peer, job('f', 'progress'));
  assert.ok(fg.ok);
  engine.grab(w1.peer);
  assert.equal(engine.workStatus(w1.peer, fg.job.handle, Buffer.from('3'), Buffer.from('4')), undefined);
  assert.deepEqual(engine.status(fg.job.handle), { known: true, running: true, numerator: 3, denominator: 4, clients: 1 });
  engine.disconnect(w1.peer);
  assert.deepEqual(engine.status(fg.job.handle), { known: true, running: false, numerator: 0, denominator: 0, clients: 1 });
  const w2 = peer();
  engine.canDo(w2.peer, 'f');
  assert.equal(engine.grab(w2.peer)?.handle, fg.job.handle);
  assert.deepEqual(engine.status(fg.job.handle), { known: true, running: true, numerator: 0, denominator: 0, clients: 1 });
  // Only the worker running it may report on it; the one that lost it may not.
  assert.equal(engine.workStatus(w1.peer, fg.job.handle, Buffer.from('1'), Buffer.from('2'))?.code, 'JOB_NOT_FOUND');
  assert.equal(engine.workComplete(w2.peer, fg.job.handle, Buffer.from('done')), undefined);

  // A running background job cancelled, then its worker lost: gone, not queued again.
  const bg = engine.submit(undefined, job('f', 'cancelled', { background: true }));
  assert.ok(bg.ok);
  assert.equal(engine.grab(w2.peer)?.handle, bg.job.handle);
  assert.ok(engine.cancel(bg.job.handle));
  assert.equal(engine.cancel(bg.job.handle), false, 'a cancelled running job cannot be cancelled again');
  engine.disconnect(w2.peer);
  assert.equal(engine.status(bg.job.handle).known, false);

  // A running foreground job its only client abandoned, then its worker lost: gone too.
  const w3 = peer();
  engine.canDo(w3.peer, 'f');
  const c2 = peer();
  const left = engine.submit(c2.peer, job('f', 'abandoned'));
  assert.ok(left.ok);
  assert.equal(engine.grab(w3.peer)?.handle, left.job.handle);
  engine.disconnect(c2.peer);
  assert.equal(engine.status(left.job.handle).known, true, 'still running, unheard');
  // Abandoned is not cancelled: `show jobs` lists it, so `cancel job` finds it (once).
  assert.ok(engine.cancel(left.job.handle), 'an abandoned running job can be cancelled');
  assert.equal(engine.cancel(left.job.handle), false, 'but only once');
  engine.disconnect(w3.peer);
  assert.equal(engine.status(left.job.handle).known, false);
  assert.equal(engine.jobs.size, 0);
});

test('a worker that disconnects mid-job has it requeued; at the retry limit clients get WORK_FAIL', () => {
  const { engine, peer } = setup({ jobRetries: 2 });
  const c = peer();
  const w1 = peer();
  engine.canDo(w1.peer, 'f');
  const r = engine.submit(c.peer, job('f', 'x'));
  assert.ok(r.ok);
  engine.grab(w1.peer);
  engine.disconnect(w1.peer);
  assert.deepEqual(engine.status(r.job.handle), { known: true, running: false, numerator: 0, denominator: 0, clients: 1 });
  const w2 = peer();
  engine.canDo(w2.peer, 'f');
  assert.equal(engine.grab(w2.peer)?.handle, r.job.handle);
  engine.resetAbilities(w2.peer); // second loss reaches the limit of 2
  assert.deepEqual(c.listener.take(), [`FAIL ${r.job.handle}`]);
  assert.equal(engine.status(r.job.handle).known, false);
});

test('CANT_DO requeues the jobs the worker runs for that function', () => {
  const { engine, peer } = setup();
  const c = peer();
  const w = peer();
  engine.canDo(w.peer, 'f');
  const r = engine.submit(c.peer, job('f'));
  assert.ok(r.ok);
  engine.grab(w.peer);
  engine.cantDo(w.peer, 'f');
  assert.equal(engine.status(r.job.handle).running, false);
  assert.equal(engine.grab(w.peer), undefined);
});

test('CAN_DO_TIMEOUT requeues a job that runs too long, per job, at least 1000 ms, and not after it completed', () => {
  const { engine, clock, peer } = setup();
  const c = peer();
  const w = peer();
  engine.canDo(w.peer, 'f', 300); // raised to gearmand's minimum of 1000 ms
  const a = engine.submit(c.peer, job('f', 'a'));
  const b = engine.submit(c.peer, job('f', 'b'));
  assert.ok(a.ok && b.ok);
  engine.grab(w.peer);
  clock.advance(600);
  engine.grab(w.peer);
  engine.workComplete(w.peer, a.job.handle, Buffer.from('ok'));
  clock.advance(600); // b has run 600 ms: still fine, and a's timer is gone
  assert.equal(engine.status(b.job.handle).running, true);
  clock.advance(400);
  assert.equal(engine.status(b.job.handle).running, false);
  assert.equal(engine.workComplete(w.peer, b.job.handle, Buffer.from('late'))?.code, 'JOB_NOT_FOUND');
  assert.equal(clock.pending, 0);
});

test('close() stops the CAN_DO_TIMEOUT timers of running jobs, so a stopping process can exit', () => {
  const { engine, clock, peer } = setup();
  const c = peer();
  const w1 = peer();
  const w2 = peer();
  engine.canDo(w1.peer, 'f', 2000);
  engine.canDo(w2.peer, 'f', 3000);
  for (let i = 0; i < 5; i++) assert.ok(engine.submit(c.peer, job('f', `j${i}`)).ok);
  const a = engine.grab(w1.peer)!;
  const b = engine.grab(w2.peer)!;
  const c3 = engine.grab(w2.peer)!; // a worker running two jobs
  assert.equal(clock.pending, 3);
  engine.close();
  assert.equal(clock.pending, 0);
  clock.advance(10_000);
  for (const { handle } of [a, b, c3]) assert.equal(engine.status(handle).running, true, `${handle} not requeued after close()`);
});

test('a queued foreground job nobody waits for is withdrawn; a background one stays', () => {
  const { engine, peer } = setup();
  const c = peer();
  const fg = engine.submit(c.peer, job('f', 'fg'));
  const bg = engine.submit(c.peer, job('f', 'bg', { background: true }));
  assert.ok(fg.ok && bg.ok);
  engine.disconnect(c.peer);
  assert.equal(engine.status(fg.job.handle).known, false);
  assert.equal(engine.status(bg.job.handle).known, true);
  assert.equal(runAdminCommand(engine, 'status', admin), 'f\t1\t0\t0\n.\n');
});

test('a background job joined by a foreground client survives that client leaving', () => {
  const { engine, peer } = setup();
  const c = peer();
  const bg = engine.submit(undefined, job('f', 'x', { unique: 'k', background: true }));
  const fg = engine.submit(c.peer, job('f', 'x', { unique: 'k' }));
  assert.ok(bg.ok && fg.ok);
  assert.equal(fg.job.handle, bg.job.handle);
  engine.disconnect(c.peer);
  assert.equal(engine.status(bg.job.handle).known, true);
});

test('joining an abandoned running job revives it: the newcomer gets the result', () => {
  const { engine, peer } = setup();
  const c1 = peer();
  const c2 = peer();
  const w = peer();
  engine.canDo(w.peer, 'f');
  const r = engine.submit(c1.peer, job('f', 'x', { unique: 'k' }));
  assert.ok(r.ok);
  engine.grab(w.peer);
  engine.disconnect(c1.peer);
  engine.submit(c2.peer, job('f', 'x', { unique: 'k' }));
  engine.workComplete(w.peer, r.job.handle, Buffer.from('res'));
  assert.deepEqual(c2.listener.take(), [`COMPLETE ${r.job.handle} res`]);
});

test('epoch jobs wait for their time, then wake sleeping workers (gearmand 1.1 never did)', () => {
  const { engine, clock, peer } = setup();
  const w = peer();
  engine.canDo(w.peer, 'f');
  engine.preSleep(w.peer);
  const when = Math.floor(clock.now() / 1000) + 10;
  const r = engine.submit(undefined, job('f', 'later', { background: true, when }));
  assert.ok(r.ok);
  assert.equal(runAdminCommand(engine, 'prioritystatus', admin), 'f\t0\t1\t0\t1\n.\n');
  assert.equal(engine.grab(w.peer), undefined);
  engine.preSleep(w.peer);
  clock.advance(9000);
  assert.deepEqual(w.listener.take(), []);
  clock.advance(1000);
  assert.deepEqual(w.listener.take(), ['NOOP']);
  assert.equal(engine.grab(w.peer)?.data.toString(), 'later');
});

test('an epoch in the past runs now', () => {
  const { engine, peer } = setup();
  const w = peer();
  engine.canDo(w.peer, 'f');
  engine.submit(undefined, job('f', 'x', { background: true, when: 1000 }));
  assert.equal(engine.grab(w.peer)?.data.toString(), 'x');
});

test('maxqueue refuses new jobs once queued + running reach the limit; coalescing is still allowed', () => {
  const { engine, peer } = setup();
  const c = peer();
  engine.functionFor('f');
  assert.equal(runAdminCommand(engine, 'maxqueue f 2', admin), 'OK\r\n');
  assert.ok(engine.submit(c.peer, job('f', '1', { unique: 'a' })).ok);
  assert.ok(engine.submit(c.peer, job('f', '2')).ok);
  assert.deepEqual(engine.submit(c.peer, job('f', '3')), { ok: false, error: { code: 'QUEUE_ERROR', text: 'Job queue is full' } });
  assert.ok(engine.submit(c.peer, job('f', '1', { unique: 'a' })).ok);
  // Two numbers set HIGH and NORMAL; LOW becomes unlimited (spec 2.2).
  runAdminCommand(engine, 'maxqueue f 1 1', admin);
  assert.ok(engine.submit(c.peer, job('f', 'low', { priority: Priority.LOW })).ok);
});

test('the job memory budget refuses new work and recovers when jobs finish', () => {
  const { engine, peer } = setup({ maxJobBytes: 4000 });
  const c = peer();
  const w = peer();
  engine.canDo(w.peer, 'f');
  const first = engine.submit(c.peer, job('f', 'x'.repeat(3000)));
  assert.ok(first.ok);
  const refused = engine.submit(c.peer, job('f', 'y'.repeat(3000)));
  assert.equal(!refused.ok && refused.error.text, 'Job memory budget is full');
  engine.grab(w.peer);
  engine.workComplete(w.peer, first.job.handle, Buffer.alloc(0));
  assert.equal(engine.memoryBytes, 0);
  assert.ok(engine.submit(c.peer, job('f', 'y'.repeat(3000))).ok);
});

test('a connection attaching to one job again and again is bounded by the job memory budget, which recovers', () => {
  const { engine, peer } = setup({ maxJobBytes: 1000 });
  const c = peer();
  const first = engine.submit(c.peer, job('f', 'x', { unique: 'u' }));
  assert.ok(first.ok);
  let attached = 1;
  for (;;) {
    const again = engine.submit(c.peer, job('f', 'x', { unique: 'u' }));
    if (!again.ok) {
      assert.equal(again.error.text, 'Job memory budget is full');
      break;
    }
    assert.equal(again.job, first.job, 'coalesced');
    attached++;
    assert.ok(attached < 1000, 'refused long before 1000 attachments');
  }
  assert.ok(attached > 10, `attached ${attached} times`);
  assert.equal(engine.status(first.job.handle).clients, attached, 'every attachment counted, as gearmand does');
  engine.disconnect(c.peer); // the queued job nobody waits for is withdrawn, with its attachments
  assert.equal(engine.memoryBytes, 0);
});

test('the function limit reclaims idle functions first, then refuses', () => {
  const { engine, peer } = setup({ maxFunctions: 2 });
  const c = peer();
  const w = peer();
  engine.canDo(w.peer, 'busy');
  const a = engine.submit(c.peer, job('one'));
  assert.ok(a.ok);
  const refused = engine.submit(c.peer, job('two'));
  assert.equal(!refused.ok && refused.error.text, 'Too many functions');
  engine.disconnect(c.peer); // 'one' is withdrawn and idle now
  assert.ok(engine.submit(peer().peer, job('two')).ok);
});

test('cancel: clients hear WORK_FAIL, a queued job is gone, unknown handles say UNKNOWN_JOB', () => {
  const { engine, peer } = setup();
  const c = peer();
  const r = engine.submit(c.peer, job('f', 'x'));
  assert.ok(r.ok);
  assert.equal(runAdminCommand(engine, `cancel job ${r.job.handle}`, admin), 'OK\r\n');
  assert.deepEqual(c.listener.take(), [`FAIL ${r.job.handle}`]);
  assert.equal(runAdminCommand(engine, `cancel job ${r.job.handle}`, admin), 'ERR UNKNOWN_JOB\r\n');
  assert.equal(runAdminCommand(engine, 'status', admin), 'f\t0\t0\t0\n.\n');
});

test('admin listings are byte-exact', () => {
  const { engine, peer } = setup();
  const c = peer();
  const w = peer();
  engine.setClientId(w.peer, 'worker-1');
  engine.canDo(w.peer, 'a');
  engine.canDo(w.peer, 'b');
  engine.canDo(w.peer, 'a'); // repeated CAN_DO is counted once
  engine.submit(c.peer, job('a', '1', { unique: 'u-1' }));
  engine.submit(undefined, job('b', '2', { background: true, priority: Priority.HIGH }));
  engine.grab(w.peer);
  assert.equal(runAdminCommand(engine, 'status', admin), 'a\t1\t0\t1\nb\t1\t1\t1\n.\n');
  assert.equal(runAdminCommand(engine, 'prioritystatus', admin), 'a\t0\t1\t0\t1\nb\t0\t0\t0\t1\n.\n');
  assert.equal(runAdminCommand(engine, 'workers', admin), `${c.peer.label} 127.0.0.1 - :\n${w.peer.label} 127.0.0.1 worker-1 : b a\n.\n`);
  assert.equal(runAdminCommand(engine, 'show jobs', admin), 'H:t:1\t0\t0\t0\nH:t:2\t0\t0\t0\n.\n');
  assert.equal(runAdminCommand(engine, 'SHOW UNIQUE JOBS', admin), 'u-1\n\n.\n');
  assert.equal(runAdminCommand(engine, 'show nothing', admin), 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n');
  assert.equal(runAdminCommand(engine, 'create function', admin), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n');
  assert.equal(runAdminCommand(engine, 'create function new', admin), 'OK\r\n');
  assert.equal(runAdminCommand(engine, 'drop function new', admin), 'OK\r\n');
  assert.equal(runAdminCommand(engine, 'drop function a', admin), 'ERR there are still connected workers or executing clients\r\n');
  assert.equal(runAdminCommand(engine, 'drop function zzz', admin), 'ERR function not found\r\n');
  assert.equal(runAdminCommand(engine, 'maxqueue', admin), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n');
  // The command word is echoed as sent (gearmand prints the token).
  assert.equal(runAdminCommand(engine, 'MaxQueue', admin), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+MaxQueue\r\n');
  assert.equal(runAdminCommand(engine, 'DROP func x', admin), 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+DROP\r\n');
  assert.equal(runAdminCommand(engine, 'getpid', admin), 'OK 1\n');
  assert.equal(runAdminCommand(engine, 'verbose', admin), 'OK ERROR\n');
  assert.equal(runAdminCommand(engine, 'version', admin), 'OK test\n');
  assert.equal(runAdminCommand(engine, 'foo', admin), 'ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n');
  assert.equal(runAdminCommand(engine, '', admin), 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n');
});

test('maxqueue numbers are read as C atoi reads them', () => {
  assert.deepEqual(maxQueueLimits(['\t2', '+3', '-1']), [2, 3, 0]);
  assert.deepEqual(maxQueueLimits(['02', '2abc']), [2, 2, 0]);
  // A no-break space is not a C blank: no digits first, so 0 (unlimited). Nor are `+-1`, `0x2` hex.
  assert.deepEqual(maxQueueLimits(['\xa02']), [0, 0, 0]);
  assert.deepEqual(maxQueueLimits(['+-1', '0x2', '']), [0, 0, 0]);
});

test('state-changing admin commands are refused to untrusted connections', () => {
  const { engine } = setup();
  const remote = { ...admin, mayChangeState: false };
  for (const line of ['maxqueue f 1', 'cancel job H:t:1', 'drop function f', 'create function f', 'shutdown']) {
    assert.match(runAdminCommand(engine, line, remote), /^ERR PERMISSION_DENIED/);
  }
  assert.match(runAdminCommand(engine, 'status', remote), /\.\n$/);
});

test('durable background jobs are queued and acknowledged only once stored; a store failure refuses', async () => {
  const added: StoredJob[] = [];
  const removed: string[] = [];
  let fail = false;
  const store = {
    add: async (j: StoredJob) => {
      if (fail) throw new Error('disk full');
      added.push(j);
    },
    remove: async (key: string) => {
      removed.push(key);
    },
  };
  const { engine, peer } = setup({ store, bootId: 'boot' });
  const w = peer();
  engine.canDo(w.peer, 'f');
  const r = engine.submit(undefined, job('f', 'x', { background: true, unique: 'k' }));
  assert.ok(r.ok && r.durable);
  assert.equal(engine.grab(w.peer), undefined, 'not runnable before it is stored');
  await r.durable;
  assert.equal(added[0]?.key, 'boot.1');
  const a = engine.grab(w.peer);
  assert.equal(a?.handle, r.job.handle);
  engine.workComplete(w.peer, r.job.handle, Buffer.alloc(0));
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(removed, ['boot.1']);
  fail = true;
  const f = engine.submit(undefined, job('f', 'y', { background: true }));
  assert.ok(f.ok && f.durable);
  await assert.rejects(f.durable, { code: 'QUEUE_ERROR' });
  assert.equal(engine.status(f.job.handle).known, false);
  // Foreground jobs never wait on the store.
  const fg = engine.submit(peer().peer, job('f', 'z'));
  assert.ok(fg.ok && fg.durable === undefined);
});

test('jobs stored by one batch share its outcome: all queued when it commits, all refused with one log line when it fails; keys come from the store when it makes them', async () => {
  // A store that settles every add of a tick with one promise, as group commit does.
  let batch: { done: Promise<void>; settle: (error?: Error) => void } | undefined;
  let nextKey = 41;
  const keys: StoreKey[] = [];
  const store = {
    newKey: () => nextKey++,
    add: (stored: StoredJob) => {
      keys.push(stored.key);
      if (!batch) {
        let resolve!: () => void;
        let reject!: (error: Error) => void;
        const done = new Promise<void>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        batch = { done, settle: (error) => (error ? reject(error) : resolve()) };
      }
      return batch.done;
    },
    remove: async () => undefined,
  };
  const logged: Array<{ message: string; detail?: Record<string, unknown> }> = [];
  const { engine, peer } = setup({ store, log: (_level, message, detail) => logged.push({ message, detail }) });
  const w = peer();
  engine.canDo(w.peer, 'f');
  const first = [1, 2, 3].map((i) => engine.submit(undefined, job('f', `a${i}`, { background: true, unique: '-' })));
  const durables = first.map((r) => (r.ok ? r.durable : undefined));
  assert.ok(durables[0] && durables.every((d) => d === durables[0]), 'one promise for the batch');
  assert.deepEqual(keys, [41, 42, 43]);
  // A coalesced submission of a job still being stored waits on the same batch.
  const again = engine.submit(undefined, job('f', 'a1', { background: true, unique: '-' }));
  assert.ok(again.ok && again.coalesced);
  assert.equal(again.durable, durables[0]);
  batch!.settle();
  batch = undefined;
  await durables[0];
  assert.deepEqual(
    [1, 2, 3].map(() => engine.grab(w.peer)?.handle),
    first.map((r) => r.ok && r.job.handle),
  );
  const second = [4, 5].map((i) => engine.submit(undefined, job('f', `b${i}`, { background: true, unique: `u${i}` })));
  batch!.settle(new Error('disk full'));
  batch = undefined;
  for (const r of second) {
    assert.ok(r.ok && r.durable);
    await assert.rejects(r.durable, { code: 'QUEUE_ERROR' });
    assert.equal(engine.status(r.job.handle).known, false);
  }
  const refusals = logged.filter((entry) => entry.message === 'store refused background jobs');
  assert.equal(refusals.length, 1, 'one line for the batch');
  assert.equal(refusals[0]!.detail!.jobs, 2);
  // Their uniques are free again.
  const retry = engine.submit(undefined, job('f', 'b4', { background: true, unique: 'u4' }));
  assert.ok(retry.ok && !retry.coalesced && retry.durable);
  batch!.settle();
  await retry.durable;
  assert.equal(engine.grab(w.peer)?.handle, retry.job.handle);
});

test('restore re-creates stored jobs in order with their priorities and epochs', () => {
  const { engine, clock, peer } = setup();
  const now = Math.floor(clock.now() / 1000);
  const rows: StoredJob[] = [
    { key: 'a', functionName: 'f', unique: '', data: Buffer.from('n1'), priority: Priority.NORMAL, when: 0, reducer: '' },
    { key: 'b', functionName: 'f', unique: 'u', data: Buffer.from('h1'), priority: Priority.HIGH, when: 0, reducer: '' },
    { key: 'c', functionName: 'f', unique: '', data: Buffer.from('later'), priority: Priority.NORMAL, when: now + 5, reducer: '' },
    { key: 'd', functionName: 'f', unique: '', data: Buffer.from('n2'), priority: Priority.NORMAL, when: 0, reducer: '' },
  ];
  assert.equal(engine.restore(rows), 4);
  const w = peer();
  engine.canDo(w.peer, 'f');
  const order: string[] = [];
  for (let a = engine.grab(w.peer); a; a = engine.grab(w.peer)) order.push(a.data.toString());
  assert.deepEqual(order, ['h1', 'n1', 'n2']);
  clock.advance(5000);
  assert.equal(engine.grab(w.peer)?.data.toString(), 'later');
  assert.equal(engine.statusByUnique('u').known, true);
});

test('a job is found by its handle exactly as issued; other spellings of the number find nothing', () => {
  const { engine, peer } = setup({ handlePrefix: 'H:host:7' });
  const client = peer();
  const submitted = [];
  for (let i = 0; i < 12; i++) {
    const r = engine.submit(client.peer, job('f', `w${i}`));
    assert.ok(r.ok);
    submitted.push(r.job.handle);
  }
  assert.equal(submitted[11], 'H:host:7:12');
  for (const handle of submitted) assert.equal(engine.status(handle).known, true, handle);
  for (const other of ['H:host:7:012', 'H:host:7:+12', 'H:host:7:', 'H:host:7:1 ', 'H:host:7:0', 'H:host:712', 'H:host:8:12', 'h:host:7:12', 'H:host:7:1e1', 'H:host:7:99999999999999999999']) {
    assert.equal(engine.status(other).known, false, other);
  }
  // Gone once finished, and its number is not reused.
  const worker = peer();
  engine.canDo(worker.peer, 'f');
  const assigned = engine.grab(worker.peer)!;
  assert.equal(engine.workComplete(worker.peer, assigned.handle, Buffer.from('ok')), undefined);
  assert.equal(engine.status(assigned.handle).known, false);
  const next = engine.submit(client.peer, job('f', 'again'));
  assert.ok(next.ok);
  assert.equal(next.job.handle, 'H:host:7:13');
});

test('foregroundJobs (what a graceful shutdown waits for) follows every way a job starts and ends', () => {
  const { engine, peer } = setup({ jobRetries: 2 });
  // The definition: foreground jobs, plus background jobs a worker runs.
  const scan = () => engine.jobs.values().filter((j) => !j.background || j.run !== undefined).length;
  const check = (step: string) => assert.equal(engine.foregroundJobs, scan(), step);
  const client = peer();
  const worker = peer();
  engine.canDo(worker.peer, 'f');
  for (let i = 0; i < 3; i++) assert.ok(engine.submit(client.peer, job('f', `fg${i}`)).ok);
  for (let i = 0; i < 3; i++) assert.ok(engine.submit(undefined, job('f', `bg${i}`, { background: true })).ok);
  check('submitted');
  assert.equal(engine.foregroundJobs, 3);
  const grabbed = [engine.grab(worker.peer)!, engine.grab(worker.peer)!, engine.grab(worker.peer)!, engine.grab(worker.peer)!];
  check('four running, one of them background');
  assert.equal(engine.foregroundJobs, 4);
  engine.workComplete(worker.peer, grabbed[0]!.handle, Buffer.from('ok'));
  check('one completed');
  engine.workFail(worker.peer, grabbed[3]!.handle);
  check('the running background job failed');
  engine.disconnect(worker.peer); // the two running jobs are requeued
  check('worker lost');
  const other = peer();
  engine.canDo(other.peer, 'f');
  const again = engine.grab(other.peer)!; // requeued jobs go to the back: a background one
  assert.equal(engine.jobs.get(again.handle)?.background, true);
  assert.ok(engine.cancel(again.handle));
  check('running background job cancelled');
  engine.workComplete(other.peer, again.handle, Buffer.from('late'));
  check('cancelled job finished unheard');
  engine.disconnect(client.peer); // queued foreground jobs are withdrawn
  check('client gone');
  assert.equal(engine.foregroundJobs, 0);
  assert.equal(engine.jobs.size, 1); // the last background job, still queued
});
