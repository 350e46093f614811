import type { JobStore } from '../store/types.js';
import type { GearportConfig } from './config.js';
import type { Logger } from './logger.js';

/** The durable store chosen by --queue-type; undefined for memory only. */
export async function openStore(config: GearportConfig, _log: Logger): Promise<JobStore | undefined> {
  switch (config.queueType) {
    case 'builtin':
    case 'memory':
    case 'none':
      return undefined;
    default:
      throw new Error(`queue type ${config.queueType} is not available yet`);
  }
}
