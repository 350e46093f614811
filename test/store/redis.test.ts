import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { storeContract } from './contract.js';
import { REDIS_PORT, deleteRedisPrefix, eventually, job, portOpen, recordHealth, skipUnlessListening, uniqueName, withRedis } from './helpers.js';
import { startTcpProxy } from './tcp-proxy.js';
import { freePort, skipUnless } from '../helpers/servers.js';
import { RedisStore, StoreErrorCode, createStore, isStoreError } from '../../src/store/index.js';

const skipRedis = (): Promise<string | false> => skipUnlessListening('Redis', REDIS_PORT);
const prefixes: string[] = [];
function newPrefix(label: string): string {
  const prefix = `${uniqueName(label)}:`;
  prefixes.push(prefix);
  return prefix;
}

let prefix = newPrefix('contract');
storeContract('redis', {
  batched: true,
  skip: skipRedis,
  create: () => createStore({ type: 'redis', redis: { port: REDIS_PORT, keyPrefix: prefix }, timeoutMs: 10000 }),
  reset: async () => {
    await deleteRedisPrefix(prefix);
    prefix = newPrefix('contract');
  },
});

/** A throwaway redis-server we may kill: no persistence, loopback only. */
async function startRedisServer(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  await eventually(`redis-server on ${port}`, async () => ((await portOpen(port)) ? true : undefined));
  return child;
}

async function killRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('redis store specifics', () => {
  let skip: string | false = false;
  before(async () => {
    skip = await skipRedis();
  });
  after(async () => {
    if (skip) return;
    for (const each of prefixes) await deleteRedisPrefix(each);
  });

  async function filled(t: { skip(reason: string): void }, label: string): Promise<string | undefined> {
    if (skip) {
      t.skip(skip);
      return undefined;
    }
    const keyPrefix = newPrefix(label);
    const store = new RedisStore({ port: REDIS_PORT, keyPrefix, timeoutMs: 10000 });
    await store.open();
    await store.add(job(1, { data: Buffer.from([0x61, 0, 0x62]) }));
    await store.close();
    return keyPrefix;
  }

  it('keeps NUL bytes in the stored hash itself (gearmand truncates at the first NUL)', async (t) => {
    const keyPrefix = await filled(t, 'nul');
    if (!keyPrefix) return;
    const data = await withRedis((redis) => redis.hgetBuffer(`${keyPrefix}job:job-1`, 'data'));
    assert.deepEqual(data, Buffer.from([0x61, 0, 0x62]));
  });

  it('refuses a schema version newer than it knows, with a clear error', async (t) => {
    const keyPrefix = await filled(t, 'version');
    if (!keyPrefix) return;
    await withRedis((redis) => redis.set(`${keyPrefix}schema`, '2'));
    await assert.rejects(new RedisStore({ port: REDIS_PORT, keyPrefix, timeoutMs: 10000 }).open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.SCHEMA_UNSUPPORTED));
      assert.match(error.message, /has schema version 2, newer than this Gearport understands \(1\)/);
      return true;
    });
  });

  it('refuses corrupt jobs instead of dropping them', async (t) => {
    const keyPrefix = await filled(t, 'corrupt');
    if (!keyPrefix) return;
    await withRedis((redis) => redis.hset(`${keyPrefix}job:job-1`, 'priority', 'high'));
    await assert.rejects(new RedisStore({ port: REDIS_PORT, keyPrefix, timeoutMs: 10000 }).open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.CORRUPT));
      assert.match(error.message, /job .*job:job-1 is corrupt \(priority NaN is not 0, 1 or 2\)/);
      return true;
    });
    await withRedis((redis) => redis.del(`${keyPrefix}job:job-1`));
    await assert.rejects(new RedisStore({ port: REDIS_PORT, keyPrefix, timeoutMs: 10000 }).open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.CORRUPT));
      assert.match(error.message, /its hash is missing/);
      return true;
    });
  });

  it('an unreachable server fails open() with STORE_UNAVAILABLE', async (t) => {
    if (skip) return t.skip(skip);
    const store = new RedisStore({ port: await freePort(), keyPrefix: newPrefix('closed'), timeoutMs: 2000 });
    await assert.rejects(store.open(), (error) => {
      assert.ok(isStoreError(error, StoreErrorCode.UNAVAILABLE));
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
  });

  it('a killed server: adds reject within the timeout, health goes false, and recovers on restart', async (t) => {
    const missing = skipUnless('redis-server');
    if (missing) return t.skip(missing);
    const port = await freePort();
    let server = await startRedisServer(port);
    const store = new RedisStore({ port, keyPrefix: 'outage:', timeoutMs: 1500 });
    try {
      await store.open();
      const health = recordHealth(store);
      await store.add(job(1));

      await killRedisServer(server);
      const down = await health.waitFor(false);
      assert.ok(isStoreError(down.error, StoreErrorCode.UNAVAILABLE));
      const started = Date.now();
      await assert.rejects(store.add(job(2)), (error) => isStoreError(error, StoreErrorCode.UNAVAILABLE));
      assert.ok(Date.now() - started < 1500 + 1000, `add rejected after ${Date.now() - started} ms`);

      server = await startRedisServer(port); // empty again: it had no persistence
      await health.waitFor(true);
      await store.add(job(3));
      const keys = await withRedis((redis) => redis.zrange('outage:order', 0, -1), port);
      assert.deepEqual(keys, ['job-3'], 'the rejected add was not stored later');
    } finally {
      await store.close();
      await killRedisServer(server);
    }
  });

  it('a server that stops answering cannot hang an add: it rejects within the timeout', async (t) => {
    if (skip) return t.skip(skip);
    const proxy = await startTcpProxy(REDIS_PORT);
    const store = new RedisStore({ port: proxy.port, keyPrefix: newPrefix('hang'), timeoutMs: 1000 });
    try {
      await store.open();
      const health = recordHealth(store);
      proxy.blackhole(true);
      const started = Date.now();
      await assert.rejects(store.add(job(1)), (error) => isStoreError(error, StoreErrorCode.UNAVAILABLE));
      assert.ok(Date.now() - started < 2500, `add rejected after ${Date.now() - started} ms`);
      await health.waitFor(false);
      proxy.blackhole(false);
      await health.waitFor(true);
    } finally {
      await store.close();
      await proxy.stop();
    }
  });
});
