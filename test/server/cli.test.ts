import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { encodeRequest, PacketType as T } from '../../src/protocol/index.js';
import { AdminPeer, ScriptedPeer } from '../helpers/scripted-peer.js';
import { freePort, gearportCli, startGearport } from '../helpers/servers.js';

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [gearportCli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20000 });
}

test('--help and --version print and exit 0', () => {
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  for (const flag of ['--port', '--listen', '--job-retries', '--worker-wakeup', '--round-robin', '--job-handle-prefix', '--http-port', '--queue-type', '--max-packet-size']) {
    assert.ok(help.stdout.includes(flag), `help mentions ${flag}`);
  }
  const version = runCli(['--version']);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^gearport \d+\.\d+\.\d+/);
});

test('an unknown flag or an invalid value prints a clear message and exits 2', () => {
  for (const [args, pattern] of [
    [['--bogus'], /unknown option '--bogus'/],
    [['--port', 'abc'], /expected an integer/],
    [['--job-retries', '999'], /from 0 to 255/],
    [['--verbose', 'LOUD'], /Allowed choices are FATAL/],
    [['-v'], /deprecated/],
    [['--queue-type', 'mysql'], /Allowed choices/],
    [['--mysql-host', 'db.example'], /--mysql-host: Gearport has no MySQL queue; use -q sqlite/],
    [['--libmemcached-servers=127.0.0.1'], /--libmemcached-servers: Gearport has no memcached queue/],
    [['-q', 'redis', '--redis-username', 'gearport'], /redisUsername needs redisPassword/],
    [['--sqlite-wal-limit', '-1'], /expected a size/],
    [['--max-output-buffer', '1k', '--max-packet-size', '1m'], /maxOutputBuffer must be at least maxPacketSize/],
  ] as const) {
    const r = runCli([...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
  assert.equal(runCli(['--check-args', '-p', '4730']).status, 0);
});

test('a value that looks like a refused gearmand flag is still a value', () => {
  for (const args of [['-q', 'redis', '--redis-password', '-d'], ['-q', 'redis', '--redis-password', '--mysql-host'], ['--job-handle-prefix', '-u']]) {
    const r = runCli([...args, '--check-args']);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('a config file supplies options in command-line syntax', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gearport-cli-'));
  const file = join(dir, 'gearport.conf');
  writeFileSync(file, '--job-retries=3 # comment\n--bogus-option\n');
  const r = runCli(['--config-file', file, '--check-args']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bogus-option/);
  // A gearmand option Gearport refuses gets its reason from a config file too (a gearmand.conf reused as is).
  writeFileSync(file, '--job-retries=3\n--mysql-host db.example\n');
  const refused = runCli(['--config-file', file, '--check-args']);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--mysql-host: Gearport has no MySQL queue/);
  writeFileSync(file, '--job-retries=3 # comment\n');
  assert.equal(runCli(['--config-file', file, '--check-args']).status, 0);
});

/** Whether nothing accepts connections on loopback `port` any more. */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

// gearmand: SIGTERM and SIGINT both stop at once (spec 1.9); neither may lose an acknowledged job.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} stops the server cleanly: exit 0, port closed, pid file removed, acknowledged background jobs kept`, async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'gearport-pid-')), 'gearport.pid');
    const dataDir = mkdtempSync(join(tmpdir(), 'gearport-signal-'));
    const server = await startGearport({ args: ['--pid-file', pidFile, '--data-dir', dataDir] });
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(server.pid));
    const client = await ScriptedPeer.connect(server.port, 'client');
    client.send(T.SUBMIT_JOB_BG, ['kept', 'u-kept', Buffer.from('payload')]);
    await client.expect(T.JOB_CREATED);
    // 'close' rather than 'exit': stderr is complete by then, so a late stack trace is seen.
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => server.process.once('close', (code, sig) => resolve([code, sig])));
    server.process.kill(signal);
    assert.deepEqual(await closed, [0, null], `exits by itself with 0, not killed by ${signal}; stderr: ${server.stderr()}`);
    assert.equal(server.stderr(), '', 'nothing on stderr (no stack trace)');
    assert.ok(await refusesConnections(server.port), 'the Gearman port is closed');
    assert.equal(existsSync(pidFile), false);
    await client.close();

    const restarted = await startGearport({ args: ['--data-dir', dataDir] });
    try {
      const admin = await AdminPeer.connect(restarted.port);
      assert.equal(await admin.command('status\r\n', 'listing'), 'kept\t1\t0\t0\n.\n', 'the job acknowledged before the signal is replayed');
      await admin.close();
      const worker = await ScriptedPeer.connect(restarted.port, 'worker');
      worker.send(T.CAN_DO, ['kept']);
      worker.send(T.GRAB_JOB_UNIQ);
      const assigned = await worker.expect(T.JOB_ASSIGN_UNIQ);
      assert.deepEqual(assigned.fields.slice(1), ['kept', 'u-kept', 'payload']);
      await worker.close();
    } finally {
      await restarted.stop();
    }
  });
}

