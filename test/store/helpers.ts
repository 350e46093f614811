/**
 * Shared by the store tests: sample jobs, unique table/key names per run, and access to the
 * real PostgreSQL and Redis on this machine (skipped outside CI when they are not running).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { Priority, conninfoToPoolConfig, type StoredJob } from '../../src/store/index.js';

let counter = 0;
/** A table name or key prefix nobody else uses (several test runs may share the servers). */
export function uniqueName(label: string): string {
  counter += 1;
  return `gp_test_${label}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

export function job(index: number, overrides: Partial<StoredJob> = {}): StoredJob {
  return {
    key: `job-${index}`,
    functionName: 'reverse',
    unique: `u-${index}`,
    data: Buffer.from(`payload ${index}`),
    priority: Priority.NORMAL,
    when: 0,
    reducer: '',
    ...overrides,
  };
}

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'gearport-store-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const PG_CONNINFO = process.env.GEARPORT_TEST_PG ?? 'host=127.0.0.1 port=5432 dbname=test user=postgres';
export const REDIS_PORT = Number(process.env.GEARPORT_TEST_REDIS_PORT ?? 6379);

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Skip reason when a server is not running here; in CI its absence is a failure. */
export async function skipUnlessListening(what: string, port: number): Promise<string | false> {
  if (await portOpen(port)) return false;
  if (process.env.CI === 'true') throw new Error(`${what} is required in CI but nothing listens on 127.0.0.1:${port}`);
  return `${what} is not running on 127.0.0.1:${port}`;
}

/** Run SQL on the test database outside any store. */
export async function pgQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client(conninfoToPoolConfig(PG_CONNINFO));
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

export async function dropPgTables(table: string): Promise<void> {
  await pgQuery(`DROP TABLE IF EXISTS "${table}", "${table}_meta"`);
}

export async function withRedis<T>(work: (redis: Redis) => Promise<T>, port = REDIS_PORT): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

export async function deleteRedisPrefix(prefix: string, port = REDIS_PORT): Promise<void> {
  await withRedis(async (redis) => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }, port);
}

/** Resolves with the first value `poll` returns that is not undefined, or rejects after `timeoutMs`. */
export async function eventually<T>(what: string, poll: () => T | undefined | Promise<T | undefined>, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await poll();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Health changes as a list the test can wait on. */
export function recordHealth(store: { onHealthChange(listener: (healthy: boolean, error?: Error) => void): void }): {
  changes: Array<{ healthy: boolean; error?: Error }>;
  waitFor(healthy: boolean, timeoutMs?: number): Promise<{ healthy: boolean; error?: Error }>;
} {
  const changes: Array<{ healthy: boolean; error?: Error }> = [];
  store.onHealthChange((healthy, error) => changes.push({ healthy, error }));
  return {
    changes,
    waitFor: (healthy, timeoutMs = 15000) =>
      eventually(`health ${healthy}`, () => {
        const last = changes[changes.length - 1];
        return last && last.healthy === healthy ? last : undefined;
      }, timeoutMs),
  };
}
