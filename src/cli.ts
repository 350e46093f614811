#!/usr/bin/env node
/** `gearport`: start the job server from gearmand-compatible command-line options. */
import { unlinkSync, writeFileSync } from 'node:fs';
import { UsageError, parseCommandLine, type CliResult } from './cli-options.js';
import { startGearport } from './server/server.js';
import { reloadAll } from './security/reload.js';
import './server/http-front-registration.js';

async function main(): Promise<void> {
  let parsed: CliResult;
  try {
    parsed = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`gearport: ${err.message}\nTry 'gearport --help'.\n`);
      process.exit(2);
    }
    throw err;
  }
  if (parsed.action === 'exit') {
    process.stdout.write(parsed.output ?? '');
    return;
  }
  // gearmand: SIGTERM/SIGINT stop at once, SIGUSR1 stops gracefully (spec 1.9). Handled from
  // the start: the port accepts connections before start-up has finished, and a signal in that
  // window stops the server once it is up instead of killing it mid-way.
  let stopAsked: boolean | undefined; // graceful?
  let stop = (graceful: boolean) => void (stopAsked ??= graceful);
  process.on('SIGTERM', () => stop(false));
  process.on('SIGINT', () => stop(false));
  process.on('SIGUSR1', () => stop(true));
  process.on('SIGPIPE', () => {});
  let server;
  try {
    server = await startGearport(parsed.config);
  } catch (err) {
    process.stderr.write(`gearport: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const running = server;
  stop = (graceful) => void running.stop(graceful);
  if (stopAsked !== undefined) stop(stopAsked);
  const { pidFile } = parsed;
  if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`);
  // SIGHUP re-reads the HTTP tokens file; a file that fails to parse keeps the old tokens.
  process.on('SIGHUP', () => {
    for (const r of reloadAll()) {
      if (r.ok) server.logger.info({ reloaded: r.name }, r.message);
      else server.logger.error({ reloaded: r.name, error: r.message }, 'reload failed; previous settings kept');
    }
  });
  await server.stopped;
  if (pidFile !== undefined) {
    try {
      unlinkSync(pidFile);
    } catch {
      // already gone
    }
  }
  process.exit(0);
}

void main();
