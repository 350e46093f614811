import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { storeContract } from './contract.js';
import { PG_CONNINFO, dropPgTables, job, pgQuery, recordHealth, skipUnlessListening, uniqueName } from './helpers.js';
import { startTcpProxy } from './tcp-proxy.js';
import { freePort } from '../helpers/servers.js';
import { PostgresStore, StoreErrorCode, createStore, isStoreError } from '../../src/store/index.js';

const skipPostgres = (): Promise<string | false> => skipUnlessListening('PostgreSQL', 5432);
const tables: string[] = [];
function newTable(label: string): string {
  const table = uniqueName(label);
  tables.push(table);
  return table;
}

let table = newTable('contract');
storeContract('postgres', {
  batched: true,
  skip: skipPostgres,
  create: () => createStore({ type: 'postgres', postgres: { conninfo: PG_CONNINFO, table }, timeoutMs: 10000 }),
  reset: async () => {
    await dropPgTables(table);
    table = newTable('contract');
  },
});

describe('postgres store specifics', () => {
  let skip: string | false = false;
  before(async () => {
    skip = await skipPostgres();
  });
  after(async () => {
    if (skip) return;
    for (const each of tables) await dropPgTables(each);
  });

  async function filled(t: { skip(reason: string): void }, label: string): Promise<string | undefined> {
    if (skip) {
      t.skip(skip);
      return undefined;
    }
    const name = newTable(label);
    const store = new PostgresStore({ conninfo: PG_CONNINFO, table: name, timeoutMs: 10000 });
    await store.open();
    await store.add(job(1));
    await store.close();
    return name;
  }

  it('writes a batch of adds and removes in one statement, and a batch over 1,000 rows in several, in add order', async (t) => {
    const name = await filled(t, 'batches');
    if (!name) return;
    const store = new PostgresStore({ conninfo: PG_CONNINFO, table: name, timeoutMs: 10000 });
    await store.open();
    await Promise.all([2, 3, 4].map((i) => store.add(job(i))));
    // Adds and a remove in one batch: one statement (WITH removed AS (DELETE ...) INSERT ...).
    await Promise.all([store.add(job(5)), store.remove('job-3'), store.add(job(6))]);
    // 2,100 adds and two removes in one batch: three INSERTs of at most 1,000 rows, then the DELETE.
    const many = Array.from({ length: 2100 }, (_, i) => 5000 - i); // descending keys: order must come from the adds
    await Promise.all([...many.map((i) => store.add(job(i))), store.remove('job-1'), store.remove('job-5')]);
    const flushes = store.stats!.flushes;
    await store.close();
    const again = new PostgresStore({ conninfo: PG_CONNINFO, table: name, timeoutMs: 10000 });
    const replayed = await again.open();
    await again.close();
    assert.equal(flushes, 3, 'one transaction per batch');
    assert.deepEqual(
      replayed.map((j) => j.key),
      [2, 4, 6, ...many].map((i) => `job-${i}`),
    );
  });

  it('refuses a schema version newer than it knows, with a clear error', async (t) => {
    const name = await filled(t, 'version');
    if (!name) return;
    await pgQuery(`UPDATE "${name}_meta" SET value = '2' WHERE name = 'schema_version'`);
    const store = new PostgresStore({ conninfo: PG_CONNINFO, table: name, timeoutMs: 10000 });
    await assert.rejects(store.open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.SCHEMA_UNSUPPORTED));
      assert.match(error.message, new RegExp(`table ${name} has schema version 2, newer than this Gearport understands \\(1\\)`));
      return true;
    });
  });

  it('refuses corrupt rows instead of dropping jobs', async (t) => {
    const name = await filled(t, 'corrupt');
    if (!name) return;
    await pgQuery(`UPDATE "${name}" SET when_to_run = -5`);
    await assert.rejects(new PostgresStore({ conninfo: PG_CONNINFO, table: name, timeoutMs: 10000 }).open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.CORRUPT));
      assert.match(error.message, /row seq=1 of .* is corrupt \(when -5 is not a non-negative integer\)/);
      return true;
    });
  });

  it("refuses gearmand's queue table rather than guessing", async (t) => {
    if (skip) return t.skip(skip);
    const name = newTable('gearmand');
    await pgQuery(`CREATE TABLE "${name}" (unique_key VARCHAR(64), function_name VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER, UNIQUE (unique_key, function_name))`);
    await assert.rejects(new PostgresStore({ conninfo: PG_CONNINFO, table: name, timeoutMs: 10000 }).open(), (error) => isStoreError(error, StoreErrorCode.SCHEMA_UNSUPPORTED));
  });

  it('an unreachable server fails open() with STORE_UNAVAILABLE within the timeout', async (t) => {
    if (skip) return t.skip(skip);
    const closedPort = await freePort();
    const store = new PostgresStore({ conninfo: `${PG_CONNINFO} port=${closedPort}`, table: newTable('closed'), timeoutMs: 2000 });
    const started = Date.now();
    await assert.rejects(store.open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.UNAVAILABLE));
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
    assert.ok(Date.now() - started < 4000);
  });

  it('an outage rejects adds within the timeout, reports unhealthy, and recovers without a new store', async (t) => {
    if (skip) return t.skip(skip);
    let proxy = await startTcpProxy(5432);
    const port = proxy.port;
    const name = newTable('outage');
    const store = new PostgresStore({ conninfo: `${PG_CONNINFO} port=${port}`, table: name, timeoutMs: 1500 });
    try {
      await store.open();
      const health = recordHealth(store);
      await store.add(job(1));

      await proxy.stop(); // the server is gone
      const started = Date.now();
      await assert.rejects(store.add(job(2)), (error) => isStoreError(error, StoreErrorCode.UNAVAILABLE));
      assert.ok(Date.now() - started < 1500 + 1000, `add rejected after ${Date.now() - started} ms`);
      const down = await health.waitFor(false);
      assert.ok(isStoreError(down.error, StoreErrorCode.UNAVAILABLE));

      proxy = await startTcpProxy(5432, port); // back on the same port
      await health.waitFor(true); // noticed by the probe, before any new traffic
      await store.add(job(3));
      await store.remove('job-1');
    } finally {
      await store.close();
      await proxy.stop();
    }
    const again = new PostgresStore({ conninfo: PG_CONNINFO, table: name, timeoutMs: 10000 });
    assert.deepEqual((await again.open()).map((each) => each.key), ['job-3']);
    await again.close();
  });

  it('a server that stops answering cannot hang an add: it rejects within the timeout', async (t) => {
    if (skip) return t.skip(skip);
    const proxy = await startTcpProxy(5432);
    const store = new PostgresStore({ conninfo: `${PG_CONNINFO} port=${proxy.port}`, table: newTable('hang'), timeoutMs: 1000 });
    try {
      await store.open();
      const health = recordHealth(store);
      proxy.blackhole(true);
      const started = Date.now();
      await assert.rejects(store.add(job(1)), (error) => {
        assert.ok(isStoreError(error, StoreErrorCode.UNAVAILABLE));
        assert.match(error.message, /within 1000 ms/);
        return true;
      });
      assert.ok(Date.now() - started < 2500, `add rejected after ${Date.now() - started} ms`);
      await health.waitFor(false);
      proxy.blackhole(false);
      await health.waitFor(true);
      await store.add(job(2));
    } finally {
      await store.close();
      await proxy.stop();
    }
  });

  it('survives its connections being terminated by the server (pg_terminate_backend)', async (t) => {
    if (skip) return t.skip(skip);
    const applicationName = uniqueName('app');
    const name = newTable('terminate');
    const store = new PostgresStore({ conninfo: PG_CONNINFO, table: name, applicationName, timeoutMs: 5000 });
    await store.open();
    await store.add(job(1));
    const killed = await pgQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    assert.ok(killed.rowCount! >= 1, 'a store connection was terminated');
    // The pool drops the dead connection and opens a new one; at most one add may see the loss.
    const outcome = await store.add(job(2)).then(() => 'stored', (error: unknown) => (isStoreError(error, StoreErrorCode.UNAVAILABLE) ? 'rejected' : error));
    if (outcome === 'rejected') await store.add(job(2));
    else assert.equal(outcome, 'stored');
    await store.add(job(3));
    await store.close();
    const again = new PostgresStore({ conninfo: PG_CONNINFO, table: name, timeoutMs: 10000 });
    assert.deepEqual((await again.open()).map((each) => each.key), ['job-1', 'job-2', 'job-3']);
    await again.close();
  });
});
