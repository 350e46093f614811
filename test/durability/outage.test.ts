/**
 * Issue 5, store outages under load, without restarting Gearport:
 * - Redis: a private redis-server child is killed and started again on the same port;
 * - PostgreSQL: a TCP proxy between Gearport and the machine's server is stopped and started
 *   again on the same port (the real server is never touched).
 * While the store is down, background submissions are refused with ERROR QUEUE_ERROR and
 * foreground jobs still work; once it is back, background submissions are acknowledged again;
 * every job acknowledged (before or after the outage) runs, and no refused one does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketType as T } from '../../src/protocol/index.js';
import { skipUnless, type RunningServer } from '../helpers/servers.js';
import { startTcpProxy, type TcpProxy } from '../store/tcp-proxy.js';
import { skipUnlessListening } from '../store/helpers.js';
import { SubmissionLoad, foregroundRoundTrip, missingFrom, newStore, runJobs, startOn, startPrivateRedis, workloads, type StoreUnderTest } from './harness.js';

const FUNCTION = 'outage-fn';
/** Short, so refusals come quickly while the store is down. */
const STORE_TIMEOUT_MS = 1000;

interface Backend {
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function outageScenario(server: RunningServer, backend: Backend, label: string, note: (line: string) => void): Promise<void> {
  const load = new SubmissionLoad(server.port, {
    connections: 2,
    inFlight: 20,
    total: 200_000,
    maxMs: 60_000,
    make: (i) => ({ type: T.SUBMIT_JOB_BG, functionName: FUNCTION, unique: `o-${i}`, data: Buffer.from(`w-${i}`) }),
  });
  try {
    await load.until(() => load.acknowledged.length >= 300, 20_000, 'acknowledgements before the outage');

    await backend.stop();
    const refusedBefore = load.refused.length;
    await load.until(() => load.refused.length >= refusedBefore + 10, 20_000, 'refusals during the outage');
    const codes = new Set(load.refused.map((r) => r.error));
    assert.deepEqual([...codes], ['QUEUE_ERROR'], 'refusals are ERROR QUEUE_ERROR');
    // The log line travels through a pipe: give it a moment to arrive.
    for (let i = 0; i < 50 && !/store unavailable/.test(server.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(server.stderr(), /store unavailable/, 'the outage is logged');
    // Foreground jobs are not stored, so they keep working.
    assert.equal(await foregroundRoundTrip(server.port, `${FUNCTION}-fg`, 'ping'), 'done:ping');

    await backend.start();
    const ackedAtRestart = load.acknowledged.length;
    await load.until(() => load.acknowledged.length >= ackedAtRestart + 200, 30_000, `background submissions acknowledged again after ${label} came back`);
    load.stop();
    await load.done;
    assert.equal(load.unanswered.length, 0, 'every submission was answered');

    const ran = workloads(await runJobs(server.port, FUNCTION, { timeoutMs: 30_000 }));
    const acknowledged = workloads(load.acknowledged);
    const lost = missingFrom(acknowledged, ran);
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acknowledged.size} acknowledged jobs did not run`);
    const refusedButRan = [...workloads(load.refused)].filter((w) => ran.has(w));
    assert.deepEqual(refusedButRan.slice(0, 10), [], 'a refused job ran');
    note(`${label}: ${acknowledged.size} acknowledged (${load.acknowledged.length - ackedAtRestart} after recovery), ${load.refused.length} refused, ${ran.size} ran`);
  } finally {
    load.stop();
    await load.done;
  }
}

test('redis: refusals while Redis is down, recovery without a Gearport restart, nothing acknowledged lost', { skip: skipUnless('redis-server'), timeout: 90_000 }, async (t) => {
  const redis = await startPrivateRedis();
  let store: StoreUnderTest | undefined;
  let server: RunningServer | undefined;
  try {
    store = newStore('redis', { redisPort: redis.port });
    server = await startOn(store, ['--store-timeout', String(STORE_TIMEOUT_MS)]);
    await outageScenario(server, redis, 'Redis', (line) => t.diagnostic(line));
  } finally {
    await server?.stop();
    await store?.cleanup();
    await redis.stop();
  }
});

test('postgres: refusals while the line to PostgreSQL is cut, recovery without a Gearport restart, nothing acknowledged lost', { skip: await skipUnlessListening('PostgreSQL', 5432), timeout: 90_000 }, async (t) => {
  let proxy: TcpProxy | undefined = await startTcpProxy(5432);
  const proxyPort = proxy.port;
  const store = newStore('postgres', { pgConninfo: `host=127.0.0.1 port=${proxyPort} dbname=test user=postgres` });
  let server: RunningServer | undefined;
  const backend: Backend = {
    stop: async () => {
      await proxy?.stop();
      proxy = undefined;
    },
    start: async () => {
      proxy = await startTcpProxy(5432, proxyPort);
    },
  };
  try {
    server = await startOn(store, ['--store-timeout', String(STORE_TIMEOUT_MS)]);
    await outageScenario(server, backend, 'PostgreSQL', (line) => t.diagnostic(line));
  } finally {
    await server?.stop();
    await proxy?.stop();
    await store.cleanup(); // straight to 5432, not through the proxy
  }
});
