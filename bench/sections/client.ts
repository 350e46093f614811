/**
 * Section "client": round trips through the TypeScript client library (bench/client-roundtrip.ts,
 * written separately: clientRoundTrips(host, port, {seconds, concurrency})) against each
 * server. It runs in a child process like the raw load, so the orchestrator stays out of it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startGearmand, gearportCli, type RunningServer } from '../../test/helpers/servers.js';
import { startGearportIsolated } from '../servers.js';
import type { BenchConfig } from '../config.js';
import { runModuleInChild } from '../load-runner.js';
import { benchDir, loadOptional } from './optional-module.js';

const MODULE = 'client-roundtrip.js';
const CONCURRENCIES = [1, 16];

export interface ClientSectionResult {
  readonly skipped?: string;
  readonly runs: { label: string; result?: unknown; error?: string }[];
}

export async function clientSection(config: BenchConfig, log: (line: string) => void): Promise<ClientSectionResult> {
  const loaded = await loadOptional(MODULE);
  if (loaded.module === undefined) return { skipped: loaded.missing, runs: [] };
  if (typeof loaded.module.clientRoundTrips !== 'function') return { skipped: `${MODULE} does not export clientRoundTrips`, runs: [] };
  const servers: { label: string; start: () => Promise<RunningServer> }[] = [{ label: 'gearmand -t 4', start: () => startGearmand() }];
  if (existsSync(gearportCli)) servers.push({ label: 'gearport', start: () => startGearportIsolated([...config.gearportArgs]) });
  const runs: ClientSectionResult['runs'] = [];
  for (const { label, start } of servers) {
    const server = await start();
    try {
      for (const concurrency of CONCURRENCIES) {
        const runLabel = `${label}, concurrency ${concurrency}`;
        try {
          const result = await runModuleInChild(resolve(benchDir, MODULE), 'clientRoundTrips', [server.host, server.port, { seconds: config.seconds, concurrency }], config.seconds * 1000 + 60_000);
          runs.push({ label: runLabel, result });
          log(`client ${runLabel}: ${JSON.stringify(result)}`);
        } catch (err) {
          runs.push({ label: runLabel, error: (err as Error).message });
          log(`client ${runLabel}: FAILED ${(err as Error).message}`);
        }
      }
    } finally {
      await server.stop();
    }
  }
  return { runs };
}
