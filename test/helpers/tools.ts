/**
 * Run third-party command-line peers (the `gearman` tool, `gearadmin`, `php`) with bounded
 * time: one-shot commands via `runTool`, long-running workers via `spawnTool` (killed by id).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ToolResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Bytes for stdin; stdin is closed either way so no tool waits on it. */
  input?: string;
  timeoutMs?: number;
  cwd?: string;
  /** Extra environment variables, on top of this process's own. */
  env?: NodeJS.ProcessEnv;
}

/** Run to completion; a tool still running after `timeoutMs` is killed and reported as such. */
export function runTool(command: string, args: readonly string[], options: RunOptions = {}): Promise<ToolResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const env = options.env === undefined ? undefined : { ...process.env, ...options.env };
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: options.cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('latin1').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('latin1').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms; stdout ${JSON.stringify(stdout)} stderr ${JSON.stringify(stderr)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {
      /* tool exited without reading stdin */
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface SpawnedTool {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the tool exits by itself; rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | null>;
  /** Kill this process (by its own handle) if still running and wait for it. */
  stop(): Promise<void>;
}

/** Start a long-running tool (a worker); the caller must `stop()` it. */
export function spawnTool(command: string, args: readonly string[], options: { cwd?: string } = {}): SpawnedTool {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('latin1').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('latin1').on('data', (d: string) => (err += d));
  child.on('error', () => {
    /* reported through exit */
  });
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited(timeoutMs = 15_000) {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        exit,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${command} did not exit within ${timeoutMs} ms; stderr ${JSON.stringify(err)}`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    },
    async stop() {
      if (running()) child.kill('SIGKILL');
      await exit;
    },
  };
}
