/**
 * Interop with PHP's gearman extension (pecl gearman 2.x on libgearman 1.1.20): GearmanClient
 * do* calls, background jobs and jobStatus, task callbacks; GearmanWorker addFunction/work.
 * Scripts are written to a temp dir and run with bounded time against gearmand and Gearport.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnless } from '../helpers/servers.js';
import { runTool, spawnTool } from '../helpers/tools.js';
import { interop, waitForWorkers } from './common.js';

/** php must be installed with the gearman extension loaded; in CI a missing one fails. */
function skipUnlessPhpGearman(): string | false {
  const missing = skipUnless('php');
  if (missing) return missing;
  const modules = execFileSync('php', ['-m'], { encoding: 'latin1', timeout: 15_000 });
  if (/^gearman$/m.test(modules)) return false;
  if (process.env.CI === 'true') throw new Error('php has no gearman extension (php -m), required in CI');
  return 'php has no gearman extension';
}

const WORKER_PHP = `<?php
// usage: worker.php <port> <jobs>
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)$argv[1]);
$w->setTimeout(20000);
$w->addFunction('php_rev', function (GearmanJob $job) {
  $job->sendData('d:' . $job->workload());
  $job->sendStatus(1, 2);
  $job->sendWarning('w!');
  return strrev($job->workload());
});
$w->addFunction('php_fail', function (GearmanJob $job) { $job->sendFail(); return null; });
$w->addFunction('php_exc', function (GearmanJob $job) { $job->sendException('bad thing'); return null; });
$w->addFunction('php_order', function (GearmanJob $job) { echo $job->workload(), "\\n"; return 'ok'; });
for ($i = 0; $i < (int)$argv[2]; $i++) {
  if (!$w->work()) { fwrite(STDERR, 'work failed: ' . $w->error() . "\\n"); exit(2); }
}
echo "worker done\\n";
`;

const CLIENT_PHP = `<?php
// usage: client.php <port> <mode>
$c = new GearmanClient();
$c->addServer('127.0.0.1', (int)$argv[1]);
$c->setTimeout(20000);
switch ($argv[2]) {
case 'do':
  echo json_encode($c->doNormal('php_rev', 'abc')), ' ', $c->returnCode(), "\\n";
  echo json_encode($c->doHigh('php_rev', 'high')), ' ', $c->returnCode(), "\\n";
  echo json_encode($c->doLow('php_rev', 'low')), ' ', $c->returnCode(), "\\n";
  break;
case 'background':
  $h = $c->doBackground('php_nobody', 'bg', 'php-unique');
  echo json_encode($c->jobStatus($h)), "\\n";
  $again = $c->doBackground('php_nobody', 'other data', 'php-unique');
  echo $again === $h ? "coalesced\\n" : "new job\\n";
  echo json_encode($c->jobStatus('H:nohost:999')), "\\n";
  break;
case 'order':
  $c->doLowBackground('php_order', 'low');
  $c->doBackground('php_order', 'normal');
  $c->doHighBackground('php_order', 'high');
  echo $c->returnCode(), "\\n";
  break;
case 'tasks':
  $c->setExceptionCallback(function ($t) { echo 'exception: ', $t->data(), "\\n"; });
  $c->setFailCallback(function ($t) { echo 'fail: ', $t->functionName(), "\\n"; });
  $c->setDataCallback(function ($t) { echo 'data: ', $t->data(), "\\n"; });
  $c->setWarningCallback(function ($t) { echo 'warning: ', $t->data(), "\\n"; });
  $c->setStatusCallback(function ($t) { echo 'status: ', $t->taskNumerator(), '/', $t->taskDenominator(), "\\n"; });
  $c->setCompleteCallback(function ($t) { echo 'complete: ', $t->data(), "\\n"; });
  // One task per runTasks, so the callback order does not depend on worker scheduling.
  foreach ([['php_rev', 'task1'], ['php_fail', 'x'], ['php_exc', 'y']] as [$fn, $data]) {
    $c->addTask($fn, $data);
    $ok = $c->runTasks();
    echo 'run: ', json_encode($ok), "\\n";
  }
  break;
}
`;

interop('php gearman extension', skipUnlessPhpGearman(), (it) => {
  async function withScripts(run: (dir: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'gearport-php-'));
    try {
      await writeFile(join(dir, 'worker.php'), WORKER_PHP);
      await writeFile(join(dir, 'client.php'), CLIENT_PHP);
      await run(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('doNormal, doHigh, doLow with a PHP worker (data + result, return code 0)', async (t) => {
    await withScripts(async (dir) => {
      const worker = spawnTool('php', [join(dir, 'worker.php'), String(t.server.port), '3']);
      try {
        await waitForWorkers(await t.admin(), 'php_rev', 1);
        const client = await runTool('php', [join(dir, 'client.php'), String(t.server.port), 'do'], { timeoutMs: 30_000 });
        assert.equal(client.stderr, '');
        // The extension's do* calls return WORK_DATA chunks followed by the result.
        assert.equal(client.stdout, '"d:abccba" 0\n"d:highhgih" 0\n"d:lowwol" 0\n');
        assert.equal(await worker.exited(20_000), 0, worker.stderr());
        assert.equal(worker.stdout(), 'worker done\n');
      } finally {
        await worker.stop();
      }
    });
  });

  it('doBackground with a unique coalesces; jobStatus of queued and unknown jobs', async (t) => {
    await withScripts(async (dir) => {
      const client = await runTool('php', [join(dir, 'client.php'), String(t.server.port), 'background'], { timeoutMs: 30_000 });
      assert.equal(client.stderr, '');
      assert.equal(client.stdout, '[true,false,0,0]\ncoalesced\n[false,false,0,0]\n');
      assert.equal(await (await t.admin()).command('status\r\n', 'listing'), 'php_nobody\t1\t0\t0\n.\n');
    });
  });

  it('background priorities: a PHP worker takes HIGH, NORMAL, LOW', async (t) => {
    await withScripts(async (dir) => {
      const client = await runTool('php', [join(dir, 'client.php'), String(t.server.port), 'order'], { timeoutMs: 30_000 });
      assert.equal(client.stdout, '0\n', client.stderr);
      const worker = spawnTool('php', [join(dir, 'worker.php'), String(t.server.port), '3']);
      try {
        assert.equal(await worker.exited(20_000), 0, worker.stderr());
        assert.equal(worker.stdout(), 'high\nnormal\nlow\nworker done\n');
      } finally {
        await worker.stop();
      }
    });
  });

  it('addTask/runTasks: data, status, warning, complete, fail and exception callbacks', async (t) => {
    await withScripts(async (dir) => {
      const worker = spawnTool('php', [join(dir, 'worker.php'), String(t.server.port), '3']);
      try {
        await waitForWorkers(await t.admin(), 'php_exc', 1);
        const client = await runTool('php', [join(dir, 'client.php'), String(t.server.port), 'tasks'], { timeoutMs: 30_000 });
        assert.equal(client.stderr, '');
        assert.equal(
          client.stdout,
          [
            'data: d:task1',
            'status: 1/2',
            'warning: w!',
            'complete: 1ksat',
            'run: true',
            'fail: php_fail',
            'run: true',
            // The extension asks for the exceptions option, so it gets WORK_EXCEPTION.
            'exception: bad thing',
            'run: true',
            '',
          ].join('\n'),
        );
        assert.equal(await worker.exited(20_000), 0, worker.stderr());
      } finally {
        await worker.stop();
      }
    });
  });
});
