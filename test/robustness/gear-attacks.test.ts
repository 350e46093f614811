/**
 * Hostile peers on the Gearman port (issue 4). For each attack: the server survives, a
 * legitimate caller (separate process, ECHO every 20 ms) keeps getting answers with p99
 * under LATENCY_BOUND_MS, the server's peak RSS stays under RSS_BUDGET_BYTES, and the
 * background jobs accepted before the attacks are all still there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { gearAttacks, jobsOf, openSocket, collect, submitBackgroundJobs, type Attack, type Measured } from './attacks.js';
import { KEPT_JOBS, attackWithinBounds, describeResult } from './bounds.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { PacketType as T } from '../../src/protocol/index.js';

const SILENT_TIMEOUT_MS = 1500;
const MAX_CONNECTIONS = 1500;
const KEEP_FN = 'robustness_keep';

describe('Gearman port under attack', { timeout: 300_000 }, () => {
  let server: RunningServer;
  const attacks = new Map<string, Attack>(gearAttacks({ silentTimeoutMs: SILENT_TIMEOUT_MS }).map((a) => [a.name, a]));

  before(async () => {
    server = await startGearport({
      args: [
        '--silent-timeout', String(SILENT_TIMEOUT_MS),
        '--max-connections', String(MAX_CONNECTIONS),
        '--max-packet-size', '1m',
        '--output-high-water', '1m',
        '--max-output-buffer', '4m',
      ],
    });
    await submitBackgroundJobs(server.host, server.port, KEEP_FN, KEPT_JOBS);
    assert.equal(await jobsOf(server.host, server.port, KEEP_FN), KEPT_JOBS);
  });

  after(async () => {
    await server?.stop();
  });

  const underAttack = (name: string): Promise<Measured> => attackWithinBounds(server, attacks.get(name)!, 'gear', KEEP_FN);

  test('oversize headers get ERROR and a close, and nothing of the declared size is allocated', async () => {
    const m = await underAttack('oversize packet headers');
    assert.equal(m.notes.answeredError, m.notes.connections);
    assert.equal(m.notes.closedByServer, m.notes.connections);
    // 1 GiB + 20 x 64 MiB were declared; the budget above is a fraction of one of them.
    assert.ok(m.peakRssBytes - m.baselineRssBytes < 64 * 2 ** 20, describeResult(m));
  });

  test('garbage bytes close the connection', async () => {
    const m = await underAttack('garbage bytes');
    assert.equal(m.notes.closedByServer, m.notes.connections);
  });

  test('bursts of malformed packets are each answered and closed', async () => {
    const m = await underAttack('malformed packet bursts');
    assert.equal(m.notes.ignored, 0, describeResult(m));
    assert.equal(m.notes.answered, m.notes.connections, describeResult(m));
  });

  test('silent connections are closed after --silent-timeout', async () => {
    const m = await underAttack('silent connections');
    assert.equal(m.notes.closedByServer, m.notes.connections);
    assert.ok((m.notes.lastClosedAfterMs as number) >= SILENT_TIMEOUT_MS - 100, describeResult(m));
  });

  test('half-sent packets (slowloris) are closed after --silent-timeout', async () => {
    const m = await underAttack('half-sent packets');
    assert.equal(m.notes.closedByServer, m.notes.connections);
  });

  test('a flood of 2000 connections is served up to --max-connections and refused beyond', async () => {
    const m = await underAttack('connection flood');
    assert.equal(m.notes.refused as number + (m.notes.served as number) + (m.notes.closedByServer as number) + (m.notes.unanswered as number), 2000);
    assert.ok((m.notes.served as number) <= MAX_CONNECTIONS, describeResult(m));
    assert.ok((m.notes.served as number) >= MAX_CONNECTIONS - 50, describeResult(m));
    assert.ok((m.notes.closedByServer as number) + (m.notes.refused as number) >= 2000 - MAX_CONNECTIONS, describeResult(m));
  });

  test('a client flooding ECHO without reading is paused, then cut off', async () => {
    const m = await underAttack('slow consumer (ECHO flood, never reads)');
    assert.equal(m.notes.closedByServer, m.notes.connections);
    // Reading pauses at the high-water mark: the attacker cannot push much more than the socket buffers hold.
    assert.ok((m.notes.maxMiBSent as number) < 64, describeResult(m));
  });
});

/** Open `n` connections and ask each for `version`; how each one ended. */
async function versionOutcomes(host: string, port: number, n: number, waitMs = 2000) {
  const sockets = [];
  for (let i = 0; i < n; i++) sockets.push(await openSocket(host, port));
  const outcomes = await Promise.all(
    sockets.map(async (s) => {
      if (s === undefined) return 'refused';
      s.write(Buffer.from('version\r\n'));
      const { data, closed } = await collect(s, waitMs);
      return data.toString().startsWith('OK ') ? 'served' : closed ? 'closed' : 'silent';
    }),
  );
  return { sockets, outcomes };
}

