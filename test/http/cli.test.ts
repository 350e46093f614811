/** Opening the HTTP front from the command line, gearmand style (-r http / --protocol=http). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startGearport } from '../helpers/servers.js';
import { parseCommandLine } from '../../src/cli-options.js';

test('--protocol=http with --http-port opens the HTTP front beside the Gearman port', async () => {
  const httpPort = await freePort();
  const server = await startGearport({ args: ['--queue-type', 'none', '--protocol=http', '--http-port', String(httpPort)] });
  try {
    let res: Response | undefined;
    for (let i = 0; i < 200 && res === undefined; i++) {
      res = await fetch(`http://127.0.0.1:${httpPort}/_gearport/health`).catch(() => undefined);
      if (res === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(res?.status, 200);
  } finally {
    await server.stop();
  }
});

test('-r http alone means port 8080, as gearmand; the HTTP limits have flags with defaults', () => {
  assert.equal(parseCommandLine(['-r', 'http', '-L', '127.0.0.1']).config.httpPort, 8080);
  assert.equal(parseCommandLine([]).config.httpPort, undefined);
  const c = parseCommandLine(['-L', '127.0.0.1', '--http-port', '9000', '--http-max-body', '2m', '--http-wait-timeout', '1000', '--http-max-connections-per-address', '0']).config;
  assert.equal(c.httpMaxBodyBytes, 2 * 1024 * 1024);
  assert.equal(c.httpWaitTimeoutMs, 1000);
  assert.equal(c.httpMaxConnectionsPerAddress, 0);
  assert.throws(() => parseCommandLine(['-L', '127.0.0.1', '--http-wait-timeout', '600000']), /httpWaitTimeoutMs must not exceed/);
});
