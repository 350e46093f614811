/** Issue 4's HTTP limits: each one hit on purpose (gearmand has none: spec 3.6). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { RawWorker } from './raw-worker.js';
import { RawConnection, rawExchange } from './raw-http.js';
import { eventually, functionStatus } from './gear-probe.js';
import { httpFixture } from './http-fixture.js';

const errorCode = (body: Buffer) => (JSON.parse(body.toString()) as { error: { code: string } }).error.code;

describe('HTTP size, time and count limits', () => {
  let server: RunningServer;
  let port: number;

  before(async () => {
    server = await startGearport({
      http: true,
      args: [
        '--queue-type', 'none',
        '--http-max-header-size', '2048',
        '--http-max-url', '512',
        '--http-max-body', '1000',
        '--http-headers-timeout', '600',
        '--http-request-timeout', '1200',
        '--http-keepalive-timeout', '400',
        '--http-max-requests-per-connection', '3',
        '--http-max-waits-per-address', '2',
        '--http-wait-timeout', '500',
        '--http-max-wait-timeout', '900',
        '--max-queue', '2',
      ],
    });
    port = server.httpPort!;
  });
  after(async () => {
    await server?.stop();
  });

  test('headers over the limit: 431', async () => {
    const res = await rawExchange(port, `GET /f HTTP/1.1\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`);
    assert.equal(res.status, 431);
    assert.equal(errorCode(res.body), 'HEADERS_TOO_LARGE');
    assert.ok(await res.conn.closesWithin(5000));
  });

  test('a request target over the URL limit: 414 (within and beyond the header limit)', async () => {
    const res = await rawExchange(port, `GET /${'u'.repeat(600)} HTTP/1.1\r\n\r\n`);
    res.conn.close();
    assert.equal(res.status, 414);
    assert.equal(errorCode(res.body), 'URL_TOO_LONG');
    const huge = await rawExchange(port, `GET /${'u'.repeat(4000)} HTTP/1.1\r\n\r\n`);
    huge.conn.close();
    assert.equal(huge.status, 414);
  });

  test('a body over the limit: 413 from Content-Length before any body byte is sent', async () => {
    const conn = await RawConnection.open(port);
    conn.write('POST /f HTTP/1.1\r\nContent-Length: 1001\r\n\r\n');
    const res = await conn.read();
    assert.equal(res.status, 413);
    assert.equal(errorCode(res.body), 'BODY_TOO_LARGE');
    assert.equal(res.headers.connection, 'close');
    assert.ok(await conn.closesWithin(5000));
  });

  test('413 with Expect: 100-continue: no 100 is sent', async () => {
    const res = await rawExchange(port, 'POST /f HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n');
    res.conn.close();
    assert.equal(res.status, 413);
  });

  test('a chunked body is counted while it streams: 413 once past the limit', async () => {
    const conn = await RawConnection.open(port);
    conn.write('POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = `200\r\n${'c'.repeat(0x200)}\r\n`;
    conn.write(chunk);
    conn.write(chunk);
    conn.write(chunk);
    const res = await conn.read();
    assert.equal(res.status, 413);
    assert.ok(await conn.closesWithin(5000));
    assert.equal((await functionStatus(server.port)).get('f'), undefined, 'no job was made');
  });

  test('a chunked trailer section over the header limit: 431 TRAILERS_TOO_LARGE', async () => {
    const conn = await RawConnection.open(port);
    // --http-max-header-size 2048 bounds the trailer section too.
    conn.write(`POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: ${'t'.repeat(3000)}\r\n\r\n`);
    const res = await conn.read({ timeoutMs: 5000 });
    conn.close();
    assert.equal(res.status, 431);
    assert.equal(errorCode(res.body), 'TRAILERS_TOO_LARGE');
  });

  test('slow headers: 408 and the connection is cut', async () => {
    const conn = await RawConnection.open(port);
    conn.write('POST /f HTTP/1.1\r\nX-Slow: ');
    const started = Date.now();
    const res = await conn.read({ timeoutMs: 10_000 });
    assert.equal(res.status, 408);
    assert.equal(errorCode(res.body), 'REQUEST_TIMEOUT');
    const elapsed = Date.now() - started;
    // The 600 ms headers timeout, not the 1200 ms request timeout (it cannot fire before ~1200 ms).
    assert.ok(elapsed >= 400 && elapsed < 1100, `408 after ${elapsed} ms`);
    assert.ok(await conn.closesWithin(5000));
  });

  test('a slow body: 408 once the request time is up', async () => {
    const started = Date.now();
    const conn = await RawConnection.open(port);
    conn.write('POST /f HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc');
    const res = await conn.read({ timeoutMs: 10_000 });
    assert.equal(res.status, 408);
    // The 1200 ms request timeout (counted from the connection), not the 600 ms headers timeout.
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1000, `408 after ${elapsed} ms`);
    assert.ok(await conn.closesWithin(5000));
  });

  test('an idle keep-alive connection is closed after the keep-alive time', async () => {
    const conn = await RawConnection.open(port);
    conn.write('GET /_gearport/health HTTP/1.1\r\n\r\n');
    assert.equal((await conn.read()).status, 200);
    const started = Date.now();
    assert.ok(await conn.closesWithin(5000));
    assert.ok(Date.now() - started >= 250);
  });

  test('answered before its body was all in, then idle: the connection is closed after the keep-alive time', async () => {
    const conn = await RawConnection.open(port);
    conn.write('POST /_gearport/health HTTP/1.1\r\nContent-Length: 5\r\n\r\n');
    const res = await conn.read();
    assert.equal(res.status, 405);
    assert.equal(res.headers.connection, 'keep-alive');
    conn.write('hello'); // the body, read and dropped after the answer
    assert.ok(await conn.closesWithin(3000), 'an idle connection is not kept forever');
  });

  test('requests per connection: the last allowed response says close', async () => {
    const conn = await RawConnection.open(port);
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      conn.write('GET /_gearport/health HTTP/1.1\r\n\r\n');
      const res = await conn.read();
      statuses.push(`${res.status} ${res.headers.connection}`);
    }
    assert.deepEqual(statuses, ['200 keep-alive', '200 keep-alive', '200 close']);
    // The server closes at once after saying close (RFC 9112 9.6), not after the 400 ms
    // keep-alive time: node:http on its own only marks the response and keeps the connection.
    assert.ok(await conn.closesWithin(150));
  });

  test('foreground waits per address: 429 with Retry-After beyond the limit', async () => {
    const a = await RawConnection.open(port);
    const b = await RawConnection.open(port);
    a.write('POST /w HTTP/1.1\r\nContent-Length: 1\r\nX-Gearman-Timeout: 900\r\n\r\na');
    b.write('POST /w HTTP/1.1\r\nContent-Length: 1\r\nX-Gearman-Timeout: 900\r\n\r\nb');
    await eventually(async () => (await functionStatus(server.port)).get('w')?.[0] === 2);
    const c = await RawConnection.open(port);
    c.write('POST /w HTTP/1.1\r\nContent-Length: 1\r\n\r\nc');
    const res = await c.read();
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(errorCode(res.body), 'TOO_MANY_WAITS');
    // Background submissions are not waits.
    c.write('POST /w2 HTTP/1.1\r\nX-Gearman-Background: true\r\nContent-Length: 1\r\n\r\nc');
    assert.equal((await c.read()).status, 200);
    for (const conn of [a, b, c]) conn.close();
    await eventually(async () => (await functionStatus(server.port)).get('w')?.[0] === 0);
  });

  test('a full queue: 503 QUEUE_FULL with Retry-After', async () => {
    for (const body of ['1', '2']) {
      const ok = await fetch(`http://127.0.0.1:${port}/qf`, { method: 'POST', body, headers: { 'X-Gearman-Background': 'true' } });
      assert.equal(ok.status, 200);
    }
    const res = await fetch(`http://127.0.0.1:${port}/qf`, { method: 'POST', body: '3', headers: { 'X-Gearman-Background': 'true' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(res.headers.get('x-gearman-command'), 'ERROR');
    assert.deepEqual(await res.json(), { error: { code: 'QUEUE_FULL', message: 'The job queue of this function is full' } });
  });

  test('the wait is bounded: 504 after the default wait, and the queued job is withdrawn', async () => {
    const started = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/noWorker504`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 504);
    assert.ok(Date.now() - started >= 450);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'WAIT_TIMEOUT');
    assert.match(res.headers.get('x-gearman-job-handle')!, /^H:/);
    assert.equal((await functionStatus(server.port)).get('noWorker504')?.[0], 0);
  });

  test('X-Gearman-Timeout shortens the wait and is capped by the maximum', async () => {
    let started = Date.now();
    const short = await fetch(`http://127.0.0.1:${port}/noWorkerT`, { method: 'POST', body: 'a', headers: { 'X-Gearman-Timeout': '50' } });
    assert.equal(short.status, 504);
    assert.ok(Date.now() - started < 450);
    started = Date.now();
    const capped = await fetch(`http://127.0.0.1:${port}/noWorkerT`, { method: 'POST', body: 'b', headers: { 'X-Gearman-Timeout': '60000' } });
    assert.equal(capped.status, 504);
    // Capped at the 900 ms maximum: neither the 500 ms default nor the 60 s asked for.
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 850 && elapsed < 5000, `504 after ${elapsed} ms`);
  });

  test('a running job that times out keeps running; its late result goes nowhere', async () => {
    const w = await RawWorker.start(server.port, { late: () => 'hold' });
    const res = await fetch(`http://127.0.0.1:${port}/late`, { method: 'POST', body: 'x', headers: { 'X-Gearman-Timeout': '100' } });
    assert.equal(res.status, 504);
    const job = await w.grabbed(1);
    w.send(job.handle, [{ complete: 'late' }]);
    await eventually(async () => (await functionStatus(server.port)).get('late')?.[0] === 0);
    w.close();
  });
});

describe('HTTP connection limits and the memory budget', () => {
  let server: RunningServer;

  before(async () => {
    server = await startGearport({
      http: true,
      args: ['--queue-type', 'none', '--http-max-connections', '4', '--http-max-connections-per-address', '2', '--max-job-memory', '3000'],
    });
  });
  after(async () => {
    await server?.stop();
  });

  const openFrom = (localAddress: string) => RawConnection.openFrom(server.httpPort!, localAddress);
  /** A connection the server admitted (earlier tests' connections may still be closing). */
  async function openAdmitted(localAddress: string): Promise<RawConnection> {
    for (let attempt = 0; ; attempt++) {
      const conn = await openFrom(localAddress);
      conn.write('GET /_gearport/health HTTP/1.1\r\n\r\n');
      if ((await conn.read()).status === 200) return conn;
      conn.close();
      if (attempt > 200) throw new Error('never admitted');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  test('connections per address: the next one gets 503 and is closed', async () => {
    const a = await openFrom('127.0.0.1');
    const b = await openFrom('127.0.0.1');
    a.write('GET /_gearport/health HTTP/1.1\r\n\r\n');
    b.write('GET /_gearport/health HTTP/1.1\r\n\r\n');
    await a.read();
    await b.read();
    const c = await openFrom('127.0.0.1');
    const res = await c.read();
    assert.equal(res.status, 503);
    assert.equal(errorCode(res.body), 'TOO_MANY_CONNECTIONS');
    assert.ok(await c.closesWithin(5000));
    // Another address still gets in.
    const d = await openFrom('127.0.0.2');
    d.write('GET /_gearport/health HTTP/1.1\r\n\r\n');
    assert.equal((await d.read()).status, 200);
    for (const conn of [a, b, d]) conn.close();
  });

  test('connections in total: the next one gets 503', async () => {
    const open: RawConnection[] = [];
    for (const address of ['127.0.0.3', '127.0.0.3', '127.0.0.4', '127.0.0.4']) open.push(await openAdmitted(address));
    const extra = await openFrom('127.0.0.5');
    assert.equal((await extra.read()).status, 503);
    for (const conn of open) conn.close();
  });

  test('the job memory budget: refused early with 503 MEMORY_FULL', async () => {
    const first = await openAdmitted('127.0.0.7');
    first.write(`POST /mem HTTP/1.1\r\nX-Gearman-Background: true\r\nContent-Length: 1200\r\n\r\n${'m'.repeat(1200)}`);
    const accepted = await first.read();
    assert.equal(accepted.status, 200, accepted.body.toString());
    first.close();
    // The second would pass the budget: refused from its Content-Length, before its body.
    const conn = await openAdmitted('127.0.0.6');
    conn.write(`POST /mem HTTP/1.1\r\nX-Gearman-Background: true\r\nContent-Length: 1900\r\n\r\n`);
    const res = await conn.read();
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(errorCode(res.body), 'MEMORY_FULL');
    conn.close();
  });
});


