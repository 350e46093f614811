/** The server most HTTP tests need, started before a describe block's tests and stopped after them. */
import { after, before } from 'node:test';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { RawWorker, type JobScript } from './raw-worker.js';

export interface HttpFixture {
  readonly server: RunningServer;
  /** The HTTP port. */
  readonly port: number;
  /** The RawWorker for the scripts given (throws if none were). */
  readonly worker: RawWorker;
}

/**
 * Call inside describe(): a Gearport with an HTTP port and no durable queue (`args` added),
 * and a RawWorker running `scripts` when given.
 */
export function httpFixture(args: readonly string[] = [], scripts?: Record<string, JobScript>): HttpFixture {
  let server: RunningServer | undefined;
  let worker: RawWorker | undefined;
  before(async () => {
    server = await startGearport({ http: true, args: ['--queue-type', 'none', ...args] });
    if (scripts !== undefined) worker = await RawWorker.start(server.port, scripts);
  });
  after(async () => {
    worker?.close();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    get port() {
      return server!.httpPort!;
    },
    get worker() {
      if (worker === undefined) throw new Error('httpFixture: no worker scripts were given');
      return worker;
    },
  };
}
