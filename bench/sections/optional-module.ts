/**
 * Bench modules written by others (client-roundtrip, store-throughput) may not exist yet.
 * Load one by a computed specifier so tsc does not need it, and report its absence.
 */
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** dist/bench, where the compiled bench modules sit. */
export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function loadOptional(file: string): Promise<{ module?: Record<string, unknown>; missing?: string }> {
  const specifier = resolve(benchDir, file);
  try {
    return { module: (await import(specifier)) as Record<string, unknown> };
  } catch (err) {
    return { missing: `${file} not available (${(err as Error).message.split('\n')[0]})` };
  }
}
