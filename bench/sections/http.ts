/**
 * Section "http": placeholder. The HTTP front's load generator (Gearport's HTTP front vs
 * gearmand's -r http) is to be added here with the same shape as the other sections:
 * a function taking the config and a logger, returning a JSON-serialisable result.
 */
import type { BenchConfig } from '../config.js';

export interface HttpSectionResult {
  readonly skipped?: string;
}

export async function httpSection(_config: BenchConfig, _log: (line: string) => void): Promise<HttpSectionResult> {
  return { skipped: 'HTTP load generator not written yet' };
}
