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
import { httpAttacks, jobsOf, measureAttack, submitBackgroundJobs, type Attack, type Measured } from './attacks.js';

const LATENCY_BOUND_MS = 500;
const RSS_BUDGET_BYTES = 256 * 1024 * 1024;
const HEADERS_TIMEOUT_MS = 1500;
const REQUEST_TIMEOUT_MS = 2500;
const KEPT_JOBS = 100;
const KEEP_FN = 'robustness_keep_http';

const describeResult = (m: Measured) => JSON.stringify({ ...m, peakRssMiB: Math.round(m.peakRssBytes / 2 ** 20) });

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

  async function underAttack(name: string): Promise<Measured> {
    const m = await measureAttack(server, attacks.get(name)!, 'http');
    const why = describeResult(m);
    assert.ok(m.survived, `server died: ${why}\n${server.stderr()}`);
    assert.ok(m.probe.attempts >= 10, `the legitimate caller barely ran: ${why}`);
    assert.equal(m.probe.ok, m.probe.attempts, `the legitimate caller saw failures: ${why}`);
    assert.ok(m.probe.p99Ms < LATENCY_BOUND_MS, `legitimate p99 ${m.probe.p99Ms.toFixed(1)} ms >= ${LATENCY_BOUND_MS}: ${why}`);
    assert.ok(m.peakRssBytes < RSS_BUDGET_BYTES, `peak RSS over budget: ${why}`);
    assert.equal(await jobsOf(server.host, server.port, KEEP_FN), KEPT_JOBS, `background jobs lost: ${why}`);
    return m;
  }

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

  test('malformed request lines, headers and chunked encodings get 4xx', async () => {
    const m = await underAttack('malformed requests');
    for (const [key, value] of Object.entries(m.notes)) {
      if (key === 'connections') continue;
      assert.match(key, /^http4\d\d$/, `unexpected outcome ${key}=${value}: ${describeResult(m)}`);
    }
  });
});
