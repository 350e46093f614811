/**
 * A background job's JOB_CREATED waits for the durable store, and every reply after it on the
 * same connection waits behind it (GearSession's held replies). Against a real server and its
 * real SQLite file: a trigger added to that file refuses one workload, so the one transaction
 * that holds it fails and every job of it is answered ERROR, in order, before the ECHO_RES
 * sent behind them; a later batch on the same connection is acknowledged again. And against
 * the real PostgreSQL with the queue table locked: a foreground job's WORK_* wait behind its
 * own JOB_CREATED, which waits behind an earlier background job's store write.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { conninfoToPoolConfig } from '../../src/store/index.js';
import { PacketType as T, encodeRequest } from '../../src/protocol/index.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { PG_CONNINFO, dropPgTables, skipUnlessListening, uniqueName } from '../store/helpers.js';

const FN = 'held-replies';
const dir = mkdtempSync(join(tmpdir(), 'gearport-held-'));
let server: RunningServer;

before(async () => {
  server = await startGearport({ args: ['--data-dir', dir] });
  const db = new Database(join(dir, 'gearport.sqlite'));
  db.exec(`CREATE TRIGGER poison BEFORE INSERT ON gearport_queue WHEN NEW.data = CAST('poison' AS BLOB)
           BEGIN SELECT RAISE(ABORT, 'poisoned workload'); END`);
  db.close();
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const submitBg = (data: string) => encodeRequest(T.SUBMIT_JOB_BG, [FN, '', data]);

test('jobs of a failed store batch are each answered ERROR, in order, before the reply sent behind them', async () => {
  const peer = await ScriptedPeer.connect(server.port);
  try {
    // One write: one read, one store batch (one transaction), which the poisoned row fails.
    peer.sendRaw(Buffer.concat([submitBg('ok-1'), submitBg('poison'), submitBg('ok-2'), encodeRequest(T.ECHO_REQ, ['behind'])]));
    const answers = [await peer.next(), await peer.next(), await peer.next(), await peer.next()];
    assert.deepEqual(
      answers.map((f) => [f.name, f.fields[0]]),
      [
        ['ERROR', 'QUEUE_ERROR'],
        ['ERROR', 'QUEUE_ERROR'],
        ['ERROR', 'QUEUE_ERROR'],
        ['ECHO_RES', 'behind'],
      ],
    );

    // The connection carries on: the next batch is stored and acknowledged, handles in order.
    peer.sendRaw(Buffer.concat([submitBg('ok-3'), submitBg('ok-4'), encodeRequest(T.ECHO_REQ, ['later'])]));
    const created = [await peer.expect(T.JOB_CREATED), await peer.expect(T.JOB_CREATED)];
    assert.equal((await peer.next()).name, 'ECHO_RES');
    const [first, second] = created.map((f) => Number(String(f.fields[0]).split(':').pop()));
    assert.ok(first! < second!, `handles in submission order: ${String(created[0]!.fields[0])}, ${String(created[1]!.fields[0])}`);

    // Only the acknowledged jobs are in the file.
    // A direct reply between two jobs of one store batch splits their run and keeps its place.
    peer.sendRaw(Buffer.concat([submitBg('ok-5'), encodeRequest(T.ECHO_REQ, ['between']), submitBg('ok-6')]));
    const split = [await peer.next(), await peer.next(), await peer.next()];
    assert.deepEqual(
      split.map((f) => f.name),
      ['JOB_CREATED', 'ECHO_RES', 'JOB_CREATED'],
    );

    const db = new Database(join(dir, 'gearport.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT data FROM gearport_queue ORDER BY seq').pluck().all() as Buffer[];
    db.close();
    assert.deepEqual(rows.map((b) => b.toString()), ['ok-3', 'ok-4', 'ok-5', 'ok-6']);
  } finally {
    await peer.close();
  }
});

test('a job\'s WORK_* never reach its client before its JOB_CREATED, held behind a slow store write', async (t) => {
  const skip = await skipUnlessListening('PostgreSQL', 5432);
  if (skip) return t.skip(skip);
  const table = uniqueName('held');
  const pgServer = await startGearport({ args: ['-q', 'postgres', '--libpq-conninfo', PG_CONNINFO, '--libpq-table', table] });
  const locker = new pg.Client(conninfoToPoolConfig(PG_CONNINFO));
  await locker.connect();
  const worker = await ScriptedPeer.connect(pgServer.port, 'worker');
  const client = await ScriptedPeer.connect(pgServer.port, 'client');
  try {
    worker.send(T.CAN_DO, ['held-fg']);
    worker.send(T.PRE_SLEEP);
    // The background job's INSERT waits on this lock: its JOB_CREATED, and every reply behind it, are held.
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${table}" IN EXCLUSIVE MODE`);
    client.sendRaw(Buffer.concat([submitBg('first'), encodeRequest(T.SUBMIT_JOB, ['held-fg', '', 'second'])]));

    // The worker runs the foreground job while the store write is still blocked.
    await worker.expect(T.NOOP);
    worker.send(T.GRAB_JOB);
    const assigned = await worker.expect(T.JOB_ASSIGN);
    const handle = String(assigned.fields[0]);
    worker.send(T.WORK_DATA, [handle, 'partial']);
    worker.send(T.WORK_COMPLETE, [handle, 'done']);
    worker.send(T.ECHO_REQ, ['sync']);
    await worker.expect(T.ECHO_RES); // the server has handled the worker's packets
    await assert.rejects(client.next(300), 'nothing reaches the client while the store write waits');

    await locker.query('ROLLBACK');
    const frames = [await client.next(), await client.next(), await client.next(), await client.next()];
    assert.deepEqual(
      frames.map((f) => f.name),
      ['JOB_CREATED', 'JOB_CREATED', 'WORK_DATA', 'WORK_COMPLETE'],
    );
    assert.equal(String(frames[1]!.fields[0]), handle, 'the second JOB_CREATED is the foreground job\'s');
    assert.notEqual(String(frames[0]!.fields[0]), handle);
  } finally {
    await locker.end().catch(() => {});
    await client.close();
    await worker.close();
    await pgServer.stop();
    await dropPgTables(table);
  }
});
