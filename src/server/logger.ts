import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import type { VerboseLevel } from './config.js';

/** gearmand's --verbose levels mapped onto pino's. */
const levels: Record<VerboseLevel, string> = {
  FATAL: 'fatal',
  ALERT: 'fatal',
  CRITICAL: 'fatal',
  ERROR: 'error',
  WARNING: 'warn',
  NOTICE: 'info',
  INFO: 'info',
  DEBUG: 'debug',
};

/** JSON lines to stderr, a file (appended), or nowhere ('none'), as gearmand's --log-file. */
export function createLogger(verbose: VerboseLevel, logFile: string): Logger {
  const level = levels[verbose];
  if (logFile === 'none') return pino({ level: 'silent' });
  const destination = pino.destination({ fd: logFile === 'stderr' ? 2 : openLogFile(logFile) });
  // A later write error (disk full, file system gone) is said once; the server carries on.
  destination.once('error', (err: Error) => process.stderr.write(`gearport: cannot write the log to ${logFile}: ${err.message}\n`));
  return pino({ level, base: { name: 'gearport' } }, destination);
}

/** Opened now, not in the background: a file that cannot be made stops start-up with its reason. */
function openLogFile(file: string): number {
  try {
    mkdirSync(dirname(file), { recursive: true });
    return openSync(file, 'a');
  } catch (err) {
    throw new Error(`cannot open the log file ${file}: ${(err as Error).message}`);
  }
}

export type { Logger };
