import { describe, test, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Admin, Client, Worker } from '../../src/client/index.js';
import { skipUnless } from '../helpers/servers.js';
import { Resources, suiteServer, addressOf, eventually, gate, serverKinds, skipKind } from './fixtures.js';

const run = promisify(execFile);

for (const kind of serverKinds) {
  describe(`interop with libgearman tools against ${kind}`, { skip: skipKind(kind) }, () => {
    const res = new Resources();
    afterEach(() => res.dispose());
    const shared = suiteServer(kind, { before, after });

    async function serverWithWorker() {
      const server = shared();
      const worker = res.add(new Worker({ servers: [addressOf(server)], concurrency: 2 }), (w) => w.close());
      const seen: { unique: string; workload: string }[] = [];
      await worker.register('ts_upper', (job) => {
        seen.push({ unique: job.unique, workload: job.text });
        job.status(1, 1);
        return job.text.toUpperCase();
      });
      await worker.start();
      return { server, worker, seen };
    }

    test('our worker serves jobs from PHP GearmanClient', { skip: skipUnless('php') }, async () => {
      const { server, seen } = await serverWithWorker();
      const script = `
        $c = new GearmanClient();
        $c->addServer("127.0.0.1", ${server.port});
        $r = $c->doNormal("ts_upper", "from php", "php-unique-1");
        if ($c->returnCode() != GEARMAN_SUCCESS) { fwrite(STDERR, $c->error()); exit(1); }
        echo $r, "\\n";
        $h = $c->doBackground("ts_upper", "php background");
        echo $c->returnCode() == GEARMAN_SUCCESS ? "queued" : "failed", "\\n";
      `;
      const { stdout } = await run('php', ['-r', script], { timeout: 20_000 });
      assert.deepEqual(stdout.trim().split('\n'), ['FROM PHP', 'queued']);
      await eventually(() => seen.length === 2);
      assert.deepEqual(seen[0], { unique: 'php-unique-1', workload: 'from php' });
      assert.equal(seen[1]!.workload, 'php background');
    });

    test('our worker serves jobs from the gearman command-line client', { skip: skipUnless('gearman') }, async () => {
      const { server, seen } = await serverWithWorker();
      const { stdout } = await run('gearman', ['-h', '127.0.0.1', '-p', String(server.port), '-f', 'ts_upper', '-u', 'cli-1', 'from the cli'], {
        timeout: 20_000,
      });
      // The tool prints the result, then the WORK_STATUS it saw as a percentage.
      assert.equal(stdout, 'FROM THE CLI100% Complete\n');
      assert.deepEqual(seen, [{ unique: 'cli-1', workload: 'from the cli' }]);
    });

    test('our client calls a worker run by the gearman tool', { skip: skipUnless('gearman') }, async () => {
      const server = shared();
      const child = spawn('gearman', ['-w', '-h', '127.0.0.1', '-p', String(server.port), '-f', 'cli_rev', '--', 'rev'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = gate();
      child.on('exit', () => exited.open());
      res.add(child, async (c) => {
        if (c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
          await exited.promise;
        }
      });
      const admin = res.add(new Admin(addressOf(server)), (a) => a.close());
      await eventually(async () => (await admin.status()).some((s) => s.name === 'cli_rev' && s.workers > 0), 10_000, 'gearman -w registered');
      const client = res.add(new Client({ servers: [addressOf(server)] }), (c) => c.close());
      assert.equal(await client.submit('cli_rev', 'hello gearman\n', { timeoutMs: 10_000 }).text(), 'namraeg olleh\n');
      assert.equal(await client.submit('cli_rev', 'abc\n', { timeoutMs: 10_000 }).text(), 'cba\n');
    });
  });
}
