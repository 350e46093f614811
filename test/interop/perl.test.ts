/**
 * Interop with Perl's pure-Perl Gearman::Client and Gearman::Worker (Debian's
 * libgearman-client-perl 2.004.015): an implementation of the protocol of its own, not libgearman.
 * Client: do_task, dispatch_background, get_status, task sets with callbacks, priorities and
 * uniq coalescing, client-side retries; Worker: register_function (with a timeout), work with
 * on_start/on_complete/on_fail/stop_if, set_status, a handler that dies, a process killed
 * mid-job. Scripts are written to a temp dir and run with bounded time against gearmand and
 * Gearport; the assertions are what the Perl side prints.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnless } from '../helpers/servers.js';
import { runTool, spawnTool, type SpawnedTool, type ToolResult } from '../helpers/tools.js';
import type { AdminPeer } from '../helpers/scripted-peer.js';
import { interop, sortedLines, waitForWorkers } from './common.js';

/** perl must be installed with Gearman::Client and Gearman::Worker; in CI a missing one fails. */
function skipUnlessPerlGearman(): string | false {
  const missing = skipUnless('perl');
  if (missing) return missing;
  try {
    execFileSync('perl', ['-MGearman::Client', '-MGearman::Worker', '-e1'], { stdio: 'ignore', timeout: 15_000 });
    return false;
  } catch {
    if (process.env.CI === 'true') throw new Error('perl has no Gearman::Client (libgearman-client-perl), required in CI');
    return 'perl has no Gearman::Client (libgearman-client-perl)';
  }
}

// The scripts are String.raw, so they hold no `${` and no backquote.
const WORKER_PL = String.raw`# usage: worker.pl <port> <jobs> [<marker file>]: does <jobs> jobs, then stop_if ends work()
use strict; use warnings;
use Gearman::Worker;
$| = 1;
my ($port, $jobs, $marker) = @ARGV;
my $w = Gearman::Worker->new(job_servers => ["127.0.0.1:$port"]);
my $done = 0;
$w->register_function(perl_rev => sub {
  my $job = shift;
  $w->send_work_data($job, 'd:' . $job->arg);
  $job->set_status(1, 2);
  $w->send_work_warning($job, 'w!');
  return scalar reverse $job->arg;
});
$w->register_function(perl_fail => sub { return undef });
$w->register_function(perl_die => sub { die "boom\n" });
$w->register_function(perl_order => sub { print 'job: ', $_[0]->arg, "\n"; return 'ok ' . $_[0]->arg });
$w->register_function(perl_slow => sub {
  my $job = shift;
  $job->set_status(1, 4);
  select(undef, undef, undef, 1.5);
  $job->set_status(3, 4);
  select(undef, undef, undef, 0.3);
  return 'slow done';
});
# The first attempt (no marker file yet) kills this worker mid-job; a later one completes.
$w->register_function(perl_kill => sub {
  my $job = shift;
  if (!-e $marker) {
    open(my $fh, '>', $marker) or die "marker: $!";
    close $fh;
    $job->set_status(1, 3);
    print "killing myself\n";
    kill 'KILL', $$;
    sleep 5;
  }
  return 'survived ' . $job->arg;
});
# CAN_DO_TIMEOUT of 1 s; the handler runs 2 s.
$w->register_function(perl_timeout => 1, sub { sleep 2; return 'too late' });
print "registered\n";
$w->work(
  on_start => sub { print 'on_start: ', ($_[0] =~ m{^127\.0\.0\.1:\d+//H:\S+:\d+$} ? 'host:port//handle' : $_[0]), "\n" },
  on_complete => sub { $done++; print "on_complete: $_[1]\n" },
  on_fail => sub { $done++; my $e = defined $_[1] ? $_[1] : 'undef'; chomp $e; print "on_fail: $e\n" },
  stop_if => sub { return $done >= $jobs },
);
print "worker done\n";
`;

