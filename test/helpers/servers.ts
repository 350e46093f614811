/**
 * Start real job servers for tests and benchmarks: Gearport (the built CLI) and gearmand
 * (Debian's gearman-job-server), each on a free loopback port, stopped by `stop()`.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

export interface RunningServer {
  readonly kind: 'gearport' | 'gearmand';
  readonly host: string;
  readonly port: number;
  /** HTTP port when one was requested. */
  readonly httpPort?: number;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Everything the process wrote to stderr so far (for assertion messages). */
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartOptions {
  /** Extra command-line arguments. */
  args?: string[];
  /** Also open an HTTP port (gearport: --http-port; gearmand: -r http --http-port). */
  http?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Fixed port instead of a free one (restart tests). */
  port?: number;
  /** The listen address (gearport only; default 127.0.0.1): always a loopback one in tests. */
  listen?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/helpers -> repository root */
export const repoRoot = resolve(here, '..', '..', '..');
export const gearportCli = resolve(repoRoot, 'dist', 'src', 'cli.js');

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Resolve once something accepts connections on loopback `port`; fail if `child` exits first. */
export async function waitForPort(port: number, child: ChildProcess, stderr: () => string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited before listening (code ${child.exitCode}, signal ${child.signalCode}): ${stderr()}`);
    }
    const ok = await new Promise<boolean>((res) => {
      const sock = connect({ host: '127.0.0.1', port }, () => {
        sock.destroy();
        res(true);
      });
      sock.on('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`server did not listen on ${port} within ${timeoutMs} ms: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function launch(kind: RunningServer['kind'], command: string, args: string[], port: number, httpPort: number | undefined, env?: NodeJS.ProcessEnv): Promise<RunningServer> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let errText = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (errText.length < 100_000) errText += d.toString();
  });
  const stderr = () => errText;
  try {
    await waitForPort(port, child, stderr);
    if (httpPort !== undefined) await waitForPort(httpPort, child, stderr);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    kind,
    host: '127.0.0.1',
    port,
    httpPort,
    pid: child.pid!,
    process: child,
    stderr,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      return new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          res();
        });
        child.kill(signal);
      });
    },
  };
}

export async function startGearport(options: StartOptions = {}): Promise<RunningServer> {
  const port = options.port ?? (await freePort());
  const httpPort = options.http ? await freePort() : undefined;
  const args = [gearportCli, '--port', String(port), '--listen', options.listen ?? '127.0.0.1'];
  if (httpPort !== undefined) args.push('--http-port', String(httpPort));
  const extra = options.args ?? [];
  // The default queue is a SQLite file under --data-dir: give each server its own, so no test
  // replays another's jobs, unless the test chose the queue itself.
  const choosesQueue = extra.some((a) => /^(--data-dir|--libsqlite3-db)(=|$)/.test(a));
  if (!choosesQueue) args.push('--data-dir', mkdtempSync(join(tmpdir(), 'gearport-test-')));
  args.push(...extra);
  return launch('gearport', process.execPath, args, port, httpPort, options.env);
}

export async function startGearmand(options: StartOptions = {}): Promise<RunningServer> {
  const port = options.port ?? (await freePort());
  const httpPort = options.http ? await freePort() : undefined;
  const args = ['--port', String(port), '--listen', '127.0.0.1', '--log-file', 'stderr', '--verbose', 'ERROR'];
  if (httpPort !== undefined) args.push('-r', 'http', '--http-port', String(httpPort));
  args.push(...(options.args ?? []));
  return launch('gearmand', '/usr/sbin/gearmand', args, port, httpPort, options.env);
}

export type ServerKind = RunningServer['kind'];
export function startServer(kind: ServerKind, options: StartOptions = {}): Promise<RunningServer> {
  return kind === 'gearport' ? startGearport(options) : startGearmand(options);
}

/**
 * Whether a test needing `tool` may skip: outside CI a missing third-party tool skips the
 * test; in CI (CI=true) it must be installed, so the test fails instead.
 */
export function skipUnless(tool: string): string | false {
  if (hasCommand(tool)) return false;
  if (process.env.CI === 'true') throw new Error(`${tool} is required in CI but is not installed`);
  return `${tool} is not installed`;
}
