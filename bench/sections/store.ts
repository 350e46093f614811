/**
 * Section "store": durable store throughput (bench/store-throughput.ts, written separately:
 * storeThroughput(type, {seconds, concurrency})), each type in its own child process.
 * The types come from the module's `storeTypes` export when it has one, else BENCH_STORES.
 */
import { resolve } from 'node:path';
import type { BenchConfig } from '../config.js';
import { runModuleInChild } from '../load-runner.js';
import { benchDir, loadOptional } from './optional-module.js';

const MODULE = 'store-throughput.js';
const CONCURRENCY = 16;

export interface StoreSectionResult {
  readonly skipped?: string;
  readonly runs: { label: string; result?: unknown; error?: string }[];
}

export async function storeSection(config: BenchConfig, log: (line: string) => void): Promise<StoreSectionResult> {
  const loaded = await loadOptional(MODULE);
  if (loaded.module === undefined) return { skipped: loaded.missing, runs: [] };
  if (typeof loaded.module.storeThroughput !== 'function') return { skipped: `${MODULE} does not export storeThroughput`, runs: [] };
  const exported = loaded.module.storeTypes;
  const types = Array.isArray(exported)
    ? exported.map(String)
    : (process.env.BENCH_STORES ?? 'sqlite,postgres,redis').split(',').map((s) => s.trim()).filter(Boolean);
  const runs: StoreSectionResult['runs'] = [];
  for (const type of types) {
    const label = `${type}, concurrency ${CONCURRENCY}`;
    try {
      const result = await runModuleInChild(resolve(benchDir, MODULE), 'storeThroughput', [type, { seconds: config.seconds, concurrency: CONCURRENCY }], config.seconds * 1000 + 60_000);
      runs.push({ label, result });
      log(`store ${label}: ${JSON.stringify(result)}`);
    } catch (err) {
      // A store whose service is not running here (PostgreSQL, Redis) fails alone.
      runs.push({ label, error: (err as Error).message.split('\n')[0] });
      log(`store ${label}: FAILED ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return { runs };
}
