/**
 * The bounds every attack test holds the server to (issue 4), on either port: it survives,
 * the legitimate caller gets every answer with p99 under LATENCY_BOUND_MS, peak RSS stays
 * under RSS_BUDGET_BYTES, and the background jobs accepted before the attack are all kept.
 */
import assert from 'node:assert/strict';
import type { RunningServer } from '../helpers/servers.js';
import { jobsOf, measureAttack, type Attack, type Measured } from './attacks.js';

export const LATENCY_BOUND_MS = 500;
export const RSS_BUDGET_BYTES = 256 * 1024 * 1024;
export const KEPT_JOBS = 100;

export function describeResult(m: Measured): string {
  return JSON.stringify({ ...m, peakRssMiB: Math.round(m.peakRssBytes / 2 ** 20) });
}

/** Run `attack` against `server` while the probe calls, and assert the bounds. */
export async function attackWithinBounds(server: RunningServer, attack: Attack, probe: 'gear' | 'http', keptFunction: string): Promise<Measured> {
  const m = await measureAttack(server, attack, probe);
  const why = describeResult(m);
  assert.ok(m.survived, `server died: ${why}\n${server.stderr()}`);
  assert.ok(m.probe.attempts >= 10, `the legitimate caller barely ran: ${why}`);
  assert.equal(m.probe.ok, m.probe.attempts, `the legitimate caller saw failures: ${why}`);
  assert.ok(m.probe.p99Ms < LATENCY_BOUND_MS, `legitimate p99 ${m.probe.p99Ms.toFixed(1)} ms >= ${LATENCY_BOUND_MS}: ${why}`);
  assert.ok(m.peakRssBytes < RSS_BUDGET_BYTES, `peak RSS over budget: ${why}`);
  assert.equal(await jobsOf(server.host, server.port, keptFunction), KEPT_JOBS, `background jobs lost: ${why}`);
  return m;
}
