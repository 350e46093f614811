/** Servers as the bench starts them, on top of test/helpers/servers.ts. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { startGearport, type RunningServer } from '../test/helpers/servers.js';
import { benchConfig } from './config.js';
import { PINNED_CPUS, pinToCpu } from './proc.js';

/**
 * Gearport with its own throw-away data dir, so its default SQLite file never lands in the
 * tree, and with the NODE_OPTIONS `npm start` uses (BENCH_GEARPORT_NODE_OPTIONS='' for none).
 */
export async function startGearportIsolated(args: string[], options: { http?: boolean } = {}): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gearport-bench-'));
  try {
    const nodeOptions = benchConfig.gearportNodeOptions;
    const server = await startGearport({ args: ['--data-dir', dataDir, ...args], http: options.http, env: nodeOptions === '' ? undefined : { NODE_OPTIONS: nodeOptions } });
    return {
      ...server,
      async stop(signal?: NodeJS.Signals) {
        await server.stop(signal);
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** With BENCH_PIN, move a started server (every thread) onto its own core; returns it. */
export function pinned(server: RunningServer): RunningServer {
  if (benchConfig.pin) pinToCpu(server.pid, PINNED_CPUS.server);
  return server;
}

/** Resolve once the admin `status` shows `workers` workers for `fn` (bounded wait). */
export async function waitForWorkers(host: string, port: number, fn: string, workers: number, timeoutMs = 10_000, exactly = false): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await adminCommand(host, port, 'status');
    const line = text.split('\n').find((l) => l.startsWith(`${fn}\t`));
    const count = line === undefined ? 0 : Number(line.split('\t')[3]);
    if (exactly ? count === workers : count >= workers) return;
    if (Date.now() > until) throw new Error(`${workers} workers for ${fn} did not register within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function adminCommand(host: string, port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => socket.write(`${command}\n`));
    let out = '';
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.endsWith('.\n')) socket.destroy();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('error', () => {});
  });
}