const CLIENT_PL = String.raw`# usage: client.pl <port> <mode>
use strict; use warnings;
use Gearman::Client;
use Storable ();
$| = 1;
my ($port, $mode) = @ARGV;
my $c = Gearman::Client->new(job_servers => ["127.0.0.1:$port"], exceptions => ($mode eq 'exceptions' ? 1 : 0));
sub show { my $r = shift; !defined $r ? 'undef' : ref $r eq 'ARRAY' ? '[' . join(',', @$r) . ']' : ref $r ? "'$$r'" : "'$r'" }
sub st { my $s = shift; 'known=' . $s->known . ' running=' . $s->running . ' percent=' . show($s->percent) . ' progress=' . show($s->progress) }
sub handle_shape { my $h = shift; defined $h && $h =~ m{^127\.0\.0\.1:\d+//H:\S+:\d+$} ? 'host:port//handle' : show($h) }
# Poll get_status (bounded) until the condition holds; returns the last status.
sub poll { my ($h, $until) = @_; my $deadline = time + 15; my $s; do { select(undef, undef, undef, 0.05); $s = $c->get_status($h) } until ($until->($s) || time > $deadline); $s }
if ($mode eq 'do') {
  print 'do_task: ', show($c->do_task(perl_rev => 'abc')), "\n";
  print 'do_task uniq: ', show($c->do_task(perl_rev => 'xyz', { uniq => 'u1' })), "\n";
  print 'do_task fail: ', show($c->do_task(perl_fail => 'x', { on_fail => sub { print "on_fail: $_[0]\n" } })), "\n";
} elsif ($mode eq 'die' || $mode eq 'exceptions') {
  print 'do_task die: ', show($c->do_task(perl_die => 'x', {
    on_fail => sub { print "on_fail: $_[0]\n" },
    on_exception => sub { my $e = Storable::thaw($_[0]); print 'on_exception: ', show($e); },
  })), "\n";
} elsif ($mode eq 'background') {
  my $h = $c->dispatch_background(perl_nobody => 'bg', { uniq => 'perl-unique' });
  print 'handle: ', handle_shape($h), "\n";
  print 'status: ', st($c->get_status($h)), "\n";
  my $again = $c->dispatch_background(perl_nobody => 'other', { uniq => 'perl-unique' });
  print 'same uniq: ', ($again eq $h ? 'same handle' : 'new handle'), "\n";
  my $other = $c->dispatch_background(perl_nobody => 'other', { uniq => 'perl-other' });
  print 'other uniq: ', ($other eq $h ? 'same handle' : 'new handle'), "\n";
  (my $unknown = $h) =~ s/:\d+$/:999999/;
  print 'unknown: ', st($c->get_status($unknown)), "\n";
  my ($server) = values %{ $c->get_job_server_status };
  print 'server status: ', join(' ', map { "$_=" . join('/', @{ $server->{$_} }{qw(queued running capable)}) } sort keys %$server), "\n";
} elsif ($mode eq 'running') {
  my $h = $c->dispatch_background(perl_slow => 'bg');
  print 'running: ', st(poll($h, sub { !$_[0]->known || ($_[0]->progress && $_[0]->progress->[0] == 1) })), "\n";
  print 'done: ', st(poll($h, sub { !$_[0]->known })), "\n";
} elsif ($mode eq 'timeout') {
  my $h = $c->dispatch_background(perl_timeout => 't');
  print 'running: ', st(poll($h, sub { $_[0]->running })), "\n";
  print 'requeued: ', st(poll($h, sub { !$_[0]->running })), "\n";
} elsif ($mode eq 'priorities') {
  my $ts = $c->new_task_set;
  for my $t (['low', 'low1'], ['normal', 'normal1'], ['high', 'high1'], ['normal', 'normal2'], ['low', 'low2'], ['high', 'high2']) {
    my ($prio, $arg) = @$t;
    $ts->add_task(perl_order => $arg, { priority => $prio, on_complete => sub { my ($r) = @_; print "complete: $$r\n" } });
  }
  print "submitted\n";
  $ts->wait(timeout => 25);
  print "wait done\n";
} elsif ($mode eq 'callbacks') {
  my %log;
  my $ts = $c->new_task_set;
  for my $t (['perl_rev', 'abc'], ['perl_fail', 'f'], ['perl_slow', 's']) {
    my ($f, $arg) = @$t;
    my $l = $log{$f} = [];
    $ts->add_task($f => $arg, {
      on_complete => sub { my ($r) = @_; push @$l, "complete $$r" },
      on_fail => sub { push @$l, "fail $_[0]" },
      on_data => sub { my ($r) = @_; push @$l, "data $$r" },
      on_warning => sub { my ($r) = @_; push @$l, "warning $$r" },
      on_status => sub { push @$l, "status $_[0]/$_[1]" },
    });
  }
  $ts->wait(timeout => 25);
  print "$_: ", join(', ', @{ $log{$_} }), "\n" for sort keys %log;
} elsif ($mode eq 'coalesce') {
  my $ts = $c->new_task_set;
  my @h;
  for my $arg ('first', 'second') {
    push @h, $ts->add_task(perl_order => $arg, { uniq => 'same', on_complete => sub { my ($r) = @_; print "complete $arg: $$r\n" } });
  }
  print 'handles: ', ($h[0] eq $h[1] ? 'same' : 'different'), "\n";
  $ts->wait(timeout => 25);
} elsif ($mode eq 'retry') {
  my $r = $c->do_task(perl_fail => 'r', { retry_count => 2, on_retry => sub { print "on_retry: $_[0]\n" }, on_fail => sub { print "on_fail: $_[0]\n" } });
  print 'do_task retry: ', show($r), "\n";
} elsif ($mode eq 'kill') {
  my $r = $c->do_task(perl_kill => 'k', { on_fail => sub { print "on_fail: $_[0]\n" }, on_status => sub { print "on_status: $_[0]/$_[1]\n" } });
  print 'do_task kill: ', show($r), "\n";
} else {
  die "unknown mode $mode\n";
}
`;

