/**
 * The SQLite store's WAL checkpoints run on a thread of their own (src/store/sqlite-checkpointer.ts):
 * the main connection never checkpoints, the thread copies the WAL into the file, the WAL stays
 * near --sqlite-wal-limit however much is written, and a failed thread hands checkpoints back
 * to SQLite on the main connection. Real files, a real thread.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { tempDir, uniqueName } from './helpers.js';
import { Priority, SqliteStore, type StoredJob } from '../../src/store/index.js';
import { WalCheckpointer } from '../../src/store/sqlite-checkpointer.js';
import { PacketType as T } from '../../src/protocol/index.js';
import { SubmissionLoad, killHard, missingFrom, newStore, runJobs, startOn, workloads } from '../durability/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = tempDir();
after(() => dir.remove());

const MiB = 1024 * 1024;
const payload = Buffer.alloc(200, 0x61);

function plainJob(store: SqliteStore): StoredJob {
  return { key: store.newKey(), functionName: 'f', unique: '', data: payload, priority: Priority.NORMAL, when: 0, reducer: '' };
}

/** Bytes of a file, 0 when it does not exist. */
function sizeOf(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** What `promise` gives, or 'timed out' when it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<'timed out'>((resolve) => (timer = setTimeout(resolve, ms, 'timed out')))]);
  } finally {
    clearTimeout(timer);
  }
}

function storeAt(walLimitBytes: number | undefined, onCheckpointFailure?: (error: Error) => void): { file: string; store: SqliteStore } {
  const file = join(dir.path, `${uniqueName('wal')}.db`);
  return { file, store: new SqliteStore({ file, walLimitBytes, onCheckpointFailure, timeoutMs: 10_000 }) };
}

/** `batches` group commits of `perBatch` jobs each, one after another. */
async function write(store: SqliteStore, batches: number, perBatch: number, afterEach?: () => void): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const adds: Array<Promise<void>> = [];
    for (let i = 0; i < perBatch; i++) adds.push(store.add(plainJob(store)));
    await Promise.all(adds);
    afterEach?.();
  }
}

/** WAL limit of the tests that drive a WalCheckpointer directly. */
const limit = 256 * 1024;

/** A WAL-mode file with one table, its checkpointer (at `limit`) and `commit(n)`, which commits n rows. */
function walTable(label: string, catchUpTimeoutMs: number) {
  const file = join(dir.path, `${uniqueName(label)}.db`);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (x BLOB)');
  const failures: Error[] = [];
  const checkpointer = new WalCheckpointer(db, file, limit, catchUpTimeoutMs, (error) => failures.push(error));
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  const commit = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run(payload);
  });
  return { file, db, checkpointer, commit, failures };
}

