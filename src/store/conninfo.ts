/**
 * gearmand's --libpq-conninfo takes a libpq connection string: either a URI
 * (postgresql://user@host:5432/db) or `keyword=value` pairs, which node-postgres does not parse.
 * This turns either form into a node-postgres config. Empty means the PG* environment
 * variables (PGHOST, PGUSER, ...), which node-postgres reads itself, as libpq does.
 */
import type { PoolConfig } from 'pg';

const KEYWORDS = {
  host: 'host',
  hostaddr: 'host',
  port: 'port',
  dbname: 'database',
  user: 'user',
  password: 'password',
  application_name: 'application_name',
  connect_timeout: 'connect_timeout',
  sslmode: 'sslmode',
  options: 'options',
} as const;

class ConninfoError extends Error {
  override name = 'ConninfoError';
}

/** Split `a=1 b = 'x y' c=it\'s` into pairs, following libpq's quoting rules. */
function parseConninfoPairs(conninfo: string): Map<string, string> {
  const pairs = new Map<string, string>();
  let at = 0;
  const skipSpace = (): void => {
    while (at < conninfo.length && /\s/.test(conninfo[at]!)) at += 1;
  };
  for (;;) {
    skipSpace();
    if (at >= conninfo.length) return pairs;
    const keyStart = at;
    while (at < conninfo.length && conninfo[at] !== '=' && !/\s/.test(conninfo[at]!)) at += 1;
    const key = conninfo.slice(keyStart, at);
    skipSpace();
    if (conninfo[at] !== '=') throw new ConninfoError(`missing "=" after "${key}" in connection info string`);
    at += 1;
    skipSpace();
    let value = '';
    if (conninfo[at] === "'") {
      at += 1;
      for (;;) {
        if (at >= conninfo.length) throw new ConninfoError(`unterminated quoted string in connection info string`);
        const ch = conninfo[at]!;
        if (ch === '\\' && at + 1 < conninfo.length) {
          value += conninfo[at + 1];
          at += 2;
        } else if (ch === "'") {
          at += 1;
          break;
        } else {
          value += ch;
          at += 1;
        }
      }
    } else {
      while (at < conninfo.length && !/\s/.test(conninfo[at]!)) {
        if (conninfo[at] === '\\' && at + 1 < conninfo.length) at += 1;
        value += conninfo[at];
        at += 1;
      }
    }
    pairs.set(key, value);
  }
}

export function conninfoToPoolConfig(conninfo: string): PoolConfig {
  const text = conninfo.trim();
  if (text === '') return {};
  if (/^postgres(ql)?:\/\//.test(text)) return { connectionString: text };
  const config: Record<string, unknown> = {};
  for (const [key, value] of parseConninfoPairs(text)) {
    if (!(key in KEYWORDS)) throw new ConninfoError(`invalid connection option "${key}"`);
    const target = KEYWORDS[key as keyof typeof KEYWORDS];
    if (target === 'port') {
      const port = Number(value);
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new ConninfoError(`invalid port number: "${value}"`);
      config.port = port;
    } else if (target === 'connect_timeout') {
      const seconds = Number(value);
      if (!Number.isFinite(seconds) || seconds < 0) throw new ConninfoError(`invalid connect_timeout: "${value}"`);
      if (seconds > 0) config.connectionTimeoutMillis = seconds * 1000;
    } else if (target === 'sslmode') {
      // libpq semantics: disable/allow/prefer do not require TLS; require encrypts without
      // verifying; verify-ca/verify-full verify the server.
      if (value === 'disable' || value === 'allow' || value === 'prefer') config.ssl = false;
      else if (value === 'require') config.ssl = { rejectUnauthorized: false };
      else if (value === 'verify-ca' || value === 'verify-full') config.ssl = true;
      else throw new ConninfoError(`invalid sslmode value: "${value}"`);
    } else {
      config[target] = value;
    }
  }
  return config as PoolConfig;
}