/** Wait until `status` shows `queued` jobs of `fn` (a separate client process has submitted). */
async function waitForQueued(admin: AdminPeer, fn: string, queued: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = await admin.command('status\r\n', 'listing');
    const line = last.split('\n').find((l) => l.startsWith(`${fn}\t`));
    if (line !== undefined && Number(line.split('\t')[1]) >= queued) return;
    if (Date.now() > deadline) throw new Error(`no ${queued} queued job(s) of ${fn} within ${timeoutMs} ms; status: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Wait until a running tool has printed `text` (bounded). */
async function waitForOutput(tool: SpawnedTool, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!tool.stdout().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(text)} within ${timeoutMs} ms; stdout ${JSON.stringify(tool.stdout())} stderr ${JSON.stringify(tool.stderr())}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interop('perl Gearman::Client and Gearman::Worker', skipUnlessPerlGearman(), (it) => {
  /**
   * Write the scripts to a temp dir and hand `run` a one-shot client (`client.pl <mode>`, run to
   * its end), a worker starter (`worker.pl <jobs>`) and a client starter for a client that runs
   * alongside the test; every process started is stopped by its own handle afterwards.
   */
  async function withScripts(
    port: number,
    run: (client: (mode: string) => Promise<ToolResult>, worker: (jobs: number) => SpawnedTool, spawnClient: (mode: string) => SpawnedTool) => Promise<void>,
  ): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'gearport-perl-'));
    const started: SpawnedTool[] = [];
    try {
      await writeFile(join(dir, 'worker.pl'), WORKER_PL);
      await writeFile(join(dir, 'client.pl'), CLIENT_PL);
      await run(
        (mode) => runTool('perl', [join(dir, 'client.pl'), String(port), mode], { timeoutMs: 30_000 }),
        (jobs) => {
          const w = spawnTool('perl', [join(dir, 'worker.pl'), String(port), String(jobs), join(dir, 'kill-marker')]);
          started.push(w);
          return w;
        },
        (mode) => {
          const c = spawnTool('perl', [join(dir, 'client.pl'), String(port), mode]);
          started.push(c);
          return c;
        },
      );
    } finally {
      for (const p of started) await p.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('do_task: results (with and without uniq), a WORK_FAIL to on_fail; worker on_start/on_complete/on_fail, stop_if', async (t) => {
    await withScripts(t.server.port, async (client, spawnWorker) => {
      const worker = spawnWorker(3);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = await client('do');
      assert.equal(c.stderr, '');
      assert.equal(c.stdout, "do_task: 'cba'\ndo_task uniq: 'zyx'\non_fail: jshandle fail\ndo_task fail: undef\n");
      assert.equal(await worker.exited(20_000), 0, worker.stderr());
      assert.equal(
        worker.stdout(),
        [
          'registered',
          'on_start: host:port//handle',
          'on_complete: cba',
          'on_start: host:port//handle',
          'on_complete: zyx',
          'on_start: host:port//handle',
          // Gearman::Worker passes $@ to on_fail: empty when the handler returned undef.
          'on_fail: ',
          'worker done',
          '',
        ].join('\n'),
      );
    });
  });

  it('dispatch_background: handle, get_status of a queued and an unknown job, uniq coalescing, get_job_server_status', async (t) => {
    await withScripts(t.server.port, async (client) => {
      const c = await client('background');
      assert.equal(c.stderr, '');
      assert.equal(
        c.stdout,
        [
          'handle: host:port//handle',
          // STATUS_RES 1 0 0 0: JobStatus reports progress [0,0] and no percent (0/0).
          'status: known=1 running=0 percent=undef progress=[0,0]',
          'same uniq: same handle',
          'other uniq: new handle',
          'unknown: known=0 running=0 percent=undef progress=[0,0]',
          'server status: perl_nobody=2/0/0',
          '',
        ].join('\n'),
      );
      assert.equal(await (await t.admin()).command('status\r\n', 'listing'), 'perl_nobody\t2\t0\t0\n.\n');
    });
  });

  it('get_status of a running background job shows set_status progress, then unknown once done', async (t) => {
    await withScripts(t.server.port, async (client, spawnWorker) => {
      const worker = spawnWorker(1);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = await client('running');
      assert.equal(c.stderr, '');
      assert.equal(c.stdout, "running: known=1 running=1 percent='0.25' progress=[1,4]\ndone: known=0 running=0 percent=undef progress=[0,0]\n");
      assert.equal(await worker.exited(20_000), 0, worker.stderr());
      assert.match(worker.stdout(), /on_complete: slow done\nworker done\n$/);
    });
  });

  it('a task set across priorities: six tasks in flight, the worker takes HIGH, NORMAL, LOW (FIFO within each)', async (t) => {
    await withScripts(t.server.port, async (_client, spawnWorker, spawnClient) => {
      const c = spawnClient('priorities');
      await waitForQueued(await t.admin(), 'perl_order', 6);
      const worker = spawnWorker(6);
      assert.equal(await c.exited(30_000), 0, c.stderr());
      assert.equal(c.stderr(), '');
      const order = ['high1', 'high2', 'normal1', 'normal2', 'low1', 'low2'];
      assert.equal(c.stdout(), ['submitted', ...order.map((a) => `complete: ok ${a}`), 'wait done', ''].join('\n'));
      assert.equal(await worker.exited(20_000), 0, worker.stderr());
      assert.deepEqual(
        worker.stdout().split('\n').filter((l) => l.startsWith('job: ')),
        order.map((a) => `job: ${a}`),
      );
    });
  });

  it('a task set with three jobs in flight: on_data, on_status, on_warning, on_complete and on_fail per task', async (t) => {
    await withScripts(t.server.port, async (client, spawnWorker) => {
      const worker = spawnWorker(3);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = await client('callbacks');
      assert.equal(c.stderr, '');
      assert.equal(
        c.stdout,
        [
          'perl_fail: fail jshandle fail',
          'perl_rev: data d:abc, status 1/2, warning w!, complete cba',
          'perl_slow: status 1/4, status 3/4, complete slow done',
          '',
        ].join('\n'),
      );
      assert.equal(await worker.exited(20_000), 0, worker.stderr());
      // Which of the queued perl_fail / perl_slow the worker takes first differs (gearmand
      // picks by function, newest registration first; Gearport by age: README row 2), so
      // the worker's lines are compared as a set.
      assert.deepEqual(
        worker.stdout().split('\n').filter((l) => l.startsWith('on_complete') || l.startsWith('on_fail')).sort(),
        ['on_complete: cba', 'on_complete: slow done', 'on_fail: '],
      );
    });
  });

  it('two tasks of one task set with the same uniq coalesce: one job, both tasks complete with its result', async (t) => {
    await withScripts(t.server.port, async (_client, spawnWorker, spawnClient) => {
      // No worker until both are submitted: a worker already waiting could finish the first
      // job before the second submission, which then makes a job of its own.
      const c = spawnClient('coalesce');
      await waitForOutput(c, 'handles: ');
      assert.deepEqual(sortedLines(await (await t.admin()).command('status\r\n', 'listing')), ['.', 'perl_order\t1\t0\t0']);
      const worker = spawnWorker(1);
      assert.equal(await c.exited(30_000), 0, c.stderr());
      assert.equal(c.stderr(), '');
      assert.equal(c.stdout(), 'handles: same\ncomplete first: ok first\ncomplete second: ok first\n');
      assert.equal(await worker.exited(20_000), 0, worker.stderr());
      assert.equal(worker.stdout(), 'registered\non_start: host:port//handle\njob: first\non_complete: ok first\nworker done\n');
    });
  });

  it('retry_count: the client resubmits after each WORK_FAIL (on_retry 1, 2), then on_fail', async (t) => {
    await withScripts(t.server.port, async (client, spawnWorker) => {
      const worker = spawnWorker(3);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = await client('retry');
      assert.equal(c.stderr, '');
      assert.equal(c.stdout, 'on_retry: 1\non_retry: 2\non_fail: jshandle fail\ndo_task retry: undef\n');
      assert.equal(await worker.exited(20_000), 0, worker.stderr());
      assert.equal(worker.stdout().split('\n').filter((l) => l === 'on_fail: ').length, 3);
    });
  });

  it('a handler that dies, client with exceptions: on_exception gets the worker\'s frozen error; the worker dies on JOB_NOT_FOUND', async (t) => {
    await withScripts(t.server.port, async (client, spawnWorker) => {
      const worker = spawnWorker(2);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = await client('exceptions');
      assert.equal(c.stderr, '');
      // OPTION_REQ exceptions: WORK_EXCEPTION reaches the client, which ends the task
      // without on_fail; the payload is what the worker froze with Storable.
      assert.equal(c.stdout, "on_exception: 'boom\n'do_task die: undef\n");
      // Gearman::Worker sends WORK_EXCEPTION and then WORK_FAIL for a handler that dies. Both
      // servers end the job at WORK_EXCEPTION and answer the WORK_FAIL with ERROR
      // JOB_NOT_FOUND, which the worker reads at its next GRAB_JOB and dies of.
      assert.equal(await worker.exited(20_000), 255);
      assert.equal(worker.stdout(), 'registered\non_start: host:port//handle\non_fail: boom\n');
      assert.equal(worker.stderr(), "Job 'perl_die' died: boom\nunexpected packet type: error [JOB_NOT_FOUND -- Job given in work result not found]\n");
    });
  });

  it('a handler that dies, client without exceptions: WORK_FAIL to on_fail (gearmand: a handle with a NUL the client cannot match)', async (t) => {
    await withScripts(t.server.port, async (client, spawnWorker) => {
      const worker = spawnWorker(2);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = await client('die');
      if (t.kind === 'gearmand') {
        // gearmand 1.1.20 turns WORK_EXCEPTION into WORK_FAIL with payload handle + NUL
        // (README compatibility row 4); Gearman::Client looks the handle up with the NUL and
        // croaks out of do_task.
        assert.equal(c.stdout, '');
        assert.match(c.stderr, /^Job server failure: Got work_fail for unknown handle: H:\S+:\d+\0 at /);
        assert.notEqual(c.code, 0);
      } else {
        // Gearport's WORK_FAIL payload is the handle alone, as every other WORK_FAIL.
        assert.equal(c.stderr, '');
        assert.equal(c.stdout, 'on_fail: jshandle fail\ndo_task die: undef\n');
      }
      assert.equal(await worker.exited(20_000), 255);
      assert.match(worker.stderr(), /unexpected packet type: error \[JOB_NOT_FOUND -- Job given in work result not found\]\n$/);
    });
  });

  it('a worker killed mid-job: the job is requeued and the next worker completes it (on_status from the first attempt)', async (t) => {
    await withScripts(t.server.port, async (_client, spawnWorker, spawnClient) => {
      const first = spawnWorker(1);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = spawnClient('kill');
      assert.equal(await first.exited(20_000), null, 'killed by SIGKILL');
      assert.equal(first.stdout(), 'registered\non_start: host:port//handle\nkilling myself\n');
      const second = spawnWorker(1);
      assert.equal(await c.exited(30_000), 0, c.stderr());
      assert.equal(c.stderr(), '');
      assert.equal(c.stdout(), "on_status: 1/3\ndo_task kill: 'survived k'\n");
      assert.equal(await second.exited(20_000), 0, second.stderr());
      assert.equal(second.stdout(), 'registered\non_start: host:port//handle\non_complete: survived k\nworker done\n');
    });
  });

  it('a worker killed mid-job with --job-retries 1: the job fails, the client\'s on_fail runs', async (t) => {
    await withScripts(t.server.port, async (client, spawnWorker) => {
      const worker = spawnWorker(1);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = await client('kill');
      assert.equal(c.stderr, '');
      assert.equal(c.stdout, 'on_status: 1/3\non_fail: jshandle fail\ndo_task kill: undef\n');
      assert.equal(await worker.exited(20_000), null, 'killed by SIGKILL');
      // Nothing left queued or running.
      const status = sortedLines(await (await t.admin()).command('status\r\n', 'listing'));
      assert.deepEqual(status.filter((l) => l.startsWith('perl_kill\t')), ['perl_kill\t0\t0\t0']);
    });
  }, ['--job-retries', '1']);

  it('register_function with a timeout (CAN_DO_TIMEOUT): a job past it is requeued, the late WORK_COMPLETE refused and the worker dies', async (t) => {
    await withScripts(t.server.port, async (client, spawnWorker) => {
      // Two jobs, so that work() goes on to GRAB_JOB after the late result and reads the reply.
      const worker = spawnWorker(2);
      await waitForWorkers(await t.admin(), 'perl_timeout', 1);
      const c = await client('timeout');
      assert.equal(c.stderr, '');
      assert.equal(c.stdout, 'running: known=1 running=1 percent=undef progress=[0,0]\nrequeued: known=1 running=0 percent=undef progress=[0,0]\n');
      assert.equal(await worker.exited(20_000), 255);
      assert.equal(worker.stdout(), 'registered\non_start: host:port//handle\non_complete: too late\n');
      assert.equal(worker.stderr(), 'unexpected packet type: error [JOB_NOT_FOUND -- Job given in work result not found]\n');
    });
  });
});
