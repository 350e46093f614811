/**
 * Interop with `gearadmin` (gearmand 1.1.20's admin tool): every flag, exact stdout, against
 * gearmand and Gearport. Jobs are set up with the raw scripted peer so handles are known.
 */
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/servers.js';
import { runTool } from '../helpers/tools.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { PacketType as T } from '../../src/protocol/index.js';
import { interop, sortedLines, type InteropContext } from './common.js';

async function gearadmin(t: InteropContext, ...flags: string[]): Promise<{ stdout: string; stderr: string }> {
  const result = await runTool('gearadmin', [...t.hostArgs, ...flags]);
  assert.equal(result.code, 0, `gearadmin ${flags.join(' ')}: ${result.stderr}`);
  return result;
}

/** Submit background jobs and return their handles. */
async function submitBackground(peer: ScriptedPeer, jobs: [number, string, string, string][]): Promise<string[]> {
  const handles: string[] = [];
  for (const [type, fn, unique, data] of jobs) {
    peer.send(type, [fn, unique, data]);
    handles.push((await peer.expect(T.JOB_CREATED)).fields[0]!);
  }
  return handles;
}

interop('gearadmin', skipUnless('gearadmin'), (it) => {
  it('--status, --priority-status, --show-jobs, --show-unique-jobs, --workers', async (t) => {
    const client = await ScriptedPeer.connect(t.server.port, 'client');
    const worker = await ScriptedPeer.connect(t.server.port, 'worker');
    try {
      const handles = await submitBackground(client, [
        [T.SUBMIT_JOB_HIGH_BG, 'alpha', 'u-high', 'a'],
        [T.SUBMIT_JOB_BG, 'alpha', 'u-normal', 'b'],
        [T.SUBMIT_JOB_LOW_BG, 'alpha', 'u-low', 'c'],
        [T.SUBMIT_JOB_BG, 'beta', 'u-beta', 'd'],
      ]);
      worker.send(T.SET_CLIENT_ID, ['tool-worker']);
      worker.send(T.CAN_DO, ['alpha']);
      worker.send(T.GRAB_JOB);
      assert.equal((await worker.expect(T.JOB_ASSIGN)).fields[0], handles[0]);

      assert.deepEqual(sortedLines((await gearadmin(t, '--status')).stdout), ['.', 'alpha\t3\t1\t1', 'beta\t1\t0\t0']);
      assert.deepEqual(sortedLines((await gearadmin(t, '--priority-status')).stdout), ['.', 'alpha\t0\t1\t1\t1', 'beta\t0\t1\t0\t0']);
      assert.deepEqual(
        sortedLines((await gearadmin(t, '--show-jobs')).stdout),
        ['.', ...handles.map((h) => `${h}\t0\t0\t1`)].sort(),
      );
      assert.deepEqual(sortedLines((await gearadmin(t, '--show-unique-jobs')).stdout), ['.', 'u-beta', 'u-high', 'u-low', 'u-normal']);
      const workers = sortedLines((await gearadmin(t, '--workers')).stdout.replace(/^\d+ /gm, '<fd> '));
      // Every connection is listed: our client, our worker and gearadmin's own (spec 2.2).
      assert.deepEqual(workers, ['.', '<fd> 127.0.0.1 - :', '<fd> 127.0.0.1 - :', '<fd> 127.0.0.1 tool-worker : alpha']);
      // The listing ends with '.' exactly as on the wire.
      assert.match((await gearadmin(t, '--status')).stdout, /\n\.\n$/);
    } finally {
      await client.close();
      await worker.close();
    }
  });

  it('--server-version, --server-verbose, --getpid', async (t) => {
    const version = (await gearadmin(t, '--server-version')).stdout;
    assert.match(version, /^\S+\n$/);
    const admin = await t.admin();
    assert.equal(`OK ${version}`, await admin.command('version\r\n', 'line'));
    assert.equal((await gearadmin(t, '--server-verbose')).stdout, 'ERROR\n');
    assert.equal((await gearadmin(t, '--getpid')).stdout, `${t.server.pid}\n`);
  }, { gearport: ['--verbose', 'ERROR'] }); // the gearmand helper already passes --verbose ERROR

  it('--cancel-job: attached client hears WORK_FAIL; unknown job reports UNKNOWN_JOB', async (t) => {
    const client = await ScriptedPeer.connect(t.server.port, 'client');
    try {
      client.send(T.SUBMIT_JOB, ['f', '', 'x']);
      const handle = (await client.expect(T.JOB_CREATED)).fields[0]!;
      assert.equal((await gearadmin(t, '--cancel-job', handle)).stdout, 'OK\n');
      const fail = await client.expect(T.WORK_FAIL);
      assert.equal(fail.fields[0], handle);
      const unknown = await gearadmin(t, '--cancel-job', 'H:nohost:999');
      assert.equal(unknown.stdout, '');
      assert.match(unknown.stderr, /UNKNOWN_JOB/);
    } finally {
      await client.close();
    }
  });

  it('--create-function and --drop-function', async (t) => {
    assert.equal((await gearadmin(t, '--create-function', 'made')).stdout, 'OK\n');
    assert.equal((await gearadmin(t, '--status')).stdout, 'made\t0\t0\t0\n.\n');
    assert.equal((await gearadmin(t, '--drop-function', 'made')).stdout, 'OK\n');
    assert.equal((await gearadmin(t, '--status')).stdout, '.\n');
    const missing = await gearadmin(t, '--drop-function', 'made');
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /function not found/);
  });
});
