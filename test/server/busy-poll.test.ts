import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { BusyPoll } from '../../src/server/busy-poll.js';
import { ConfigError, MAX_BUSY_POLL_MICROS, defaultConfig, validateConfig } from '../../src/server/config.js';
import { startGearport } from '../helpers/servers.js';
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
  assert.equal(poll.seconds, 0.001, 'it polled from 0 to 1.0 ms');
  poll.input();
  assert.equal(poll.active, true, 'input starts it again');
  await turn(); // the window is counted from the first turn after the input: to 1.5 ms
  clock = 2.0;
  await turn();
  await turn();
  assert.equal(poll.active, false);
  assert.equal(poll.seconds, 0.002, 'and again from 1.0 to 2.0 ms');
});

/** The server process's CPU time in milliseconds (utime + stime, 100 ticks a second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Server CPU share while `ping` runs every ~2 ms for `ms`, and over `idleMs` after. */
async function cpuShares(pid: number, ping: () => Promise<void>, ms: number, idleMs: number): Promise<{ busy: number; idle: number }> {
  await ping(); // connected and warm
  let start = cpuMs(pid);
  let t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await ping();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const busy = (cpuMs(pid) - start) / (performance.now() - t0);
  start = cpuMs(pid);
  t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  const idle = (cpuMs(pid) - start) / (performance.now() - t0);
  return { busy, idle };
}

/** ECHO_REQ on one Gearman connection, to its ECHO_RES. */
async function gearPinger(port: number): Promise<{ ping: () => Promise<void>; close: () => Promise<void> }> {
  const peer = await ScriptedPeer.connect(port);
  return { ping: async () => void (await peer.drainUntilEcho()), close: () => peer.close() };
}

test('--busy-poll: the server keeps polling (about a core) while input comes within the window, and sleeps once it stops', async (t) => {
  const polling = await startGearport({ args: ['--busy-poll', '10000', '-q', 'memory'] });
  const sleeping = await startGearport({ args: ['-q', 'memory'] });
  const toPolling = await gearPinger(polling.port);
  const toSleeping = await gearPinger(sleeping.port);
  try {
    const withPoll = await cpuShares(polling.pid, toPolling.ping, 1000, 1000);
    const without = await cpuShares(sleeping.pid, toSleeping.ping, 1000, 1000);
    t.diagnostic(`server CPU (cores) with --busy-poll: ${withPoll.busy.toFixed(2)} under input, ${withPoll.idle.toFixed(2)} after; without: ${without.busy.toFixed(2)}`);
    // Input every ~2 ms inside a 10 ms window: the loop never sleeps. Tick accounting is
    // coarse (10 ms) and the machine is shared, hence the wide margins.
    assert.ok(withPoll.busy > 0.5, `with --busy-poll the server used ${withPoll.busy.toFixed(2)} of a core while input came`);
    assert.ok(without.busy < 0.3, `without it the server used ${without.busy.toFixed(2)} of a core for the same input`);
    assert.ok(withPoll.idle < 0.1, `a second after the last input the polling server used ${withPoll.idle.toFixed(2)} of a core`);
  } finally {
    await toPolling.close();
    await toSleeping.close();
    await polling.stop();
    await sleeping.stop();
  }
});

test('--busy-poll: requests on the HTTP front keep the loop polling too, and the metrics show the time it polled', async (t) => {
  const server = await startGearport({ args: ['--busy-poll', '10000', '-q', 'memory'], http: true });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ping = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.httpPort, path: '/_gearport/health', agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`health answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    const shares = await cpuShares(server.pid, ping, 1000, 1000);
    t.diagnostic(`server CPU (cores) with --busy-poll: ${shares.busy.toFixed(2)} under HTTP requests, ${shares.idle.toFixed(2)} after`);
    assert.ok(shares.busy > 0.5, `the server used ${shares.busy.toFixed(2)} of a core while HTTP requests came`);
    assert.ok(shares.idle < 0.1, `a second after the last request it used ${shares.idle.toFixed(2)} of a core`);
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/_gearport/metrics`)).text();
    const polled = Number(/^gearport_busy_poll_seconds_total (\S+)$/m.exec(metrics)?.[1]);
    assert.ok(polled > 0.5 && polled < 10, `gearport_busy_poll_seconds_total ${polled} after about 1 s of requests`);
  } finally {
    agent.destroy();
    await server.stop();
  }
});

test('--busy-poll is bounded: more than 10000 µs is refused at start, on the command line and when embedding', async () => {
  await assert.rejects(startGearport({ args: ['--busy-poll', '10001'] }), /busy-poll.*0 to 10000/s);
  const config = defaultConfig();
  for (const bad of [MAX_BUSY_POLL_MICROS + 1, -1, 1.5]) {
    config.busyPollMicros = bad;
    assert.throws(() => validateConfig(config), (err: unknown) => err instanceof ConfigError && /busyPollMicros/.test(err.message), `busyPollMicros ${bad}`);
  }
  config.busyPollMicros = MAX_BUSY_POLL_MICROS;
  assert.doesNotThrow(() => validateConfig(config));
});
