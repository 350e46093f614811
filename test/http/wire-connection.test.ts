/**
 * HttpConnection (src/server/http/wire/connection.ts) under clients that split, pipeline, read
 * slowly or stream tiny pieces: deadlines, the close rule, memory and CPU stay bounded. Each
 * test was first written as a reproduction of a bug found in review and failed before its fix.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { httpFixture, type HttpFixture } from './http-fixture.js';
import { reverse } from './raw-worker.js';
import { RawConnection } from './raw-http.js';
import { functionStatus } from './gear-probe.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU time (user + system) of a process, in ms (Linux, 100 ticks a second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident memory of a process, in bytes (Linux). */
function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

describe('HTTP connection: idle deadlines', () => {
  const f = httpFixture(['--http-keepalive-timeout', '300']);

  test('a request answered at once: the idle connection is closed after the keep-alive time', async () => {
    const conn = await RawConnection.open(f.port);
    conn.write('HEAD /f HTTP/1.1\r\nHost: x\r\n\r\n');
    const res = await conn.read({ head: true, timeoutMs: 3000 });
    assert.equal(res.status, 200);
    const started = Date.now();
    const closed = await conn.closesWithin(3000);
    const idle = Date.now() - started;
    conn.close();
    assert.ok(closed);
    // Not at once: the connection was kept for (about) the 300 ms keep-alive time.
    assert.ok(idle >= 200, `closed after ${idle} ms`);
  });

  test('a head that arrives in two pieces, answered at once: the connection still gets its keep-alive time', async () => {
    const conn = await RawConnection.open(f.port);
    conn.write('HEAD /f HTTP/1.1\r\nHost: x\r\n');
    await sleep(50);
    conn.write('\r\n');
    const res = await conn.read({ head: true, timeoutMs: 3000 });
    assert.equal(res.status, 200);
    // Keep-alive is 300 ms: the idle connection must be closed well within 3 s, but not at once.
    const started = Date.now();
    const closed = await conn.closesWithin(3000);
    const idle = Date.now() - started;
    conn.close();
    assert.ok(closed, 'idle keep-alive connection still open 10x past the keep-alive timeout');
    assert.ok(idle >= 200, `closed after ${idle} ms, before the keep-alive time`);
  });

  test('the same for an API route whose body completes in the held bytes', async () => {
    const conn = await RawConnection.open(f.port);
    conn.write('POST /_gearport/health HTTP/1.1\r\nContent-Length: 3\r\n');
    await sleep(50);
    conn.write('\r\nabc');
    const res = await conn.read({ timeoutMs: 3000 });
    assert.equal(res.status, 405);
    const started = Date.now();
    const closed = await conn.closesWithin(3000);
    const idle = Date.now() - started;
    conn.close();
    assert.ok(closed, 'idle keep-alive connection still open 10x past the keep-alive timeout');
    assert.ok(idle >= 200, `closed after ${idle} ms, before the keep-alive time`);
  });
});

describe('HTTP connection: requests after a server-decided close', () => {
  const f = httpFixture([], { reverse, hold: () => 'hold' });

  test('a request pipelined behind a response that closes the connection is not carried out (RFC 9112 9.6)', async () => {
    const { a, b } = await requestAfterClosingResponse(
      f,
      // A: held by the worker, so B's answer waits in line.
      'POST /hold HTTP/1.1\r\nContent-Length: 4\r\n\r\nslow',
      // B: refused with Connection: close (the target is not origin-form).
      'GET * HTTP/1.1\r\n\r\n',
      'review-bg',
    );
    assert.equal(a.status, 200);
    assert.equal(b.status, 400);
    assert.equal(b.headers.connection, 'close');
  });
});

/**
 * Pipeline A (held by the worker), B (answered with Connection: close) and C (a background
 * job for `neverFn`) in one write, then release A: C comes after a closing response, so it
 * must never be carried out, neither while A is held nor once the connection has ended.
 * Returns A's and B's answers; the connection must have closed after B.
 */