test('a signal during start-up stops the server once it is up, cleanly, instead of killing it mid-way', async () => {
  // The queue file is held by a rollback-journal transaction, so start-up waits in the store's
  // open (switching the file to WAL needs the lock) while the signal arrives.
  const dataDir = mkdtempSync(join(tmpdir(), 'gearport-early-signal-'));
  const holder = new Database(join(dataDir, 'gearport.sqlite'));
  holder.exec('CREATE TABLE held (x); BEGIN EXCLUSIVE; INSERT INTO held VALUES (1)');
  const port = await freePort();
  const child = spawn(process.execPath, [gearportCli, '-p', String(port), '-L', '127.0.0.1', '--data-dir', dataDir, '--store-timeout', '20000', '--verbose', 'INFO'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (code, sig) => resolve([code, sig])));
  try {
    await new Promise((r) => setTimeout(r, 2000)); // loaded, and waiting on the lock
    assert.equal(child.exitCode, null, `still starting; stderr: ${stderr}`);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    holder.exec('COMMIT');
    holder.close();
    assert.deepEqual(await closed, [0, null], `exits by itself with 0, not killed by SIGTERM; stderr: ${stderr}`);
    assert.deepEqual(
      stderr.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as LogLine).msg),
      ['gearport listening', 'gearport stopped'],
    );
  } finally {
    if (holder.open) holder.close();
    child.kill('SIGKILL');
  }
});

type LogLine = { level: number; name: string; msg: string; [key: string]: unknown };