describe('--max-connections-per-address', { timeout: 60_000 }, () => {
  test('connections beyond the per-address limit are closed at once; others are served', async () => {
    const server = await startGearport({ args: ['--max-connections-per-address', '50', '--silent-timeout', '10000'] });
    try {
      const { sockets, outcomes } = await versionOutcomes(server.host, server.port, 60);
      for (const s of sockets) s?.destroy();
      assert.equal(outcomes.filter((o) => o === 'served').length, 50, outcomes.join(','));
      assert.equal(outcomes.filter((o) => o === 'closed' || o === 'refused').length, 10, outcomes.join(','));
    } finally {
      await server.stop();
    }
  });
});

describe('--max-connections', { timeout: 60_000 }, () => {
  test('a slot freed by a closed connection is served again', async () => {
    const server = await startGearport({ args: ['--max-connections', '5', '--silent-timeout', '10000'] });
    try {
      const first = await versionOutcomes(server.host, server.port, 6, 1500);
      assert.equal(first.outcomes.filter((o) => o === 'served').length, 5, first.outcomes.join(','));
      for (const s of first.sockets) s?.destroy();
      await new Promise((r) => setTimeout(r, 300));
      // Were closed connections not counted down, every one of these would be refused.
      const second = await versionOutcomes(server.host, server.port, 5, 1500);
      for (const s of second.sockets) s?.destroy();
      assert.deepEqual(second.outcomes, ['served', 'served', 'served', 'served', 'served']);
    } finally {
      await server.stop();
    }
  });
});

describe('--max-output-buffer on the Gearman port', { timeout: 60_000 }, () => {
  /**
   * A client that submits and then never reads, while its worker streams WORK_DATA: the
   * client's output grows from another connection's input, so pausing its own input does
   * not bound it; the output limit must. Returns whether the server cut the client.
   */
  async function clientCutWhileWorkerStreams(maxOutputBuffer: string): Promise<{ cut: boolean; workerStillServed: boolean; intact: boolean }> {
    const server = await startGearport({
      args: ['--max-packet-size', '64k', '--output-high-water', '64k', '--max-output-buffer', maxOutputBuffer, '--silent-timeout', '60000'],
    });
    try {
      const worker = await ScriptedPeer.connect(server.port, 'worker');
      worker.send(T.CAN_DO, ['stream']);
      const client = await ScriptedPeer.connect(server.port, 'client');
      client.send(T.SUBMIT_JOB, ['stream', '', 'go']);
      await client.expect(T.JOB_CREATED);
      client.stopReading();
      worker.send(T.GRAB_JOB);
      const assigned = await worker.expect(T.JOB_ASSIGN);
      const handle = assigned.fields[0]!;
      // Each chunk has its own byte, so output queued while the kernel could not take it and
      // then overwritten by a later packet would show below.
      const chunkOf = (i: number) => Buffer.alloc(32 * 1024, i % 251);
      // 16 MiB in all, paced so the server handles it as it comes; bounded in count and time.
      const until = Date.now() + 10_000;
      let sent = 0;
      for (; sent < 512 && !client.closed && Date.now() < until; sent++) {
        worker.send(T.WORK_DATA, [handle, chunkOf(sent)]);
        if (sent % 16 === 15) await new Promise((r) => setTimeout(r, 10));
      }
      // Reading again: a cut client sees the close; one that was not cut reads on and stays.
      client.resumeReading();
      const cut = await client.closesWithin(3000);
      let intact = !cut;
      for (let i = 0; i < sent && !cut; i++) {
        const data = await client.expect(T.WORK_DATA);
        if (data.fields[1] !== chunkOf(i).toString('latin1')) intact = false;
      }
      worker.send(T.ECHO_REQ, ['still here']);
      const echo = await worker.expect(T.ECHO_RES);
      await worker.close();
      await client.close();
      return { cut, workerStillServed: echo.fields[0] === 'still here', intact };
    } finally {
      await server.stop();
    }
  }

  test('a client that does not read while its job streams data is cut at the limit; the worker carries on', async () => {
    const limited = await clientCutWhileWorkerStreams('1m');
    assert.deepEqual(limited, { cut: true, workerStillServed: true, intact: false });
    // The same run with room for all of it: the client is not cut (what cut it above was the
    // limit), and gets every chunk as sent although most of it waited in the server's queue.
    const roomy = await clientCutWhileWorkerStreams('64m');
    assert.deepEqual(roomy, { cut: false, workerStillServed: true, intact: true });
  });
});