async function requestAfterClosingResponse(f: HttpFixture, held: string, closing: string, neverFn: string) {
  const conn = await RawConnection.open(f.port);
  const grabbed = f.worker.jobs.length;
  conn.write(held + closing + `POST /${neverFn} HTTP/1.1\r\nX-Gearman-Background: true\r\nContent-Length: 1\r\n\r\nc`);
  const job = await f.worker.grabbed(grabbed + 1);
  await sleep(300);
  const queued = (await functionStatus(f.server.port)).get(neverFn);
  f.worker.send(job.handle, [{ complete: 'done' }]);
  const a = await conn.read({ timeoutMs: 5000 });
  const b = await conn.read({ timeoutMs: 5000 });
  const closed = await conn.closesWithin(5000);
  conn.close();
  assert.ok(closed, 'the connection stayed open after a response that closes it');
  assert.equal(queued?.[0] ?? 0, 0, `a background job was submitted for a request after a closing response: ${JSON.stringify(queued)}`);
  const queuedAfter = (await functionStatus(f.server.port)).get(neverFn);
  assert.equal(queuedAfter?.[0] ?? 0, 0, `a background job was submitted after the close: ${JSON.stringify(queuedAfter)}`);
  return { a, b };
}

describe('HTTP connection: memory', () => {
  const f = httpFixture();

  test('a chunked body of a million 1-byte chunks costs memory in proportion to its bytes', { timeout: 60_000 }, async () => {
    const CONNS = 4;
    const CHUNKS = 1_000_000; // under the default 1 MiB body limit
    const before = rssBytes(f.server.pid);
    const piece = Buffer.from('1\r\nx\r\n'.repeat(10_000), 'latin1');
    const conns: RawConnection[] = [];
    for (let c = 0; c < CONNS; c++) {
      const conn = await RawConnection.open(f.port);
      conns.push(conn);
      conn.write('POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let i = 0; i < CHUNKS / 10_000; i++) {
        if (!conn.socket.write(piece)) await new Promise((r) => conn.socket.once('drain', r));
      }
    }
    // Let the server take everything in (the body is never finished: it stays held).
    await sleep(2000);
    const grown = rssBytes(f.server.pid) - before;
    for (const conn of conns) conn.close();
    // 4 bodies of < 1 MiB each: a bounded reader holds a few MiB per body at most.
    assert.ok(grown < 64 * 1024 * 1024, `server RSS grew by ${(grown / 1048576).toFixed(0)} MiB for ${CONNS} bodies of ${(CHUNKS / 1048576).toFixed(2)} MiB`);
  });
});