describe('HTTP request timeout vs a long foreground wait', () => {
  let server: RunningServer;

  before(async () => {
    server = await startGearport({
      http: true,
      args: ['--queue-type', 'none', '--http-headers-timeout', '300', '--http-request-timeout', '600', '--http-wait-timeout', '1500'],
    });
  });
  after(async () => {
    await server?.stop();
  });

  test('the request timeout covers receiving the request, not waiting for the result', async () => {
    const w = await RawWorker.start(server.port, { slow: () => 'hold' });
    const conn = await RawConnection.open(server.httpPort!);
    conn.write('POST /slow HTTP/1.1\r\nContent-Length: 1\r\n\r\ns');
    const job = await w.grabbed(1);
    await new Promise((r) => setTimeout(r, 1000)); // past the request timeout, within the wait
    w.send(job.handle, [{ complete: 'worth the wait' }]);
    const res = await conn.read();
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'worth the wait');
    conn.close();
    w.close();
  });
});

describe('HTTP pipelining limit', () => {
  const f = httpFixture(['--http-max-pipelined', '2'], { p: () => 'hold' });

  test('--http-max-pipelined: only that many requests of a connection are worked on; the rest wait unread', async () => {
    const conn = await RawConnection.open(f.port);
    conn.write(['one', 'two', 'six'].map((w) => `POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\n${w}`).join(''));
    const first = await f.worker.grabbed(1);
    const second = await f.worker.grabbed(2);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(f.worker.jobs.length, 2, 'the third request is not read while two are in progress');
    f.worker.send(first.handle, [{ complete: 'ONE' }]);
    assert.equal((await conn.read()).body.toString(), 'ONE');
    const third = await f.worker.grabbed(3);
    assert.equal(third.workload.toString(), 'six');
    f.worker.send(third.handle, [{ complete: 'SIX' }]);
    f.worker.send(second.handle, [{ complete: 'TWO' }]);
    assert.equal((await conn.read()).body.toString(), 'TWO');
    assert.equal((await conn.read()).body.toString(), 'SIX');
    conn.close();
  });
});

