import { join } from 'node:path';
import { createStore, storeTypeFromQueueType, StoreType } from '../store/index.js';
import type { JobStore } from '../store/types.js';
import type { GearportConfig } from './config.js';
import type { Logger } from './logger.js';

/** The durable store chosen by --queue-type; undefined when jobs live in memory only. */
export function openStore(config: GearportConfig, log: Logger): JobStore | undefined {
  const type = storeTypeFromQueueType(config.queueType);
  if (type === undefined) throw new Error(`unknown queue type ${config.queueType}`);
  if (type === StoreType.MEMORY) return undefined; // no promise per job on the hot path
  const store = createStore({
    type,
    timeoutMs: config.storeTimeoutMs,
    sqlite: {
      file: config.sqliteFile ?? join(config.dataDir, 'gearport.sqlite'),
      table: config.sqliteTable,
      synchronous: config.sqliteSynchronous,
      walLimitBytes: config.sqliteWalLimit,
      onCheckpointFailure: (error) => log.warn({ store: 'sqlite', error: error.message }, 'SQLite checkpoint thread failed; checkpoints now run inside commits'),
    },
    postgres: { conninfo: config.postgresConninfo, table: config.postgresTable },
    redis: { host: config.redisHost, port: config.redisPort, username: config.redisUsername, password: config.redisPassword, keyPrefix: config.redisKeyPrefix },
  });
  store.onHealthChange((healthy, error) => {
    if (healthy) log.warn({ store: store.name }, 'store reachable again; background submissions accepted');
    else log.error({ store: store.name, error: error?.message }, 'store unavailable; background submissions are refused until it recovers');
  });
  return store;
}
