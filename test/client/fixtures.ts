/** Shared setup for the client library tests: each suite runs against gearmand and Gearport. */
import { existsSync } from 'node:fs';
import { gearportCli, startServer, type RunningServer, type ServerKind, type StartOptions } from '../helpers/servers.js';

export const serverKinds: readonly ServerKind[] = ['gearmand', 'gearport'];

/** Skip reason for a server kind: Gearport only until its CLI is built. */
export function skipKind(kind: ServerKind): string | false {
  if (kind === 'gearport' && !existsSync(gearportCli)) return 'dist/src/cli.js is not built yet';
  return false;
}

/** Runs cleanups in reverse order (stop servers last). */
export class Resources {
  private readonly cleanups: (() => unknown)[] = [];

  add<T>(value: T, cleanup: (value: T) => unknown): T {
    this.cleanups.push(() => cleanup(value));
    return value;
  }

  async server(kind: ServerKind, options?: StartOptions): Promise<RunningServer> {
    const server = await startServer(kind, options);
    return this.add(server, (s) => s.stop());
  }

  async dispose(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // keep cleaning up
      }
    }
  }
}

export function addressOf(server: RunningServer): { host: string; port: number } {
  return { host: server.host, port: server.port };
}

/** Poll until `check` returns a value other than undefined/false, or fail after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A promise with its resolve function exposed: lets a handler wait for a test's go-ahead. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * One server for a whole suite (started in `before`, stopped in `after`): starting a server per
 * test dominates the run time. Tests sharing it use their own function names and uniques.
 */
export function suiteServer(kind: ServerKind, hooks: { before: (fn: () => Promise<void>) => void; after: (fn: () => Promise<void>) => void }): () => RunningServer {
  let server: RunningServer | undefined;
  hooks.before(async () => {
    server = await startServer(kind);
  });
  hooks.after(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('suite server not started');
    return server;
  };
}
