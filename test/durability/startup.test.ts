/**
 * Issue 5: a store that cannot be used stops start-up with a clear message and a non-zero exit,
 * rather than a server that runs and then loses or refuses jobs: a data dir that cannot be
 * written, a file that is not a database, an unknown (newer) schema version, a corrupt row, a
 * table of gearmand's, an unreachable backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { createStore } from '../../src/store/index.js';
import { AdminPeer, ScriptedPeer } from '../helpers/scripted-peer.js';
import { freePort, gearportCli, hasCommand, startGearport } from '../helpers/servers.js';
import { pgQuery, skipUnlessListening, withRedis } from '../store/helpers.js';
import { PG_CONNINFO, REDIS_PORT, killHard, newStore, runJobs, startPrivateRedis, uniqueName } from './harness.js';
import { PacketType as T } from '../../src/protocol/index.js';

interface Exit {
  readonly code: number | null;
  readonly stderr: string;
}

/** Run gearport to its exit (bounded); it must not get as far as serving. */
async function startupFailure(args: string[], options: { uid?: number } = {}): Promise<Exit> {
  const port = await freePort();
  const child = spawn(process.execPath, [gearportCli, '--port', String(port), '--listen', '127.0.0.1', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr };
}

function assertRefused(exit: Exit, message: RegExp): void {
  assert.notEqual(exit.code, 0, `gearport started (or was killed) instead of refusing: ${exit.stderr}`);
  assert.notEqual(exit.code, null, `gearport did not exit within 20 s: ${exit.stderr}`);
  assert.match(exit.stderr, /gearport: cannot start: /);
  assert.match(exit.stderr, message);
  assert.doesNotMatch(exit.stderr, /\n\s+at /, 'a message, not a stack trace');
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gearport-startup-'));
}

test('sqlite: a data dir that cannot be created stops start-up', async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'a-file'), '');
    const exit = await startupFailure(['-q', 'sqlite', '--data-dir', join(dir, 'a-file', 'data')]);
    assertRefused(exit, /sqlite store: cannot open .*a-file\/data\/gearport\.sqlite: ENOTDIR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: a data dir the server may not write stops start-up', async () => {
  const dir = tempDir();
  try {
    const data = join(dir, 'data');
    mkdirSync(data);
    chmodSync(dir, 0o755);
    chmodSync(data, 0o555);
    // Root ignores file modes: run as nobody (uid 65534) then.
    const asRoot = process.getuid?.() === 0;
    const exit = await startupFailure(['-q', 'sqlite', '--data-dir', data], asRoot ? { uid: 65534 } : {});
    assertRefused(exit, /sqlite store: cannot open .*data\/gearport\.sqlite: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: a file that is not a database stops start-up', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'queue.sqlite');
    writeFileSync(file, Buffer.alloc(8192, 0x5a));
    assertRefused(await startupFailure(['--libsqlite3-db', file]), /queue\.sqlite: file is not a database/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: an unknown schema version stops start-up', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'queue.sqlite');
    const store = createStore({ type: 'sqlite', sqlite: { file } });
    await store.open();
    await store.close();
    const db = new Database(file);
    db.prepare(`UPDATE gearport_queue_meta SET value = '999' WHERE name = 'schema_version'`).run();
    db.close();
    assertRefused(await startupFailure(['--libsqlite3-db', file]), /schema version 999, newer than this Gearport understands \(2\); upgrade Gearport/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: a corrupt row stops start-up instead of being dropped', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'queue.sqlite');
    const store = createStore({ type: 'sqlite', sqlite: { file } });
    await store.open();
    await store.add({ key: 'k1', functionName: 'f', unique: 'u', data: Buffer.from('d'), priority: 1, when: 0, reducer: '' });
    await store.close();
    const db = new Database(file);
    db.prepare(`UPDATE gearport_queue SET priority = 7`).run();
    db.close();
    assertRefused(await startupFailure(['--libsqlite3-db', file]), /corrupt \(priority 7 is not 0, 1 or 2\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sqlite: gearmand's queue table is not mistaken for ours", async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'gearmand.sqlite');
    const db = new Database(file);
    // gearmand's libsqlite3 schema (spec 4.2).
    db.exec(`CREATE TABLE gearman_queue ( unique_key TEXT, function_name TEXT, priority INTEGER,
      data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))`);
    db.close();
    const exit = await startupFailure(['-q', 'libsqlite3', '--libsqlite3-db', file, '--libsqlite3-table', 'gearman_queue']);
    assertRefused(exit, /table gearman_queue exists but has no gearman_queue_meta schema version/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('postgres: an unknown schema version stops start-up', { skip: await skipUnlessListening('PostgreSQL', 5432) }, async () => {
  const store = newStore('postgres');
  const table = store.args[store.args.indexOf('--libpq-table') + 1]!;
  try {
    const created = createStore({ type: 'postgres', postgres: { conninfo: PG_CONNINFO, table } });
    await created.open();
    await created.close();
    await pgQuery(`UPDATE "${table}_meta" SET value = '999' WHERE name = 'schema_version'`);
    assertRefused(await startupFailure(store.args), new RegExp(`table ${table} has schema version 999, newer than this Gearport understands`));
  } finally {
    await store.cleanup();
  }
});

test('redis: an unknown schema version stops start-up', { skip: await skipUnlessListening('Redis', REDIS_PORT) }, async () => {
  const store = newStore('redis');
  const prefix = store.args[store.args.indexOf('--redis-prefix') + 1]!;
  try {
    await withRedis((redis) => redis.set(`${prefix}schema`, '999'));
    assertRefused(await startupFailure(store.args), /has schema version 999, newer than this Gearport understands/);
  } finally {
    await store.cleanup();
  }
});

test('an unreachable PostgreSQL or Redis stops start-up within the store timeout', async () => {
  const closed = await freePort(); // nothing listens there
  const pgExit = await startupFailure(['-q', 'postgres', '--libpq-conninfo', `host=127.0.0.1 port=${closed} dbname=test user=postgres`, '--libpq-table', uniqueName('unused'), '--store-timeout', '2000']);
  assertRefused(pgExit, /postgres store: cannot connect: .*ECONNREFUSED/);
  const redisExit = await startupFailure(['-q', 'redis', '--redis-port', String(closed), '--store-timeout', '2000']);
  assertRefused(redisExit, /redis store: cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
});

test('redis with a password: none or a wrong one stops start-up in Redis\'s words; the right one, from env, --redis-password or a config file (with an ACL user), stores and replays jobs', { skip: hasCommand('redis-server') ? false : 'redis-server is not installed' }, async () => {
  const password = 's3cret Pa#55'; // a space and a '#': whole through env and argv (a config file could not hold it)
  const redis = await startPrivateRedis({ password });
  const dir = tempDir();
  const at = ['-q', 'redis', '--redis-port', String(redis.port), '--redis-prefix', `${uniqueName('auth')}:`, '--store-timeout', '2000'];
  try {
    assertRefused(await startupFailure(at), /redis store: cannot connect to 127\.0\.0\.1:\d+: NOAUTH Authentication required/);
    assertRefused(await startupFailure([...at, '--redis-password', 'wrong']), /redis store: cannot connect to 127\.0\.0\.1:\d+: WRONGPASS/);

    // Password from the environment: a background job is acknowledged once stored; then the server dies.
    const first = await startGearport({ args: at, env: { GEARPORT_REDIS_PASSWORD: password } });
    const client = await ScriptedPeer.connect(first.port, 'client');
    try {
      client.send(T.SUBMIT_JOB_BG, ['auth_fn', 'u1', 'kept']);
      await client.expect(T.JOB_CREATED);
    } finally {
      await client.close();
      await killHard(first);
    }
    // From the flag: the job is back from Redis, queued (stopped cleanly, it stays stored).
    const second = await startGearport({ args: [...at, '--redis-password', password] });
    try {
      const admin = await AdminPeer.connect(second.port);
      assert.match(await admin.command('status\n', 'listing'), /^auth_fn\t1\t0\t0$/m);
      await admin.close();
    } finally {
      await second.stop();
    }
    // From a config file, as a Redis 6 ACL user of its own: a worker runs it.
    const acl = new Redis({ host: '127.0.0.1', port: redis.port, password, lazyConnect: true });
    try {
      await acl.connect();
      await acl.call('ACL', 'SETUSER', 'gearport_acl', 'on', '>acl-Pa55', '~*', '&*', '+@all');
    } finally {
      acl.disconnect();
    }
    const file = join(dir, 'gearport.conf');
    writeFileSync(file, '# Redis credentials stay out of ps\n--redis-username gearport_acl --redis-password acl-Pa55\n');
    const third = await startGearport({ args: [...at, '--config-file', file] });
    try {
      const ran = await runJobs(third.port, 'auth_fn', { count: 1, timeoutMs: 10_000 });
      assert.deepEqual(ran.map((j) => [j.unique, j.data.toString()]), [['u1', 'kept']]);
    } finally {
      await third.stop();
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
