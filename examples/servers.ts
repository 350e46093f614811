import type { ServerAddress } from '../src/client/index.js';

/** Servers from GEARMAN_SERVERS ("host:port,host:port"), default 127.0.0.1:4730. */
export function serversFromEnv(env: NodeJS.ProcessEnv = process.env): ServerAddress[] {
  const list = env.GEARMAN_SERVERS ?? '127.0.0.1:4730';
  return list.split(',').map((entry) => {
    const [host, port] = entry.trim().split(':');
    return { host: host || '127.0.0.1', port: port ? Number(port) : 4730 };
  });
}