describe('HTTP connection: slow readers', () => {
  const BIG = 12 * 1024 * 1024;
  const f = httpFixture(['--http-keepalive-timeout', '300'], { big: () => [{ complete: Buffer.alloc(BIG, 0x61) }] });

  test('a large response to a slow reader is delivered whole: the keep-alive time starts once it is taken', { timeout: 30_000 }, async () => {
    const conn = await RawConnection.open(f.port);
    conn.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    // A slow client: it takes its time reading (here: 1.5 s of not reading, then all of it).
    conn.socket.pause();
    await sleep(1500);
    conn.socket.resume();
    const res = await conn.read({ timeoutMs: 10_000 }).catch((err: Error) => err);
    conn.close();
    assert.ok(!(res instanceof Error), `response truncated: ${res instanceof Error ? res.message.slice(0, 120) : ''}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, BIG);
  });

  test('a large last response (Connection: close) to a slow reader is delivered whole before the lingering close', { timeout: 30_000 }, async () => {
    const conn = await RawConnection.open(f.port);
    conn.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    conn.socket.pause();
    await sleep(3000);
    conn.socket.resume();
    const res = await conn.read({ timeoutMs: 10_000 }).catch((err: Error) => err);
    conn.close();
    assert.ok(!(res instanceof Error), `response truncated: ${res instanceof Error ? res.message.slice(0, 120) : ''}`);
    assert.equal(res.body.length, BIG);
  });
});

describe('HTTP connection: CPU', () => {
  const PACKETS = 60_000;
  const f = httpFixture([], { hold: () => 'hold', stream: () => 'hold' });

  test('WORK_DATA for a response waiting behind another costs linear time', { timeout: 60_000 }, async () => {
    const conn = await RawConnection.open(f.port);
    const grabbed = f.worker.jobs.length;
    conn.write('POST /hold HTTP/1.1\r\nContent-Length: 1\r\n\r\na' + 'POST /stream HTTP/1.1\r\nContent-Length: 1\r\n\r\nb');
    const first = await f.worker.grabbed(grabbed + 1);
    const second = await f.worker.grabbed(grabbed + 2);
    const streamJob = first.functionName === 'stream' ? first : second;
    const holdJob = first.functionName === 'stream' ? second : first;
    const steps = [];
    for (let i = 0; i < PACKETS; i++) steps.push({ data: '0123456789' });
    const cpu0 = cpuMs(f.server.pid);
    f.worker.send(streamJob.handle, steps);
    f.worker.send(streamJob.handle, [{ complete: 'y' }]);
    // Every packet reaches the server (and its held queue) before the first response is released.
    await new Promise<void>((r) => f.worker.socket.write('', () => r()));
    const deadline = Date.now() + 50_000;
    while (cpuMs(f.server.pid) - cpu0 < 20_000 && Date.now() < deadline) {
      const before = cpuMs(f.server.pid);
      await sleep(300);
      if (cpuMs(f.server.pid) - before < 30) break; // the server went idle: all packets taken in
    }
    const spent = cpuMs(f.server.pid) - cpu0;
    console.log(`# ${PACKETS} WORK_DATA packets for a held response: ${spent} ms of server CPU`);
    f.worker.send(holdJob.handle, [{ complete: 'x' }]);
    const a = await conn.read({ timeoutMs: 50_000 }).catch((e: Error) => e);
    const b = await conn.read({ timeoutMs: 50_000 }).catch((e: Error) => e);
    conn.close();
    // 600 KB of data in 60k packets: linear work took 300 ms here, the quadratic bug 12-14 s.
    assert.ok(spent < 5000, `the server spent ${spent} ms of CPU taking in ${PACKETS} WORK_DATA packets for a held response`);
    assert.ok(!(a instanceof Error) && !(b instanceof Error));
    assert.equal(b.body.length, PACKETS * 10 + 1);
  });
});

describe('HTTP connection: a paused connection whose last response is still unread', () => {
  const BIG = 12 * 1024 * 1024;
  const f = httpFixture(
    ['--http-max-pipelined', '1', '--http-request-timeout', '1000', '--http-headers-timeout', '500', '--http-keepalive-timeout', '300'],
    { big: () => [{ complete: Buffer.alloc(BIG, 0x61) }] },
  );

  test('a client that pipelines past the limit and never reads is still cut off (no deadline otherwise)', { timeout: 30_000 }, async () => {
    const conn = await RawConnection.open(f.port);
    // Never read: the 12 MiB answer stays in the server's output, over --output-high-water.
    conn.socket.pause();
    // The second request is held (pipelining limit 1): the connection pauses with it held.
    conn.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /_gearport/health HTTP/1.1\r\nHost: x\r\n\r\n');
    // 5x the request timeout: a client that does not take its bytes for that long is cut
    // (the same exchange without the second request is cut after ~1 s).
    await sleep(5000);
    conn.socket.resume();
    const first = await conn.read({ timeoutMs: 10_000 }).catch((e: Error) => e);
    const second = first instanceof Error ? first : await conn.read({ timeoutMs: 3000 }).catch((e: Error) => e);
    conn.close();
    // Cut by the server: a read that failed because the connection closed (a timeout would be a hang, not a cut).
    const cut = first instanceof Error ? first : second;
    assert.ok(
      cut instanceof Error,
      'the connection was still open 5 s past the request timeout, with 12 MiB of unread output and no deadline: both responses were delivered',
    );
    assert.ok(cut.message.startsWith('connection closed'), `not cut by the server: ${cut.message.slice(0, 120)}`);
  });
});

describe('HTTP connection: a chunked body over the limit, behind an unfinished response', () => {
  const f = httpFixture(['--http-max-body', '10'], { hold: () => 'hold' });

  test('the request after the 413 (Connection: close) is not carried out', { timeout: 20_000 }, async () => {
    const { a, b } = await requestAfterClosingResponse(
      f,
      // A: held by the worker, so B's answer waits in line.
      'POST /hold HTTP/1.1\r\nContent-Length: 1\r\n\r\na',
      // B: a chunked body of 20 bytes, over --http-max-body 10: 413 and close. Its last chunk
      // and the end of the body come in the same packet.
      'POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n',
      'review2-bg',
    );
    assert.equal(a.status, 200);
    assert.equal(b.status, 413);
    assert.equal(b.headers.connection, 'close');
  });
});

describe('HTTP connection: HTTP/1.0 streamed result that fails', () => {
  const f = httpFixture([], { streamfail: () => [{ data: 'partial' }, { fail: true }] });

  test('a WORK_FAIL after WORK_DATA does not read as a complete 200 to an HTTP/1.0 client', { timeout: 20_000 }, async () => {
    const outcome = await new Promise<{ text: string; how: string }>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: f.port }, () =>
        socket.write('POST /streamfail HTTP/1.0\r\nContent-Length: 1\r\n\r\nx'),
      );
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ text, how: 'timeout' });
      }, 10_000);
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('end', () => {
        clearTimeout(timer);
        resolve({ text, how: 'clean end (FIN)' });
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve({ text, how: `error ${err.code}` });
      });
    });
    // The body of an HTTP/1.0 response without Content-Length ends with the connection: a
    // clean FIN tells the client "this is the whole body". A failed job must not look so: the
    // partial body arrives, then a reset.
    const body = outcome.text.slice(outcome.text.indexOf('\r\n\r\n') + 4);
    assert.equal(outcome.how, 'error ECONNRESET', `HTTP/1.0 client got ${JSON.stringify(outcome.text.split('\r\n')[0])}, body ${JSON.stringify(body)}, then ${outcome.how}`);
    assert.match(outcome.text, /^HTTP\/1\.1 200 /);
    assert.equal(body, 'partial');
  });
});

