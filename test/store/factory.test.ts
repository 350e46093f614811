import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, PostgresStore, RedisStore, SqliteStore, StoreErrorCode, conninfoToPoolConfig, createStore, isStoreError, storeTypeFromQueueType } from '../../src/store/index.js';

describe('createStore and gearmand queue-type names', () => {
  it("maps gearmand's -q names, ignoring case", () => {
    assert.equal(storeTypeFromQueueType('builtin'), 'memory');
    assert.equal(storeTypeFromQueueType('libsqlite3'), 'sqlite');
    assert.equal(storeTypeFromQueueType('SQLite'), 'sqlite');
    assert.equal(storeTypeFromQueueType('Postgres'), 'postgres');
    assert.equal(storeTypeFromQueueType('libpq'), 'postgres');
    assert.equal(storeTypeFromQueueType('redis'), 'redis');
    assert.equal(storeTypeFromQueueType('mysql'), undefined);
  });

  it('builds each store from its options without connecting', async () => {
    assert.ok(createStore({ type: 'memory' }) instanceof MemoryStore);
    assert.ok(createStore({ type: 'sqlite', sqlite: { file: '/tmp/never-opened.db' } }) instanceof SqliteStore);
    const postgres = createStore({ type: 'postgres', postgres: { conninfo: 'host=127.0.0.1 dbname=test' } });
    assert.ok(postgres instanceof PostgresStore);
    await postgres.close();
    const redis = createStore({ type: 'redis', redis: { port: 6379 } });
    assert.ok(redis instanceof RedisStore);
    await redis.close();
  });

  it('refuses bad options with STORE_INVALID', () => {
    const invalid = (error: unknown): boolean => isStoreError(error, StoreErrorCode.INVALID);
    assert.throws(() => createStore({ type: 'sqlite' }), invalid);
    assert.throws(() => createStore({ type: 'sqlite', sqlite: { file: '/tmp/x.db', synchronous: 'OFF' as 'FULL' } }), invalid);
    assert.throws(() => createStore({ type: 'postgres', postgres: { table: 'bad name' } }), invalid);
    assert.throws(() => createStore({ type: 'postgres', postgres: { conninfo: 'host=x bogus=1' } }), invalid);
    assert.throws(() => createStore({ type: 'memory', timeoutMs: 0 }), invalid);
    assert.throws(() => createStore({ type: 'mysql' as 'memory' }), invalid);
  });
});

describe('libpq conninfo', () => {
  it('parses keyword=value strings with libpq quoting', () => {
    assert.deepEqual(conninfoToPoolConfig("host=127.0.0.1 port = 5433 dbname=test user=postgres password='it\\'s a secret' connect_timeout=3"), {
      host: '127.0.0.1',
      port: 5433,
      database: 'test',
      user: 'postgres',
      password: "it's a secret",
      connectionTimeoutMillis: 3000,
    });
    assert.deepEqual(conninfoToPoolConfig('sslmode=require'), { ssl: { rejectUnauthorized: false } });
  });

  it('passes URIs through and leaves an empty string to the PG* environment', () => {
    assert.deepEqual(conninfoToPoolConfig('postgresql://u@h:5/db'), { connectionString: 'postgresql://u@h:5/db' });
    assert.deepEqual(conninfoToPoolConfig('  '), {});
  });

  it('refuses what libpq refuses', () => {
    assert.throws(() => conninfoToPoolConfig('host'), /missing "="/);
    assert.throws(() => conninfoToPoolConfig("password='open"), /unterminated/);
    assert.throws(() => conninfoToPoolConfig('port=abc'), /invalid port/);
    assert.throws(() => conninfoToPoolConfig('nonsense=1'), /invalid connection option/);
  });
});
