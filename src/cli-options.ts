import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, MAX_BUSY_POLL_MICROS, QueueTypes, VerboseLevels, defaultConfig, validateConfig, type GearportConfig, type QueueType, type VerboseLevel } from './server/config.js';
import { VERSION } from './server/version.js';
import { addSecurityOptions, securityFromOptions } from './security/cli.js';

/** A command line that cannot start the server: message for stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CliResult {
  /** 'run' starts the server; 'exit' means help, version or --check-args was printed. */
  readonly action: 'run' | 'exit';
  readonly config: GearportConfig;
  readonly pidFile?: string;
  readonly output?: string;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer, got '${value}'.`);
    const n = Number.parseInt(value, 10);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${n}.`);
    return n;
  };
}

/** Sizes accept a suffix: 512k, 16m, 1g (powers of 1024). */
function size(value: string): number {
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a size such as 65536, 512k or 16m, got '${value}'.`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number.parseInt(m[1]!, 10) * unit;
}

const port = integer(0, 65535);

/** GEARMAND_PORT, checked like --port but named in the message. */
function portFromEnv(value: string): number {
  try {
    return port(value);
  } catch (err) {
    throw new UsageError(`GEARMAND_PORT: ${(err as Error).message}`);
  }
}
const collect = (value: string, previous: string[] = []) => [...previous, value];

function buildProgram(): Command {
  const d = defaultConfig();
  const program = new Command('gearport')
    .description('A Gearman job server (drop-in for gearmand) with a hardened HTTP front.')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });

  // gearmand-compatible options (gearman-spec 5)
  program
    .option('-p, --port <port>', `Gearman port (binary and admin protocols); env GEARMAND_PORT when not given`, port)
    .option('-L, --listen <address>', 'address to listen on (repeatable); default: every address', collect)
    .option('-b, --backlog <n>', 'listen backlog', integer(1, 65535), d.backlog)
    .option('-t, --threads <n>', 'accepted for gearmand compatibility; Gearport runs one event loop', integer(0, 1024), d.threads)
    .addOption(new Option('-q, --queue-type <type>', 'durable queue for background jobs').choices([...QueueTypes]).default(d.queueType))
    .option('-j, --job-retries <n>', 'retries after a worker is lost before the job fails (0 = unlimited)', integer(0, 255), d.jobRetries)
    .option('-w, --worker-wakeup <n>', 'sleeping workers woken per new job (0 = all)', integer(0, 255), d.workerWakeup)
    .option('-R, --round-robin', 'accepted: grabs always rotate over a worker\'s functions')
    .option('--exceptions', 'enable the exceptions option on every connection')
    .option('--job-handle-prefix <prefix>', 'job handle prefix', d.jobHandlePrefix)
    .option('--hashtable-buckets <n>', 'accepted for gearmand compatibility (no effect)', integer(1, 2 ** 31 - 1))
    .option('--keepalive', 'accepted: accepted sockets always use TCP keepalive')
    .option('--keepalive-idle <n>', 'accepted for compatibility (system default is used)', integer(-1, 2 ** 31 - 1))
    .option('--keepalive-interval <n>', 'accepted for compatibility (system default is used)', integer(-1, 2 ** 31 - 1))
    .option('--keepalive-count <n>', 'accepted for compatibility (system default is used)', integer(-1, 2 ** 31 - 1))
    .addOption(new Option('-r, --protocol <name>', 'also serve this protocol (gearmand: -r http)').choices(['http']))
    .option('--http-port <port>', 'HTTP front port (default 8080 with -r http)', port)
    .option('-l, --log-file <file>', "log file, or 'stderr' or 'none'", d.logFile)
    .addOption(new Option('--verbose <level>', 'log level').choices([...VerboseLevels]).default(d.verbose))
    .option('-P, --pid-file <file>', 'write the process id to this file')
    .option('-f, --file-descriptors <n>', 'accepted for compatibility (use ulimit -n)', integer(1, 2 ** 31 - 1))
    .option('--coredump', 'accepted for compatibility (no effect)')
    .option('--check-args', 'validate the options and exit')
    .option('--config-file <file>', 'read more options from this file (whitespace separated)')
    // durable queues (gearman-spec 4)
    .option('--data-dir <dir>', 'directory of the default SQLite queue file', d.dataDir)
    .option('--libsqlite3-db <file>', 'SQLite queue file (default <data-dir>/gearport.sqlite)')
    .option('--libsqlite3-table <name>', 'SQLite queue table', d.sqliteTable)
    .addOption(new Option('--sqlite-synchronous <mode>', 'NORMAL survives a crash or kill -9; FULL also survives power loss').choices(['NORMAL', 'FULL', 'EXTRA']).default(d.sqliteSynchronous))
    .option('--sqlite-wal-limit <bytes>', 'WAL size at which writes wait for the checkpoint thread to catch up (0 = no thread: SQLite checkpoints inside commits)', size, d.sqliteWalLimit)
    .option('--libpq-conninfo <conninfo>', 'PostgreSQL connection string', d.postgresConninfo)
    .option('--libpq-table <name>', 'PostgreSQL queue table', d.postgresTable)
    .option('--redis-server <host>', 'Redis host', d.redisHost)
    .option('--redis-port <port>', 'Redis port', port, d.redisPort)
    .option('--redis-password <password>', 'Redis password (AUTH); env GEARPORT_REDIS_PASSWORD or --config-file keep it out of ps')
    .option('--redis-username <user>', 'Redis 6 ACL user to AUTH as with --redis-password (default: the default user)')
    .option('--redis-prefix <prefix>', 'prefix of Gearport\'s Redis keys', d.redisKeyPrefix)
    .option('--store-queue-on-shutdown', 'accepted for compatibility: Gearport always stores background jobs before acknowledging them')
    .option('--store-timeout <ms>', 'time a store operation may take before it counts as failed', integer(1, 600_000), d.storeTimeoutMs)
    // limits
    .option('--max-packet-size <bytes>', 'largest packet payload accepted', size, d.maxPacketSize)
    .option('--max-admin-line <bytes>', 'longest admin text line', size, d.maxAdminLineLength)
    .option('--max-connections <n>', 'open connections on the Gearman port', integer(1, 10_000_000), d.maxConnections)
    .option('--max-connections-per-address <n>', 'open connections from one address (0 = no limit)', integer(0, 10_000_000), d.maxConnectionsPerAddress)
    .option('--output-high-water <bytes>', 'unsent output at which reading from a connection pauses', size, d.outputHighWaterMark)
    .option('--max-output-buffer <bytes>', 'unsent output at which a slow reader is disconnected', size, d.maxOutputBuffer)
    .option('--silent-timeout <ms>', 'close connections that send nothing for this long after connecting, or that stall this long mid-packet or without reading their replies', integer(1, 2 ** 31 - 1), d.silentConnectionTimeoutMs)
    .option('--busy-poll <µs>', 'after input, keep polling this long before sleeping: lower latency for up to a core of CPU (0 = off)', integer(0, MAX_BUSY_POLL_MICROS), d.busyPollMicros)
    .option('--max-queue <n>', 'default maxqueue of every function (0 = unlimited)', integer(0, 2 ** 31 - 1), d.defaultMaxQueue)
    .option('--max-job-memory <bytes>', 'bytes all jobs may hold in memory: workloads, 320 per job, 16 per waiting client (0 = unlimited)', size, d.maxJobBytes)
    .option('--max-functions <n>', 'distinct function names kept (0 = unlimited)', integer(0, 10_000_000), d.maxFunctions)
    .option('--shutdown-timeout <ms>', 'graceful shutdown waits this long for running jobs', integer(1, 2 ** 31 - 1), d.shutdownTimeoutMs)
    // limits of the HTTP front
    .option('--http-max-header-size <bytes>', 'request line plus headers (431 beyond)', size, d.httpMaxHeaderBytes)
    .option('--http-max-url <bytes>', 'request target length (414 beyond)', size, d.httpMaxUrlBytes)
    .option('--http-max-body <bytes>', 'request body size (413 beyond)', size, d.httpMaxBodyBytes)
    .option('--http-headers-timeout <ms>', 'time to receive request headers (408 beyond)', integer(1, 2 ** 31 - 1), d.httpHeadersTimeoutMs)
    .option('--http-request-timeout <ms>', 'time to receive a whole request (408 beyond)', integer(1, 2 ** 31 - 1), d.httpRequestTimeoutMs)
    .option('--http-keepalive-timeout <ms>', 'idle keep-alive connections are closed after this long', integer(1, 2 ** 31 - 1), d.httpKeepAliveTimeoutMs)
    .option('--http-max-requests-per-connection <n>', 'requests per HTTP connection (0 = unlimited)', integer(0, 2 ** 31 - 1), d.httpMaxRequestsPerConnection)
    .option('--http-max-pipelined <n>', 'pipelined requests of one HTTP connection worked on at once', integer(1, 1024), d.httpMaxPipelined)
    .option('--http-max-connections <n>', 'open HTTP connections (503 beyond)', integer(1, 10_000_000), d.httpMaxConnections)
    .option('--http-max-connections-per-address <n>', 'open HTTP connections from one address (0 = no limit)', integer(0, 10_000_000), d.httpMaxConnectionsPerAddress)
    .option('--http-require-worker', 'refuse HTTP jobs (404) for functions that no worker has registered')
    .option('--http-max-waits-per-address <n>', 'foreground HTTP jobs awaited at once per address (429 beyond; 0 = no limit)', integer(0, 10_000_000), d.httpMaxWaitsPerAddress)
    .option('--http-wait-timeout <ms>', 'how long a foreground HTTP caller waits for its result (504 beyond)', integer(1, 2 ** 31 - 1), d.httpWaitTimeoutMs)
    .option('--http-max-wait-timeout <ms>', 'upper bound of the X-Gearman-Timeout request header', integer(1, 2 ** 31 - 1), d.httpMaxWaitTimeoutMs);
  addSecurityOptions(program);
  // Hidden, so that commander parses them as the flags they are (a value that looks like one,
  // `--redis-password -d`, stays a value); refusedOption() then names the one given.
  for (const flag of Object.keys(refused)) program.addOption(new Option(`${flag} [value]`).hideHelp());
  return program;
}

/** Options given by gearmand that Gearport refuses with a reason instead of ignoring. */
const refused: Record<string, string> = {
  '-v': '-v is deprecated in gearmand too; use --verbose LEVEL',
  '-d': 'Gearport does not daemonize; run it under a service manager (systemd, runit, docker)',
  '--daemon': 'Gearport does not daemonize; run it under a service manager (systemd, runit, docker)',
  '-u': 'Gearport does not switch users; start it as the user it should run as',
  '--user': 'Gearport does not switch users; start it as the user it should run as',
  '--syslog': 'syslog output is not supported; use --log-file or stderr with your service manager',
  ...unsupportedQueue('MySQL', ['host', 'port', 'user', 'password', 'db', 'table'].map((o) => `--mysql-${o}`)),
  ...unsupportedQueue('memcached', ['--libmemcached-servers', '--libmemcached-prefix']),
};

/** The first refused option given, as a usage error with its reason. */
function refusedOption(program: Command): UsageError | undefined {
  for (const [flag, reason] of Object.entries(refused)) {
    const option = program.options.find((o) => o.short === flag || o.long === flag)!;
    if (program.getOptionValue(option.attributeName()) !== undefined) return new UsageError(`${flag}: ${reason}`);
  }
  return undefined;
}

/** The options of a gearmand queue Gearport does not have, each refused with the queues it has. */
function unsupportedQueue(name: string, flags: readonly string[]): Record<string, string> {
  const reason = `Gearport has no ${name} queue; use -q sqlite (the default), postgres or redis`;
  return Object.fromEntries(flags.map((flag) => [flag, reason]));
}

/** Arguments from a config file: whitespace-separated, in command-line syntax (gearmand). */
function configFileArgs(argv: readonly string[]): string[] {
  const index = argv.findIndex((a) => a === '--config-file' || a.startsWith('--config-file='));
  if (index === -1) return [];
  const file = argv[index]!.includes('=') ? argv[index]!.slice('--config-file='.length) : argv[index + 1];
  if (file === undefined) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  return text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(' ')
    .split(/\s+/)
    .filter((a) => a !== '');
}

/** Parse gearport's command line into a validated config. Throws UsageError (exit 2). */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  const args = [...configFileArgs(argv), ...argv];
  const program = buildProgram();
  try {
    program.parse(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') {
        return { action: 'exit', config: defaultConfig(), output: program.helpInformation() };
      }
      if (err.code === 'commander.version') return { action: 'exit', config: defaultConfig(), output: `gearport ${VERSION}\n` };
      throw new UsageError(err.message.replace(/^error: /, ''));
    }
    throw err;
  }
  const refusal = refusedOption(program);
  if (refusal !== undefined) throw refusal;
  const o = program.opts();
  const config = defaultConfig();
  config.port = o.port ?? (env.GEARMAND_PORT ? portFromEnv(env.GEARMAND_PORT) : config.port);
  config.listen = o.listen ?? [];
  config.backlog = o.backlog;
  config.threads = o.threads;
  config.queueType = o.queueType as QueueType;
  config.jobRetries = o.jobRetries;
  config.workerWakeup = o.workerWakeup;
  config.roundRobin = o.roundRobin === true;
  config.exceptions = o.exceptions === true;
  config.jobHandlePrefix = o.jobHandlePrefix;
  config.httpPort = o.httpPort ?? (o.protocol === 'http' ? 8080 : undefined);
  config.logFile = o.logFile;
  config.verbose = o.verbose as VerboseLevel;
  config.dataDir = o.dataDir;
  config.sqliteFile = o.libsqlite3Db;
  config.sqliteTable = o.libsqlite3Table;
  config.sqliteSynchronous = o.sqliteSynchronous;
  config.sqliteWalLimit = o.sqliteWalLimit;
  config.postgresConninfo = o.libpqConninfo;
  config.postgresTable = o.libpqTable;
  config.redisHost = o.redisServer;
  config.redisPort = o.redisPort;
  config.redisPassword = o.redisPassword ?? (env.GEARPORT_REDIS_PASSWORD || undefined);
  config.redisUsername = o.redisUsername;
  config.redisKeyPrefix = o.redisPrefix;
  config.storeTimeoutMs = o.storeTimeout;
  config.maxPacketSize = o.maxPacketSize;
  config.maxAdminLineLength = o.maxAdminLine;
  config.maxConnections = o.maxConnections;
  config.maxConnectionsPerAddress = o.maxConnectionsPerAddress;
  config.outputHighWaterMark = o.outputHighWater;
  config.maxOutputBuffer = o.maxOutputBuffer;
  config.silentConnectionTimeoutMs = o.silentTimeout;
  config.busyPollMicros = o.busyPoll;
  config.defaultMaxQueue = o.maxQueue;
  config.maxJobBytes = o.maxJobMemory;
  config.maxFunctions = o.maxFunctions;
  config.shutdownTimeoutMs = o.shutdownTimeout;
  config.httpMaxHeaderBytes = o.httpMaxHeaderSize;
  config.httpMaxUrlBytes = o.httpMaxUrl;
  config.httpMaxBodyBytes = o.httpMaxBody;
  config.httpHeadersTimeoutMs = o.httpHeadersTimeout;
  config.httpRequestTimeoutMs = o.httpRequestTimeout;
  config.httpKeepAliveTimeoutMs = o.httpKeepaliveTimeout;
  config.httpMaxRequestsPerConnection = o.httpMaxRequestsPerConnection;
  config.httpMaxPipelined = o.httpMaxPipelined;
  config.httpMaxConnections = o.httpMaxConnections;
  config.httpMaxConnectionsPerAddress = o.httpMaxConnectionsPerAddress;
  config.httpMaxWaitsPerAddress = o.httpMaxWaitsPerAddress;
  config.httpRequireWorker = o.httpRequireWorker === true;
  config.httpWaitTimeoutMs = o.httpWaitTimeout;
  config.httpMaxWaitTimeoutMs = o.httpMaxWaitTimeout;
  config.security = securityFromOptions(o, env);
  try {
    validateConfig(config);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (o.checkArgs === true) return { action: 'exit', config, output: 'options are valid\n' };
  return { action: 'run', config, pidFile: o.pidFile };
}