describe('HTTP output backpressure', () => {
  const f = httpFixture(['--output-high-water', '64k']);

  test('--output-high-water: a client that does not read its responses is not read from either', async () => {
    // 3,000 OpenAPI documents (about 60 MiB) are more than the kernel buffers of both ends
    // hold; a background job requested behind them shows whether the server read that far.
    const conn = await RawConnection.open(f.port);
    conn.socket.pause();
    const requests = 'GET /_gearport/openapi.json HTTP/1.1\r\n\r\n'.repeat(3000);
    conn.write(requests + 'POST /behindTheDocs HTTP/1.1\r\nX-Gearman-Background: true\r\nContent-Length: 1\r\n\r\nx');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await functionStatus(f.server.port)).get('behindTheDocs'), undefined, 'the last request was not read while responses pile up');
    conn.socket.resume();
    for (let i = 0; i < 3000; i++) assert.equal((await conn.read()).status, 200);
    const last = await conn.read();
    assert.equal(last.headers['x-gearman-command'], 'JOB_CREATED');
    assert.equal((await functionStatus(f.server.port)).get('behindTheDocs')?.[0], 1);
    conn.close();
  });
});

describe('HTTP output backpressure: control run', () => {
  // The same exchange with a high-water mark above the ~60 MiB of documents.
  const f = httpFixture(['--output-high-water', '512m', '--max-output-buffer', '1g']);

  test('with --output-high-water above the output, the request behind the documents is read and its job made', async () => {
    // Shows that the limit is what keeps the test above from reading that far.
    const conn = await RawConnection.open(f.port);
    conn.socket.pause();
    const requests = 'GET /_gearport/openapi.json HTTP/1.1\r\n\r\n'.repeat(3000);
    conn.write(requests + 'POST /behindTheDocsControl HTTP/1.1\r\nX-Gearman-Background: true\r\nContent-Length: 1\r\n\r\nx');
    await eventually(async () => (await functionStatus(f.server.port)).get('behindTheDocsControl')?.[0] === 1);
    conn.close();
  });
});