describe('HTTP connection: a pipelined streamed response that fails while an earlier one is pending', () => {
  const f = httpFixture([], { hold: () => 'hold', streamfail: () => [{ data: 'partial' }, { fail: true }] });

  test('the earlier request still gets its answer (the failure cuts only what comes after it)', { timeout: 20_000 }, async () => {
    const conn = await RawConnection.open(f.port);
    const grabbed = f.worker.jobs.length;
    // A: held by the worker. B: streams WORK_DATA, then WORK_FAIL, while A is unanswered.
    conn.write('POST /hold HTTP/1.1\r\nContent-Length: 1\r\n\r\na' + 'POST /streamfail HTTP/1.1\r\nContent-Length: 1\r\n\r\nb');
    await f.worker.grabbed(grabbed + 2);
    const holdJob = f.worker.jobs.slice(grabbed).find((j) => j.functionName === 'hold')!;
    await sleep(300);
    f.worker.send(holdJob.handle, [{ complete: 'A-result' }]);
    const a = await conn.read({ timeoutMs: 3000 }).catch((e: Error) => e);
    conn.close();
    assert.ok(!(a instanceof Error), `A, a job that completed, was never answered: ${a instanceof Error ? a.message.slice(0, 80) : ''}`);
    assert.equal(a.status, 200);
    assert.equal(a.body.toString(), 'A-result');
  });
});