describe('sqlite store: checkpoints on their own thread', () => {
  it('the main connection never checkpoints; the thread copies committed pages into the file', async () => {
    const { file, store } = storeAt(undefined);
    await store.open();
    assert.equal(store.walLimitBytes, 64 * MiB, 'default --sqlite-wal-limit');
    assert.equal(store.database!.pragma('wal_autocheckpoint', { simple: true }), 0);
    const before = sizeOf(file);
    await write(store, 20, 500); // ~2.5 MiB of rows, far below the limit: no catch-up is asked
    // Only a checkpoint writes to the database file itself, and the main connection does none.
    await until('the database file to grow', () => sizeOf(file) > before + 1 * MiB);
    await store.close();
    assert.equal(existsSync(`${file}-wal`), false, 'the last close checkpoints and removes the WAL');
    const reopened = new SqliteStore({ file, timeoutMs: 10_000 });
    assert.equal((await reopened.open()).length, 10_000);
    await reopened.close();
  });

  it('--sqlite-wal-limit: the WAL stays near the limit however much is written, and every job is kept', async () => {
    const limit = 1 * MiB;
    const { file, store } = storeAt(limit);
    await store.open();
    let largest = 0;
    // ~40 MiB of rows: without catch-ups the WAL would hold all of it (passive checkpoints never
    // start it over while writes go on), with SQLite's own checkpoints it would reach 4 MiB.
    await write(store, 200, 1000, () => (largest = Math.max(largest, sizeOf(`${file}-wal`))));
    assert.ok(largest > limit / 2, `the WAL was used (${largest} bytes)`);
    assert.ok(largest < 4 * MiB, `the WAL stayed near its 1 MiB limit: largest ${largest} bytes`);
    await store.close();
    const reopened = new SqliteStore({ file, timeoutMs: 10_000 });
    assert.equal((await reopened.open()).length, 200_000);
    await reopened.close();
  });

  it('a catch-up copies every frame, so the next commit starts the WAL over and cuts it back to the limit', async () => {
    const { file, db, checkpointer, commit, failures } = walTable('catchup', 5000);
    try {
      // One commit of ~2 MiB: past the limit whatever the thread copies meanwhile (a writer
      // slower than the thread never fills the WAL: each of its commits finds every frame
      // copied and starts the WAL over by itself).
      commit(10_000);
      checkpointer.committed();
      assert.equal(checkpointer.walFull, true);
      assert.ok(sizeOf(`${file}-wal`) > 2 * limit);
      await checkpointer.catchUp();
      commit(1);
      checkpointer.committed();
      assert.ok(sizeOf(`${file}-wal`) <= limit, `WAL cut back to ${limit} bytes: ${sizeOf(`${file}-wal`)}`);
      assert.equal(checkpointer.walFull, false);
    } finally {
      await checkpointer.stop();
      db.close();
    }
    assert.deepEqual(failures, []);
  });

  it('a reader of an old snapshot does not hold writes back: the catch-up answers once the thread has copied all it may', async () => {
    // A catch-up bound far above the test's own: waiting it out would fail the race below.
    const { file, db, checkpointer, commit, failures } = walTable('reader', 60_000);
    const reader = new Database(file);
    try {
      commit(100);
      checkpointer.committed();
      // An open read transaction (another program looking at the file): no checkpoint may copy
      // the frames committed after it began, and no write can start the WAL over until it ends.
      reader.exec('BEGIN');
      assert.equal(reader.prepare('SELECT count(*) FROM t').pluck().get(), 100);
      commit(10_000);
      checkpointer.committed();
      assert.equal(checkpointer.walFull, true);
      const outcome = await within(checkpointer.catchUp().then(() => 'answered'), 10_000);
      assert.equal(outcome, 'answered', 'the catch-up does not wait for the reader');
      commit(1);
      checkpointer.committed();
      assert.equal(checkpointer.walFull, true, 'the WAL goes on past the limit while the reader needs it');
      // The reader done, the next catch-up copies the rest and the commit after it starts the WAL over.
      reader.exec('COMMIT');
      await checkpointer.catchUp();
      commit(1);
      checkpointer.committed();
      assert.ok(sizeOf(`${file}-wal`) <= limit, `WAL cut back to ${limit} bytes: ${sizeOf(`${file}-wal`)}`);
    } finally {
      reader.close();
      await checkpointer.stop();
      db.close();
    }
    assert.deepEqual(failures, []);
  });

  it('a failed thread hands checkpoints back to SQLite on the main connection, and says so', async () => {
    const file = join(dir.path, `${uniqueName('broken')}.db`);
    const broken = join(dir.path, 'broken-thread.mjs');
    writeFileSync(broken, "throw new Error('cannot checkpoint here');\n");
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    const failures: Error[] = [];
    const checkpointer = new WalCheckpointer(db, file, MiB, 5000, (error) => failures.push(error), pathToFileURL(broken));
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
    await until('the failure to be reported', () => failures.length > 0);
    assert.match(failures[0]!.message, /cannot checkpoint here/);
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
    assert.equal(checkpointer.walFull, false);
    await checkpointer.catchUp(); // answers at once: there is nothing to wait for
    await checkpointer.stop();
    db.close();
  });

  it('the thread does not keep the process alive: a program that never closes its store still ends, its jobs kept', async () => {
    const file = join(dir.path, `${uniqueName('alive')}.db`);
    const storeModule = pathToFileURL(join(here, '..', '..', 'src', 'store', 'index.js')).href;
    const program = [
      `import { SqliteStore } from ${JSON.stringify(storeModule)};`,
      `const store = new SqliteStore({ file: ${JSON.stringify(file)}, walLimitBytes: 1024 * 1024, timeoutMs: 10000 });`,
      'await store.open();',
      "await store.add({ key: store.newKey(), functionName: 'f', unique: '', data: Buffer.alloc(10), priority: 1, when: 0, reducer: '' });",
      "process.stdout.write('written\\n');",
    ].join('\n');
    // A file, not -e: node -e ends the process once the code has run, whatever is still open.
    const script = join(dir.path, `${uniqueName('alive')}.mjs`);
    writeFileSync(script, program);
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 20_000);
    if (code === 'timed out') child.kill('SIGKILL');
    assert.equal(code, 0, 'the program ended by itself');
    assert.equal(output, 'written\n');
    const reopened = new SqliteStore({ file, timeoutMs: 10_000 });
    assert.equal((await reopened.open()).length, 1);
    await reopened.close();
  });

  it('--sqlite-wal-limit 0: no thread; SQLite checkpoints inside commits as it does by default', async () => {
    const { file, store } = storeAt(0);
    await store.open();
    assert.equal(store.database!.pragma('wal_autocheckpoint', { simple: true }), 1000);
    await write(store, 10, 1000);
    await store.close();
    const reopened = new SqliteStore({ file, timeoutMs: 10_000 });
    assert.equal((await reopened.open()).length, 10_000);
    await reopened.close();
  });

  it('gearport --sqlite-wal-limit 1m: a flood of background submits keeps the WAL near 1 MiB, and kill -9 loses nothing acknowledged', { timeout: 120_000 }, async (t) => {
    const store = newStore('sqlite');
    let server = await startOn(store, ['--sqlite-wal-limit', '1m']);
    try {
      const wal = join(store.where, 'gearport.sqlite-wal');
      let largest = 0;
      const poll = setInterval(() => (largest = Math.max(largest, sizeOf(wal))), 2);
      // ~40 MiB of workloads: with the default limit (64 MiB) the WAL would hold all of it.
      const load = new SubmissionLoad(server.port, {
        connections: 4,
        inFlight: 100,
        total: 40_000,
        maxMs: 60_000,
        make: (i) => ({ type: T.SUBMIT_JOB_BG, functionName: 'wal-flood', unique: '', data: Buffer.concat([Buffer.from(`w-${i}|`), payload, payload, payload, payload, payload]) }),
      });
      await load.done;
      clearInterval(poll);
      assert.equal(load.acknowledged.length, 40_000, `refused: ${JSON.stringify(load.refused.slice(0, 3).map((r) => r.error))}`);
      assert.ok(largest > 512 * 1024 && largest < 4 * MiB, `WAL near its 1 MiB limit under the flood: largest ${largest} bytes`);
      t.diagnostic(`largest WAL ${largest} bytes`);
      const port = server.port;
      await killHard(server);
      server = await startOn(store, [], port);
      const ran = await runJobs(server.port, 'wal-flood', { timeoutMs: 60_000 });
      const lost = missingFrom(workloads(load.acknowledged), workloads(ran));
      assert.deepEqual(lost.slice(0, 5), [], `${lost.length} acknowledged jobs lost`);
      assert.equal(ran.length, 40_000);
    } finally {
      await server.stop();
      await store.cleanup();
    }
  });

  it('refuses a WAL limit that is not a whole number of bytes', () => {
    for (const walLimitBytes of [-1, 1.5, Number.NaN]) {
      assert.throws(() => new SqliteStore({ file: join(dir.path, 'x.db'), walLimitBytes, timeoutMs: 1000 }), /walLimitBytes must be a whole number of bytes/);
    }
  });
});