/** The JSON lines pino wrote to a log file, parsed. */
function logLines(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

/** Wait until the log file holds `count` lines with message `msg` (pino writes in the background). */
async function waitForLog(file: string, msg: string, count = 1, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (logLines(file).filter((l) => l.msg === msg).length < count) {
    if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(msg)} line in ${file} within ${timeoutMs} ms: ${JSON.stringify(logLines(file))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('-l <file> appends the log to that file, creating its directory; nothing goes to stderr', async () => {
  const logFile = join(mkdtempSync(join(tmpdir(), 'gearport-log-')), 'not', 'yet', 'gearport.log');
  const server = await startGearport({ args: ['-l', logFile, '--verbose', 'INFO'] });
  await waitForLog(logFile, 'gearport listening');
  const bad = await ScriptedPeer.connect(server.port, 'bad-magic');
  bad.sendRaw(Buffer.from('\0BAD\0\0\0\x01\0\0\0\0', 'latin1'));
  await bad.expectClose();
  await waitForLog(logFile, 'protocol error; closing connection');
  await server.stop();
  const first = logLines(logFile);
  assert.deepEqual(
    first.map((l) => l.msg),
    ['gearport listening', 'protocol error; closing connection', 'gearport stopped'],
  );
  assert.equal(first[0]!.port, server.port);
  assert.equal(first[1]!.code, 'INVALID_MAGIC');
  assert.ok(first.every((l) => l.name === 'gearport' && l.level === 30), 'INFO lines of gearport');
  assert.equal(server.stderr(), '', 'the log goes to the file only');

  // gearmand appends to its --log-file; so does Gearport: the first run's lines stay.
  const again = await startGearport({ args: ['--log-file', logFile, '--verbose', 'INFO'] });
  await waitForLog(logFile, 'gearport listening', 2);
  await again.stop();
  const both = logLines(logFile);
  assert.deepEqual(both.slice(0, first.length), first);
  assert.deepEqual(both.slice(first.length).map((l) => l.msg), ['gearport listening', 'gearport stopped']);
  assert.equal(again.stderr(), '');
});

test('-l <file> whose directory cannot be created stops start-up with a clear message', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gearport-log-'));
  writeFileSync(join(dir, 'a-file'), '');
  const logFile = join(dir, 'a-file', 'sub', 'gearport.log');
  const r = runCli(['--port', '0', '--listen', '127.0.0.1', '-q', 'none', '-l', logFile]);
  assert.notEqual(r.status, 0, 'does not run without its log');
  assert.match(r.stderr, /^gearport: .*log.*a-file\/sub/m, 'names the log file');
  assert.doesNotMatch(r.stderr, /Unhandled 'error' event|^\s+at /m, 'no stack trace');
});

test('GEARMAND_PORT sets the port when --port is not given, as in gearmand', async () => {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'gearport-env-'));
  const child = spawn(process.execPath, [gearportCli, '-L', '127.0.0.1', '--data-dir', dataDir], {
    env: { ...process.env, GEARMAND_PORT: String(port) },
    stdio: 'ignore',
  });
  try {
    let peer: ScriptedPeer | undefined;
    for (let i = 0; i < 100 && peer === undefined; i++) {
      peer = await ScriptedPeer.connect(port, 'env-port').catch(() => undefined);
      if (peer === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(peer, `nothing listens on GEARMAND_PORT ${port}`);
    peer.send(T.ECHO_REQ, [Buffer.from('env')]);
    assert.deepEqual((await peer.expect(T.ECHO_RES)).fields, ['env']);
    await peer.close();
  } finally {
    child.kill('SIGTERM');
  }
  const bad = runCli(['--check-args'], { GEARMAND_PORT: 'x' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /expected an integer/);
});

test('graceful shutdown (SIGUSR1) waits for the running job, then exits', async () => {
  const server = await startGearport();
  const worker = await ScriptedPeer.connect(server.port, 'worker');
  const client = await ScriptedPeer.connect(server.port, 'client');
  worker.send(T.CAN_DO, ['slow']);
  client.send(T.SUBMIT_JOB, ['slow', '', Buffer.from('x')]);
  const created = await client.expect(T.JOB_CREATED);
  worker.send(T.GRAB_JOB);
  const assigned = await worker.expect(T.JOB_ASSIGN);
  const exited = new Promise<number | null>((resolve) => server.process.once('exit', (code) => resolve(code)));
  server.process.kill('SIGUSR1');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(server.process.exitCode, null, 'still running while a job runs');
  worker.send(T.WORK_COMPLETE, [assigned.fields[0]!, Buffer.from('done')]);
  const complete = await client.expect(T.WORK_COMPLETE);
  assert.deepEqual(complete.fields, [created.fields[0], 'done']);
  assert.equal(await exited, 0);
  await worker.close();
  await client.close();
});

test('admin "shutdown" from loopback stops the server', async () => {
  const server = await startGearport();
  const admin = await AdminPeer.connect(server.port);
  const exited = new Promise<number | null>((resolve) => server.process.once('exit', (code) => resolve(code)));
  assert.equal(await admin.command('shutdown\r\n', 'line'), 'OK\r\n');
  assert.equal(await exited, 0);
});

test('limits: an oversize packet gets ERROR then close; an overlong admin line gets ERR then close; others carry on', async () => {
  const server = await startGearport({ args: ['--max-packet-size', '1k', '--max-admin-line', '64'] });
  try {
    const bystander = await ScriptedPeer.connect(server.port, 'bystander');
    const big = await ScriptedPeer.connect(server.port, 'big');
    big.sendRaw(encodeRequest(T.SUBMIT_JOB, ['f', '', Buffer.alloc(2048)]));
    const err = await big.expect(T.ERROR);
    assert.equal(err.fields[0], 'ARGUMENT_TOO_LARGE');
    await big.expectClose();
    const admin = await AdminPeer.connect(server.port);
    assert.match(await admin.command('x'.repeat(200), 'line'), /^ERR LINE_TOO_LONG /);
    bystander.send(T.ECHO_REQ, [Buffer.from('still here')]);
    assert.deepEqual((await bystander.expect(T.ECHO_RES)).fields, ['still here']);
    await bystander.close();
  } finally {
    await server.stop();
  }
});

test('a connection that never sends a byte is closed after --silent-timeout', async () => {
  const server = await startGearport({ args: ['--silent-timeout', '300'] });
  try {
    const silent = await ScriptedPeer.connect(server.port, 'silent');
    const started = Date.now();
    await silent.expectClose(5000);
    assert.ok(Date.now() - started >= 250);
  } finally {
    await server.stop();
  }
});

test('an epoch job wakes a sleeping worker at its time, with no other traffic', async () => {
  const server = await startGearport();
  try {
    const worker = await ScriptedPeer.connect(server.port, 'worker');
    const client = await ScriptedPeer.connect(server.port, 'client');
    worker.send(T.CAN_DO, ['later']);
    worker.send(T.PRE_SLEEP);
    const when = Math.floor(Date.now() / 1000) + 2;
    client.send(T.SUBMIT_JOB_EPOCH, ['later', '', String(when), Buffer.from('x')]);
    await client.expect(T.JOB_CREATED);
    await worker.expect(T.NOOP, 6000);
    assert.ok(Date.now() >= (when - 1) * 1000);
    worker.send(T.GRAB_JOB);
    assert.equal((await worker.expect(T.JOB_ASSIGN)).fields[2], 'x');
    await worker.close();
    await client.close();
  } finally {
    await server.stop();
  }
});
