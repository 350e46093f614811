/**
 * Shared pieces of the interop tests: one fresh server per test on each server kind, the
 * `-h/-p` arguments the Gearman tools take, and bounded waits on admin `status`.
 */
import { describe, test } from 'node:test';
import { startServer, type RunningServer, type ServerKind } from '../helpers/servers.js';
import { serverKinds } from '../helpers/server-kinds.js';
import { AdminPeer } from '../helpers/scripted-peer.js';

export interface InteropContext {
  readonly kind: ServerKind;
  readonly server: RunningServer;
  /** `-h 127.0.0.1 -p <port>` for `gearman` and `gearadmin`. */
  readonly hostArgs: string[];
  /** One admin connection for checks, closed after the test. */
  admin(): Promise<AdminPeer>;
}

type InteropTest = (t: InteropContext) => Promise<void>;

/**
 * Declare tests that run against every server kind, each on a fresh server. `skipTool` is the
 * result of `skipUnless(tool)` for the third-party tool the suite needs.
 */
export function interop(title: string, skipTool: string | false, define: (it: (name: string, run: InteropTest, args?: string[] | Partial<Record<ServerKind, string[]>>) => void) => void): void {
  for (const { kind, skip } of serverKinds()) {
    describe(`${title} [${kind}]`, { skip: skipTool || skip }, () => {
      define((name, run, args = []) => {
        test(name, { timeout: 60_000 }, async () => {
          const server = await startServer(kind, { args: Array.isArray(args) ? args : (args[kind] ?? []) });
          let adminPeer: AdminPeer | undefined;
          const ctx: InteropContext = {
            kind,
            server,
            hostArgs: ['-h', '127.0.0.1', '-p', String(server.port)],
            async admin() {
              adminPeer ??= await AdminPeer.connect(server.port);
              return adminPeer;
            },
          };
          try {
            await run(ctx);
          } finally {
            await adminPeer?.close();
            await server.stop();
          }
        });
      });
    });
  }
}

/**
 * Wait until `status` shows `workers` registrations for `fn` (a tool worker has connected and
 * sent CAN_DO). Polls, bounded: there is no event to await from a separate process.
 */
export async function waitForWorkers(admin: AdminPeer, fn: string, workers: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = await admin.command('status\r\n', 'listing');
    const line = last.split('\n').find((l) => l.startsWith(`${fn}\t`));
    if (line !== undefined && Number(line.split('\t')[3]) >= workers) return;
    if (Date.now() > deadline) throw new Error(`no ${workers} worker(s) for ${fn} within ${timeoutMs} ms; status: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Lines of an admin listing or tool output, sorted, for order-free comparisons. */
export function sortedLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '').sort();
}
