/** Servers as the bench starts them, on top of test/helpers/servers.ts. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGearport, type RunningServer } from '../test/helpers/servers.js';

/** Gearport with its own throw-away data dir, so its default SQLite file never lands in the tree. */
export async function startGearportIsolated(args: string[]): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gearport-bench-'));
  try {
    const server = await startGearport({ args: ['--data-dir', dataDir, ...args] });
    return {
      ...server,
      async stop(signal?: NodeJS.Signals) {
        await server.stop(signal);
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

