/**
 * Which job servers a parameterized test runs against: gearmand 1.1.20 (the reference) and
 * Gearport. gearmand is required in CI; Gearport is skipped only until dist/src/cli.js is built.
 */
import { existsSync } from 'node:fs';
import { gearportCli, type ServerKind } from './servers.js';

export const GEARMAND_PATH = '/usr/sbin/gearmand';

export function serverKinds(): { kind: ServerKind; skip: string | false }[] {
  const gearmandMissing = !existsSync(GEARMAND_PATH);
  if (gearmandMissing && process.env.CI === 'true') throw new Error(`${GEARMAND_PATH} is required in CI`);
  return [
    { kind: 'gearmand', skip: gearmandMissing ? 'gearmand is not installed' : false },
    // In CI `npm test` builds the server first, so this never skips there.
    { kind: 'gearport', skip: existsSync(gearportCli) ? false : 'dist/src/cli.js is not built yet' },
  ];
}
