/**
 * Acknowledged adds per second for each store: `concurrency` loops each add a job, wait for the
 * add to resolve (= durable), then remove it. Bounded in time and in count; the table, key
 * prefix or file it used is deleted afterwards.
 *
 * Run alone: node dist/bench/store-throughput.js [seconds] [concurrency]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { conninfoToPoolConfig, createStore, type StoreOptions, type StoreType } from '../src/store/index.js';

export interface StoreThroughputOptions {
  seconds: number;
  concurrency: number;
  /** Stop after this many acknowledged adds even if time remains. Default 1,000,000. */
  maxAdds?: number;
  /** Workload bytes per job. Default 100. */
  payloadBytes?: number;
  sqliteSynchronous?: 'NORMAL' | 'FULL';
  pgConninfo?: string;
  redisPort?: number;
}

export interface StoreThroughputResult {
  store: string;
  addsPerSec: number;
  adds: number;
  /** Transactions used (group commit): adds+removes per transaction = ops / flushes. */
  flushes: number;
}

const DEFAULT_PG = 'host=127.0.0.1 port=5432 dbname=test user=postgres';

export async function storeThroughput(type: StoreType, opts: StoreThroughputOptions): Promise<StoreThroughputResult> {
  const name = `gp_bench_${process.pid}_${Date.now().toString(36)}`;
  const pgConninfo = opts.pgConninfo ?? DEFAULT_PG;
  const redisPort = opts.redisPort ?? 6379;
  const dir = type === 'sqlite' ? mkdtempSync(join(tmpdir(), 'gearport-bench-')) : undefined;
  const options: StoreOptions = {
    type,
    sqlite: dir ? { file: join(dir, 'bench.db'), table: name, synchronous: opts.sqliteSynchronous } : undefined,
    postgres: { conninfo: pgConninfo, table: name },
    redis: { port: redisPort, keyPrefix: `${name}:` },
    timeoutMs: 10_000,
  };
  const store = createStore(options);
  const payload = Buffer.alloc(opts.payloadBytes ?? 100, 0x5a);
  const maxAdds = opts.maxAdds ?? 1_000_000;
  let issued = 0;
  let acknowledged = 0;
  try {
    await store.open();
    const started = process.hrtime.bigint();
    const deadline = Date.now() + opts.seconds * 1000;
    const loop = async (): Promise<void> => {
      while (Date.now() < deadline && issued < maxAdds) {
        issued += 1;
        const key = `b-${issued}`;
        await store.add({ key, functionName: 'bench', unique: '', data: payload, priority: 1, when: 0, reducer: '' });
        acknowledged += 1;
        await store.remove(key);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, loop));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { store: type, addsPerSec: Math.round(acknowledged / seconds), adds: acknowledged, flushes: store.stats.flushes };
  } finally {
    await store.close().catch(() => undefined);
    await cleanup(type, name, { dir, pgConninfo, redisPort });
  }
}

async function cleanup(type: StoreType, name: string, where: { dir?: string; pgConninfo: string; redisPort: number }): Promise<void> {
  if (where.dir) rmSync(where.dir, { recursive: true, force: true });
  if (type === 'postgres') {
    const client = new pg.Client(conninfoToPoolConfig(where.pgConninfo));
    await client.connect().catch(() => undefined);
    await client.query(`DROP TABLE IF EXISTS "${name}", "${name}_meta"`).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
  if (type === 'redis') {
    const redis = new Redis({ port: where.redisPort, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${name}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } catch {
      // The server is gone: nothing to clean.
    } finally {
      redis.disconnect();
    }
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const concurrency = Number(process.argv[3] ?? 64);
  const rows: string[] = [];
  const runs: Array<{ label: string; type: StoreType; extra?: Partial<StoreThroughputOptions> }> = [
    { label: 'memory', type: 'memory' },
    { label: 'sqlite (NORMAL)', type: 'sqlite' },
    { label: 'sqlite (FULL)', type: 'sqlite', extra: { sqliteSynchronous: 'FULL' } },
    { label: 'postgres', type: 'postgres' },
    { label: 'redis', type: 'redis' },
  ];
  for (const run of runs) {
    try {
      const result = await storeThroughput(run.type, { seconds, concurrency, ...run.extra });
      const perFlush = result.flushes > 0 ? ((result.adds * 2) / result.flushes).toFixed(1) : '-';
      rows.push(`${run.label.padEnd(18)} ${String(result.addsPerSec).padStart(10)} ${String(result.adds).padStart(10)} ${perFlush.padStart(12)}`);
    } catch (error) {
      rows.push(`${run.label.padEnd(18)} unavailable: ${(error as Error).message}`);
    }
  }
  console.log(`store throughput: ${seconds} s per store, ${concurrency} concurrent add+remove loops, 100-byte jobs`);
  console.log(`${'store'.padEnd(18)} ${'adds/s'.padStart(10)} ${'adds'.padStart(10)} ${'ops/commit'.padStart(12)}`);
  for (const row of rows) console.log(row);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
