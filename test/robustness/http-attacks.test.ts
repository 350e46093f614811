/**
 * Hostile peers on the HTTP front (issue 4; gearmand's plugin has no limits: gearman-spec
 * 3.6, 7 B9). Same assertions as on the Gearman port: the server survives, a legitimate
 * HTTP caller (separate process, one background POST every 20 ms) keeps getting 200 with
 * p99 under LATENCY_BOUND_MS, peak RSS stays under RSS_BUDGET_BYTES, and background jobs
 * accepted before the attacks are all kept.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { httpAttacks, submitBackgroundJobs, type Attack, type Measured } from './attacks.js';
import { KEPT_JOBS, attackWithinBounds, describeResult } from './bounds.js';

const HEADERS_TIMEOUT_MS = 1500;
const REQUEST_TIMEOUT_MS = 2500;
const KEEP_FN = 'robustness_keep_http';

describe('HTTP front under attack', { timeout: 300_000 }, () => {
  let server: RunningServer;
  const attacks = new Map<string, Attack>(httpAttacks({ slowForMs: REQUEST_TIMEOUT_MS, clientTimeoutMs: 10_000 }).map((a) => [a.name, a]));

  before(async () => {
    server = await startGearport({
      http: true,
      args: [
        '--http-headers-timeout', String(HEADERS_TIMEOUT_MS),
        '--http-request-timeout', String(REQUEST_TIMEOUT_MS),
        '--http-max-body', '1m',
        '--http-wait-timeout', '1000',
        '--http-max-waits-per-address', '300',
        '--http-max-connections-per-address', '0',
      ],
    });
    await submitBackgroundJobs(server.host, server.port, KEEP_FN, KEPT_JOBS);
  });

  after(async () => {
    await server?.stop();
  });

  const underAttack = (name: string): Promise<Measured> => attackWithinBounds(server, attacks.get(name)!, 'http', KEEP_FN);

  test('hundreds of slow-header clients get 408 and are cut off', async () => {
    const m = await underAttack('slow headers (slowloris)');
    assert.equal(m.notes.stillOpen, 0, describeResult(m));
    assert.equal(m.notes.http408, m.notes.connections, describeResult(m));
  });

  test('hundreds of slow-body clients get 408 and are cut off', async () => {
    const m = await underAttack('slow bodies');
    assert.equal(m.notes.stillOpen, 0, describeResult(m));
    assert.equal(m.notes.http408, m.notes.connections, describeResult(m));
  });

  test('large bodies are refused with 413 from the declared length', async () => {
    const m = await underAttack('large bodies');
    assert.equal(m.notes.http413, m.notes.connections, describeResult(m));
  });

  test('a flood to a function with no worker gets 504/429, never hangs', async () => {
    const m = await underAttack('flood to a function with no worker');
    const answered = ((m.notes.http504 as number | undefined) ?? 0) + ((m.notes.http429 as number | undefined) ?? 0);
    assert.equal(answered, m.notes.connections, describeResult(m));
  });

  test('malformed request lines, headers and chunked encodings get 4xx (505 for HTTP/9.9)', async () => {
    const m = await underAttack('malformed requests');
    for (const [key, value] of Object.entries(m.notes)) {
      if (key === 'connections') continue;
      assert.match(key, /^http(4\d\d|505)$/, `unexpected outcome ${key}=${value}: ${describeResult(m)}`);
    }
  });
});
