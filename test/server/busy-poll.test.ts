import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BusyPoll } from '../../src/server/busy-poll.js';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('BusyPoll keeps the loop turning for a window after the last input, then stops', async () => {
  let clock = 0;
  const poll = new BusyPoll(500, () => clock); // 0.5 ms
  assert.equal(poll.active, false);
  poll.input();
  assert.equal(poll.active, true);
  await turn();
  clock = 0.4;
  await turn();
  assert.equal(poll.active, true, 'still inside the window');
  poll.input(); // input at 0.4 ms moves the end to 0.9 ms
  await turn();
  clock = 0.8;
  await turn();
  await turn();
  assert.equal(poll.active, true, 'the window restarted with the input');
  clock = 1.0;
  await turn();
  await turn();
  assert.equal(poll.active, false, 'a whole window without input ends the polling');
  poll.input();
  assert.equal(poll.active, true, 'input starts it again');
  await turn(); // the window is counted from the first turn after the input: to 1.5 ms
  clock = 2.0;
  await turn();
  await turn();
  assert.equal(poll.active, false);
});

/** The server process's CPU time in milliseconds (utime + stime, 100 ticks a second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Server CPU share while a client sends an ECHO_REQ every 2 ms for `ms`, and over `idleMs` after. */
async function cpuShares(server: RunningServer, ms: number, idleMs: number): Promise<{ busy: number; idle: number }> {
  const peer = await ScriptedPeer.connect(server.port);
  try {
    await peer.drainUntilEcho(); // connected and warm
    let start = cpuMs(server.pid);
    let t0 = performance.now();
    while (performance.now() - t0 < ms) {
      await peer.drainUntilEcho();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const busy = (cpuMs(server.pid) - start) / (performance.now() - t0);
    start = cpuMs(server.pid);
    t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const idle = (cpuMs(server.pid) - start) / (performance.now() - t0);
    return { busy, idle };
  } finally {
    await peer.close();
  }
}

test('--busy-poll: the server keeps polling (about a core) while input comes within the window, and sleeps once it stops', async (t) => {
  const polling = await startGearport({ args: ['--busy-poll', '10000', '-q', 'memory'] });
  const sleeping = await startGearport({ args: ['-q', 'memory'] });
  try {
    const withPoll = await cpuShares(polling, 1000, 1000);
    const without = await cpuShares(sleeping, 1000, 1000);
    t.diagnostic(`server CPU (cores) with --busy-poll: ${withPoll.busy.toFixed(2)} under input, ${withPoll.idle.toFixed(2)} after; without: ${without.busy.toFixed(2)}`);
    // Input every ~2 ms inside a 10 ms window: the loop never sleeps. Tick accounting is
    // coarse (10 ms) and the machine is shared, hence the wide margins.
    assert.ok(withPoll.busy > 0.5, `with --busy-poll the server used ${withPoll.busy.toFixed(2)} of a core while input came`);
    assert.ok(without.busy < 0.3, `without it the server used ${without.busy.toFixed(2)} of a core for the same input`);
    assert.ok(withPoll.idle < 0.1, `a second after the last input the polling server used ${withPoll.idle.toFixed(2)} of a core`);
  } finally {
    await polling.stop();
    await sleeping.stop();
  }
});

test('--busy-poll is bounded: more than 10000 µs is refused at start', async () => {
  await assert.rejects(startGearport({ args: ['--busy-poll', '10001'] }), /busy-poll.*0 to 10000/s);
});
