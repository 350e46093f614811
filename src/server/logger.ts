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
  const destination = logFile === 'stderr' ? pino.destination(2) : pino.destination({ dest: logFile, append: true, mkdir: true });
  return pino({ level, base: { name: 'gearport' } }, destination);
}

export type { Logger };
