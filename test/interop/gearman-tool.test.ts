/**
 * Interop with the `gearman` command-line tool (libgearman 1.1.20) in client and worker mode:
 * foreground and background jobs, -I/-L priorities and -u uniques, on gearmand and Gearport.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnless } from '../helpers/servers.js';
import { runTool, spawnTool } from '../helpers/tools.js';
import { interop, waitForWorkers } from './common.js';

interop('gearman tool', skipUnless('gearman'), (it) => {
  it('worker mode runs a command per job; client mode prints the result (args, stdin, -I, -L, -u)', async (t) => {
    const worker = spawnTool('gearman', [...t.hostArgs, '-w', '-f', 'upper', '-c', '5', '--', 'tr', 'a-z', 'A-Z']);
    try {
      await waitForWorkers(await t.admin(), 'upper', 1);
      const cases: [string[], string, string][] = [
        [['-s', 'hello'], '', 'HELLO'],
        [[], 'from stdin', 'FROM STDIN'],
        [['-I', '-s', 'high'], '', 'HIGH'],
        [['-L', '-s', 'low'], '', 'LOW'],
        [['-u', 'my-unique', '-s', 'unique'], '', 'UNIQUE'],
      ];
      for (const [args, input, expected] of cases) {
        const result = await runTool('gearman', [...t.hostArgs, '-f', 'upper', ...args], { input });
        assert.equal(result.stdout, expected, `gearman ${args.join(' ')}: stderr ${result.stderr}`);
        assert.equal(result.code, 0);
      }
      assert.equal(await worker.exited(), 0, `worker stderr: ${worker.stderr()}`);
      const status = await (await t.admin()).command('status\r\n', 'listing');
      assert.equal(status, 'upper\t0\t0\t0\n.\n');
    } finally {
      await worker.stop();
    }
  });

  it('-b queues background jobs at the -I/-L priority; -u coalesces; a worker takes them in priority order', async (t) => {
    const submits: string[][] = [
      ['-s', 'normal1'],
      ['-L', '-s', 'low1'],
      ['-I', '-s', 'high1'],
      ['-u', 'same', '-s', 'normal2'],
      ['-u', 'same', '-s', 'normal3'], // coalesces onto normal2: discarded
      ['-I', '-s', 'high2'],
    ];
    for (const args of submits) {
      const result = await runTool('gearman', [...t.hostArgs, '-f', 'bg', '-b', ...args]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '');
    }
    const admin = await t.admin();
    assert.equal(await admin.command('prioritystatus\r\n', 'listing'), 'bg\t2\t2\t1\t0\n.\n');
    assert.equal(await admin.command('status\r\n', 'listing'), 'bg\t5\t0\t0\n.\n');
    const uniques = (await admin.command('show unique jobs\r\n', 'listing')).split('\n');
    assert.equal(uniques.filter((u) => u === 'same').length, 1);
    assert.equal(uniques.length, 5 + 2); // libgearman gives the others UUID uniques; '.' and ''

    const dir = await mkdtemp(join(tmpdir(), 'gearport-interop-'));
    const log = join(dir, 'order.log');
    const worker = spawnTool('gearman', [...t.hostArgs, '-w', '-f', 'bg', '-c', '5', '--', 'sh', '-c', `cat >> '${log}'; echo >> '${log}'`]);
    try {
      assert.equal(await worker.exited(), 0, `worker stderr: ${worker.stderr()}`);
      assert.equal(await readFile(log, 'latin1'), 'high1\nhigh2\nnormal1\nnormal2\nlow1\n');
      assert.equal(await admin.command('status\r\n', 'listing'), 'bg\t0\t0\t0\n.\n');
    } finally {
      await worker.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a tool worker is listed by workers and counted by status while connected', async (t) => {
    const worker = spawnTool('gearman', [...t.hostArgs, '-w', '-f', 'listed', '-f', 'also', '--', 'cat']);
    try {
      const admin = await t.admin();
      await waitForWorkers(admin, 'also', 1);
      await waitForWorkers(admin, 'listed', 1);
      const workers = (await admin.command('workers\r\n', 'listing')).replace(/^\d+ /gm, '<fd> ');
      // The tool registers both functions; the listing order of a connection's functions is the
      // server's (newest first on gearmand), so only the set is compared.
      const workerLine = workers.split('\n').find((l) => l.includes(' listed'));
      assert.ok(workerLine === '<fd> 127.0.0.1 - : also listed' || workerLine === '<fd> 127.0.0.1 - : listed also', `workers: ${JSON.stringify(workers)}`);
      const echoed = await runTool('gearman', [...t.hostArgs, '-f', 'also', '-s', 'ping']);
      assert.equal(echoed.stdout, 'ping');
    } finally {
      await worker.stop();
    }
  });
});
