import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { storeContract } from './contract.js';
import { job, recordHealth, tempDir, uniqueName } from './helpers.js';
import { Priority, SqliteStore, StoreErrorCode, createStore, isStoreError, type StoredJob } from '../../src/store/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = tempDir();
// The read-only tests run a child as an unprivileged user, which must reach into this folder.
chmodSync(dir.path, 0o755);
after(() => dir.remove());

let file = join(dir.path, 'contract.db');
storeContract('sqlite', {
  batched: true,
  create: () => createStore({ type: 'sqlite', sqlite: { file, table: 'jobs' }, timeoutMs: 10000 }),
  reset: async () => {
    file = join(dir.path, `${uniqueName('contract')}.db`);
  },
});

function freshStore(options: { table?: string; synchronous?: 'NORMAL' | 'FULL' } = {}): { file: string; store: SqliteStore } {
  const path = join(dir.path, `${uniqueName('case')}.db`);
  return { file: path, store: new SqliteStore({ file: path, table: options.table, synchronous: options.synchronous, timeoutMs: 10000 }) };
}

/**
 * A store holding one job (`stored` makes it), changed under it by `sql`, must refuse to open
 * with `code` and a message matching `message`.
 */
async function assertRefusedAfter(sql: string, code: StoreErrorCode, message: RegExp, stored: (store: SqliteStore) => StoredJob = () => job(1)): Promise<void> {
  const { file: path, store } = freshStore({ table: 'q' });
  await store.open();
  await store.add(stored(store));
  await store.close();
  const db = new Database(path);
  db.exec(sql);
  db.close();
  await assert.rejects(new SqliteStore({ file: path, table: 'q', timeoutMs: 5000 }).open(), (error) => {
    assert.ok(isStoreError(error, code));
    assert.match(error.message, message);
    return true;
  });
}

describe('sqlite store specifics', () => {
  it('uses WAL, synchronous=NORMAL by default and FULL when asked', async () => {
    const normal = freshStore();
    await normal.store.open();
    assert.equal(normal.store.database!.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(normal.store.database!.pragma('synchronous', { simple: true }), 1); // NORMAL
    await normal.store.close();
    const full = freshStore({ synchronous: 'FULL' });
    await full.store.open();
    assert.equal(full.store.database!.pragma('synchronous', { simple: true }), 2); // FULL
    await full.store.add(job(1));
    await full.store.close();
  });

  it('stores empty workloads as zero-length BLOBs, never NULL (gearmand then fails to start)', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    await store.add(job(1, { data: Buffer.alloc(0) }));
    await store.close();
    const db = new Database(path, { readonly: true });
    assert.deepEqual(db.prepare('SELECT typeof(data) AS type, length(data) AS size FROM q').get(), { type: 'blob', size: 0 });
    db.close();
  });

  it('refuses a schema version newer than it knows, with a clear error', async () => {
    await assertRefusedAfter(
      `UPDATE q_meta SET value = '3' WHERE name = 'schema_version'`,
      StoreErrorCode.SCHEMA_UNSUPPORTED,
      /schema version 3, newer than this Gearport understands \(2\)/,
    );
  });

  it('refuses a schema version that is not a number, naming the file and the meta table', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    await store.close();
    const db = new Database(path);
    db.prepare(`UPDATE q_meta SET value = 'one' WHERE name = 'schema_version'`).run();
    db.close();
    await assert.rejects(new SqliteStore({ file: path, table: 'q', timeoutMs: 5000 }).open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.CORRUPT));
      assert.equal(error.message.includes(`${path}: table q: schema version "one" in q_meta is not a version number`), true, error.message);
      return true;
    });
  });

  it('refuses corrupt rows instead of dropping jobs', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    await store.add(job(1));
    await store.close();
    const db = new Database(path);
    db.prepare(`UPDATE q SET priority = 9 WHERE job_key = 'job-1'`).run();
    db.close();
    await assert.rejects(new SqliteStore({ file: path, table: 'q', timeoutMs: 5000 }).open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.CORRUPT));
      assert.match(error.message, /row seq=1 of q is corrupt \(priority 9 is not 0, 1 or 2\)/);
      return true;
    });
    const db2 = new Database(path);
    // SQLite columns accept any type: text where bytes belong is refused too.
    db2.prepare(`UPDATE q SET priority = 1, data = 'text'`).run();
    db2.close();
    await assert.rejects(new SqliteStore({ file: path, table: 'q', timeoutMs: 5000 }).open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.CORRUPT));
      assert.match(error.message, /data is missing or not bytes/);
      return true;
    });
  });

  it('replays in the order jobs were added when the newest row was removed and its seq is taken again', async () => {
    // New files let seq be a plain rowid (max + 1), so a removed newest row's number comes back.
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    for (const i of [1, 2, 3]) await store.add(job(i));
    await store.remove('job-3');
    await store.add(job(4)); // takes seq 3 again
    await store.remove('job-1');
    await store.add(job(5));
    await store.close();
    const reopened = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    assert.deepEqual((await reopened.open()).map((j) => j.key), ['job-2', 'job-4', 'job-5']);
    await reopened.close();
  });

  it('keeps the order of a batch written 16 rows per statement, with the rest one by one', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    const order = Array.from({ length: 41 }, (_, i) => 100 - i); // descending keys: order must come from the adds
    await Promise.all(order.map((i) => store.add(job(i))));
    assert.equal(store.stats!.flushes, 1, 'one transaction for the batch');
    await Promise.all([store.remove('job-99'), store.add(job(7)), store.remove('job-61')]);
    await store.close();
    const reopened = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    const expected = [...order.filter((i) => i !== 99 && i !== 61), 7].map((i) => job(i));
    assert.deepEqual(await reopened.open(), expected);
    await reopened.close();
  });

  /** A schema version 1 file as Gearport wrote it: jobs 1-3 added, job-3 removed. */
  function versionOneFile(seq: string): string {
    const path = join(dir.path, `${uniqueName('v1')}.db`);
    const db = new Database(path);
    db.exec(`CREATE TABLE q_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    db.exec(`INSERT INTO q_meta (name, value) VALUES ('schema_version', '1')`);
    db.exec(`CREATE TABLE q (${seq}, job_key TEXT NOT NULL UNIQUE, function_name BLOB NOT NULL,
      unique_key BLOB NOT NULL, data BLOB NOT NULL, priority INTEGER NOT NULL, when_to_run INTEGER NOT NULL, reducer BLOB NOT NULL)`);
    const insert = db.prepare(`INSERT INTO q (job_key, function_name, unique_key, data, priority, when_to_run, reducer) VALUES (?, ?, ?, ?, 1, 0, ?)`);
    for (const i of [1, 2, 3]) insert.run(`job-${i}`, Buffer.from('reverse'), Buffer.from(`u-${i}`), Buffer.from(`payload ${i}`), Buffer.alloc(0));
    db.prepare(`DELETE FROM q WHERE job_key = 'job-3'`).run();
    db.close();
    return path;
  }

  for (const [made, seq] of [
    ['before 2026-11-30, seq AUTOINCREMENT', 'seq INTEGER PRIMARY KEY AUTOINCREMENT'],
    ['on 2026-11-30, plain rowid seq', 'seq INTEGER PRIMARY KEY'],
  ] as const) {
    it(`upgrades a schema version 1 file (${made}) in place: same jobs, same order, no index on job_key`, async () => {
      const path = versionOneFile(seq);
      const store = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
      assert.deepEqual(await store.open(), [job(1), job(2)]);
      await store.add(job(4));
      await store.remove('job-1');
      await store.add(job(2, { data: Buffer.from('changed') })); // an upsert keeps its place
      await store.close();
      const check = new Database(path, { readonly: true });
      assert.equal(check.prepare(`SELECT value FROM q_meta WHERE name = 'schema_version'`).pluck().get(), '2');
      assert.deepEqual(check.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'q'`).all(), []);
      assert.deepEqual(check.prepare('SELECT seq, job_key FROM q ORDER BY seq').all(), [
        { seq: 2, job_key: 'job-2' },
        { seq: 3, job_key: 'job-4' },
      ]);
      check.close();
      const reopened = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
      assert.deepEqual(await reopened.open(), [job(2, { data: Buffer.from('changed') }), job(4)]);
      await reopened.close();
    });
  }

  it('leaves a version 1 file untouched when the upgrade is blocked by a table of the same name', async () => {
    const path = versionOneFile('seq INTEGER PRIMARY KEY');
    const db = new Database(path);
    db.exec('CREATE TABLE q_v2 (anything TEXT)');
    db.close();
    const store = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    await assert.rejects(store.open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.CORRUPT));
      assert.match(error.message, /cannot upgrade table q to schema version 2: table q_v2 is in the way/);
      return true;
    });
    const check = new Database(path, { readonly: true });
    assert.equal(check.prepare(`SELECT value FROM q_meta WHERE name = 'schema_version'`).pluck().get(), '1');
    assert.equal(check.prepare('SELECT count(*) FROM q').pluck().get(), 2);
    check.close();
  });

  it('refuses to replay two rows with one job key, naming both', async () => {
    await assertRefusedAfter(
      `INSERT INTO q (seq, job_key, function_name, unique_key, data, priority, when_to_run, reducer)
        SELECT seq + 10, job_key, function_name, unique_key, data, priority, when_to_run, reducer FROM q`,
      StoreErrorCode.CORRUPT,
      /rows seq=1 and seq=11 of q share job_key "job-1"/,
    );
  });

  it('keys from newKey() are their rows, mixed with callers\' own keys: order, upserts and removes kept across restarts', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    const a = store.newKey();
    const b = store.newKey();
    assert.ok(Number.isSafeInteger(a) && a > 0 && b === a + 1, `row numbers: ${a}, ${b}`);
    await Promise.all([store.add(job(1, { key: a })), store.add(job(2)), store.add(job(3, { key: b }))]);
    await store.add(job(1, { key: a, data: Buffer.from('changed') })); // an upsert keeps its place
    await store.close();
    const check = new Database(path, { readonly: true });
    // A key that is its row's number is not stored twice.
    assert.deepEqual(check.prepare('SELECT seq, job_key FROM q ORDER BY seq').all(), [
      { seq: a, job_key: null },
      { seq: b, job_key: null },
      { seq: b + 1, job_key: 'job-2' },
    ]);
    check.close();
    const second = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    assert.deepEqual((await second.open()).map((each) => [each.key, each.data.toString()]), [
      [a, 'changed'],
      [b, 'payload 3'],
      ['job-2', 'payload 2'],
    ]);
    assert.throws(() => new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 }).newKey(), (error) => isStoreError(error, StoreErrorCode.CLOSED));
    const c = second.newKey();
    assert.ok(c > b + 1, 'a new key is above every row');
    await Promise.all([second.remove(a), second.remove('job-2'), second.add(job(4, { key: c }))]);
    await second.close();
    assert.throws(() => second.newKey(), (error) => isStoreError(error, StoreErrorCode.CLOSED));
    const third = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    assert.deepEqual((await third.open()).map((each) => each.key), [b, c]);
    await third.close();
  });

  /** Add `jobs` in one batch (one transaction), close, and read them back from the file. */
  async function storeInOneBatchAndReadBack(path: string, store: SqliteStore, jobs: StoredJob[]): Promise<void> {
    await Promise.all(jobs.map((each) => store.add(each)));
    assert.equal(store.stats!.flushes, 1, 'one transaction');
    await store.close();
    const again = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    assert.deepEqual(await again.open(), jobs);
    await again.close();
  }

  it('a batch of store-keyed jobs, with and without uniques and reducers, comes back field for field', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    // 40 jobs in one batch: the first 16 are plain (one statement for them), the next 16 hold
    // a unique and a reducer among them, the last 8 go one by one.
    const jobs = Array.from({ length: 40 }, (_, i) =>
      job(i, {
        key: store.newKey(),
        unique: i === 20 ? 'u-20' : '',
        reducer: i === 25 ? 'sum' : '',
        priority: (i % 3) as 0 | 1 | 2,
        when: i % 4 === 0 ? 4102444800 + i : 0,
        functionName: i % 2 === 0 ? 'even' : 'odd',
        data: Buffer.from([i, 0, 255, i]),
      }),
    );
    await storeInOneBatchAndReadBack(path, store, jobs);
  });

  it('normal-priority jobs to run now, plain ones and full ones in one batch come back field for field, in order', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    // 16 normal jobs to run now (their own statement), 16 plain ones of which one is HIGH and
    // one has an epoch, 16 of which one has a unique, then 5 one by one, two of them normal now.
    const shapes: Array<Partial<StoredJob>> = [
      ...Array.from({ length: 16 }, () => ({})),
      ...Array.from({ length: 16 }, (_, i) => (i === 3 ? { priority: Priority.HIGH } : i === 9 ? { when: 4102444800 } : {})),
      ...Array.from({ length: 16 }, (_, i) => (i === 15 ? { unique: 'u' } : {})),
      {},
      { priority: Priority.LOW },
      {},
      { reducer: 'sum' },
      { when: 1 },
    ];
    const jobs = shapes.map((shape, i) =>
      job(i, { key: store.newKey(), unique: '', reducer: '', priority: Priority.NORMAL, when: 0, functionName: `fn${i % 3}`, data: Buffer.from([i, 0, 255]), ...shape }),
    );
    await storeInOneBatchAndReadBack(path, store, jobs);
    const check = new Database(path, { readonly: true });
    assert.deepEqual(
      check.prepare('SELECT typeof(priority) AS p, typeof(when_to_run) AS w, typeof(job_key) AS k FROM q GROUP BY 1, 2, 3').all(),
      [{ p: 'integer', w: 'integer', k: 'null' }],
      'literal and bound numbers are stored alike',
    );
    check.close();
  });

  it('a caller\'s key written in digits is a string key of its own, never a row number', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    const own = store.newKey();
    await Promise.all([store.add(job(1, { key: own })), store.add(job(2, { key: String(own) })), store.add(job(3, { key: String(own + 5) }))]);
    await store.remove(String(own)); // the string's row goes; the number's stays
    await store.close();
    const reopened = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    assert.deepEqual((await reopened.open()).map((each) => [each.key, each.data.toString()]), [
      [own, 'payload 1'],
      [String(own + 5), 'payload 3'],
    ]);
    await reopened.close();
  });

  it('refuses a number key that newKey() did not hand out, and stores nothing of it', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    const made = store.newKey();
    await assert.rejects(store.add(job(1, { key: made + 1 })), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.INVALID));
      assert.match(error.message, new RegExp(`key ${made + 1} is a number this store's newKey\\(\\) did not hand out`));
      return true;
    });
    for (const bad of [0, -1, 1.5]) await assert.rejects(store.add(job(1, { key: bad })), (error) => isStoreError(error, StoreErrorCode.INVALID));
    await store.add(job(2, { key: made }));
    await store.close();
    const reopened = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    assert.deepEqual((await reopened.open()).map((each) => each.key), [made]);
    await reopened.close();
  });

  it('a failed write changes nothing: the keys of a rolled-back batch are neither added nor removed', async () => {
    const { file: path, store } = freshStore({ table: 'q' });
    await store.open();
    await store.add(job(1));
    // A trigger makes the next insert fail, so the whole batch (an add and a remove) rolls back.
    store.database!.exec(`CREATE TRIGGER refuse BEFORE INSERT ON q WHEN NEW.job_key = 'job-2' BEGIN SELECT RAISE(ABORT, 'refused by test'); END`);
    const results = await Promise.allSettled([store.add(job(2)), store.remove('job-1')]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    store.database!.exec('DROP TRIGGER refuse');
    await store.remove('job-1'); // still known: removed now
    await store.add(job(3));
    await store.close();
    const reopened = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    assert.deepEqual(await reopened.open(), [job(3)]);
    await reopened.close();
  });

  it("refuses a table that is not ours (gearmand's queue table) rather than guessing", async () => {
    const path = join(dir.path, `${uniqueName('gearmand')}.db`);
    const db = new Database(path);
    db.exec(`CREATE TABLE gearman_queue (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))`);
    db.close();
    await assert.rejects(new SqliteStore({ file: path, table: 'gearman_queue', timeoutMs: 5000 }).open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.SCHEMA_UNSUPPORTED));
      assert.match(error.message, /has no gearman_queue_meta schema version/);
      return true;
    });
  });

  it('refuses a table name that could inject SQL', () => {
    assert.throws(() => new SqliteStore({ file: join(dir.path, 'x.db'), table: 'q; DROP TABLE x', timeoutMs: 1000 }), (error) => isStoreError(error, StoreErrorCode.INVALID));
  });

  it('a read-only directory gives a clear STORE_UNAVAILABLE error', async () => {
    const readOnly = join(dir.path, uniqueName('readonly'));
    execFileSync('mkdir', ['-p', readOnly]);
    chmodSync(readOnly, 0o555);
    const outcome = await openAsUnprivileged(join(readOnly, 'queue.db'));
    chmodSync(readOnly, 0o755);
    assert.equal(outcome.stage, 'failed');
    assert.equal(outcome.code, StoreErrorCode.UNAVAILABLE);
    assert.match(outcome.message!, /sqlite store: cannot open .*queue\.db: unable to open database file/);
  });

  it('a read-only database file gives a clear STORE_UNAVAILABLE error', async () => {
    const folder = join(dir.path, uniqueName('rofile'));
    execFileSync('mkdir', ['-p', folder]);
    chmodSync(folder, 0o777);
    const path = join(folder, 'queue.db');
    const { store } = { store: new SqliteStore({ file: path, timeoutMs: 5000 }) };
    await store.open();
    await store.add(job(1));
    await store.close();
    chmodSync(path, 0o444);
    const outcome = await openAsUnprivileged(path);
    assert.equal(outcome.stage, 'failed');
    assert.equal(outcome.code, StoreErrorCode.UNAVAILABLE);
    assert.match(outcome.message!, /sqlite store: .*queue\.db: attempt to write a readonly database/);
  });

  it('a full disk rejects adds clearly, reports unhealthy, and recovers by itself', async () => {
    const { store } = freshStore();
    await store.open();
    const health = recordHealth(store);
    const db = store.database!;
    await store.add(job(1));
    // Cap the file at its current size: SQLite then fails exactly as on a full disk (SQLITE_FULL).
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    await assert.rejects(store.add(job(2, { data: Buffer.alloc(2 * 1024 * 1024, 7) })), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.UNAVAILABLE));
      assert.match(error.message, /database or disk is full/);
      return true;
    });
    const down = await health.waitFor(false);
    assert.match(down.error!.message, /disk is full/);
    db.pragma(`max_page_count = ${pages * 1000}`);
    await store.add(job(3, { data: Buffer.alloc(2 * 1024 * 1024, 7) }));
    await health.waitFor(true);
    assert.deepEqual(health.changes.map((change) => change.healthy), [false, true]);
    assert.equal(store.stats.failedFlushes, 1);
    await store.close();
    const again = new SqliteStore({ file: store.file, timeoutMs: 5000 });
    assert.deepEqual((await again.open()).map((each) => each.key), ['job-1', 'job-3']);
    await again.close();
  });

  it('every acknowledged add survives kill -9 of the process (synchronous=NORMAL)', async () => {
    const path = join(dir.path, `${uniqueName('kill9')}.db`);
    const child = spawn(process.execPath, [join(here, 'fixtures', 'sqlite-writer.js'), path, 'q', 'NORMAL'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acknowledged: string[] = [];
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        if (line.startsWith('acked-')) acknowledged.push(line);
        if (acknowledged.length === 3000) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`writer exited early after ${acknowledged.length} acks`)));
    });
    await exited;
    const store = new SqliteStore({ file: path, table: 'q', timeoutMs: 10000 });
    const stored = new Set((await store.open()).map((each) => each.key));
    await store.close();
    const lost = acknowledged.filter((key) => !stored.has(key));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged jobs lost`);
    assert.ok(stored.size >= acknowledged.length);
  });
});

/** Run the open-and-add fixture as uid 65534 when we are root (root ignores file modes). */
async function openAsUnprivileged(path: string): Promise<{ stage: string; code?: string; message?: string }> {
  const asRoot = process.getuid?.() === 0;
  const child = spawn(process.execPath, [join(here, 'fixtures', 'sqlite-open.js'), path], {
    stdio: ['ignore', 'pipe', 'inherit'],
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, `fixture failed: ${output}`);
  return JSON.parse(output) as { stage: string; code?: string; message?: string };
}
