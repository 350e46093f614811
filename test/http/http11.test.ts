/** HTTP/1.1 done properly, checked byte by byte on raw sockets (gearmand: spec 3.7 items 4-6). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { RawWorker, reverse } from './raw-worker.js';
import { RawConnection, rawExchange } from './raw-http.js';
import { eventually, functionStatus } from './gear-probe.js';

describe('HTTP/1.1 behaviour', () => {
  let server: RunningServer;
  let worker: RawWorker;
  let port: number;

  before(async () => {
    server = await startGearport({ http: true, args: ['--queue-type', 'none'] });
    port = server.httpPort!;
    worker = await RawWorker.start(server.port, { reverse, hold: () => 'hold' });
  });
  after(async () => {
    worker?.close();
    await server?.stop();
  });

  test('keep-alive: several requests on one connection', async () => {
    const conn = await RawConnection.open(port);
    for (const word of ['one', 'two', 'three']) {
      conn.write(`POST /reverse HTTP/1.1\r\nHost: x\r\nContent-Length: ${word.length}\r\n\r\n${word}`);
      const res = await conn.read();
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), [...word].reverse().join(''));
    }
    assert.equal(conn.isClosed, false);
    conn.close();
  });

  test('pipelining: responses come back in request order even when the first job is slower', async () => {
    const conn = await RawConnection.open(port);
    const grabbed = worker.jobs.length;
    conn.write(
      'POST /hold HTTP/1.1\r\nContent-Length: 4\r\n\r\nslow' +
        'POST /reverse HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc' +
        'GET /reverse?xyz HTTP/1.1\r\n\r\n',
    );
    const held = await worker.grabbed(grabbed + 1);
    // Let the two quick jobs finish first; their responses must wait behind the held one.
    await worker.grabbed(grabbed + 3);
    worker.send(held.handle, [{ complete: 'first' }]);
    const bodies = [];
    for (let i = 0; i < 3; i++) bodies.push((await conn.read()).body.toString());
    assert.deepEqual(bodies, ['first', 'cba', 'zyx']);
    conn.close();
  });

  test('a chunked request body is the workload', async () => {
    const res = await rawExchange(port, 'POST /reverse HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
    res.conn.close();
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'edcba');
  });

  test('Expect: 100-continue gets an interim 100, then the result', async () => {
    const conn = await RawConnection.open(port);
    conn.write('POST /reverse HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const interim = await conn.read();
    assert.equal(interim.status, 100);
    conn.write('hello');
    const res = await conn.read();
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'olleh');
    conn.close();
  });

  test('HEAD answers headers only and the connection stays usable', async () => {
    const conn = await RawConnection.open(port);
    const before = worker.jobs.length;
    conn.write('HEAD /reverse HTTP/1.1\r\n\r\nPOST /reverse HTTP/1.1\r\nContent-Length: 2\r\n\r\nok');
    const head = await conn.read({ head: true });
    assert.equal(head.status, 200);
    const next = await conn.read();
    assert.equal(next.body.toString(), 'ko');
    assert.equal(worker.jobs.length, before + 1, 'HEAD submitted no job');
    conn.close();
  });

  test('HTTP/1.0 gets a 1.0-style close after the response', async () => {
    const res = await rawExchange(port, 'POST /reverse HTTP/1.0\r\nContent-Length: 2\r\n\r\nab');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'ba');
    assert.ok(await res.conn.closesWithin(5000));
  });

  test('a malformed request line is answered 400, not dropped silently', async () => {
    const res = await rawExchange(port, 'GARBAGE\r\n\r\n');
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body.toString()).error.code, 'BAD_REQUEST');
    assert.ok(await res.conn.closesWithin(5000));
  });

  test('a caller that disconnects before a worker takes the job withdraws it', async () => {
    const conn = await RawConnection.open(port);
    conn.write('POST /noWorkerYet HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc');
    await eventually(async () => (await functionStatus(server.port)).get('noWorkerYet')?.[0] === 1);
    conn.close();
    await eventually(async () => (await functionStatus(server.port)).get('noWorkerYet')?.[0] === 0);
  });

  test('a client that half-closes after its request: its queued job is withdrawn and the connection closed', async () => {
    // A FIN looks the same whether the client closed or only shut down its side: taken as gone.
    const conn = await RawConnection.open(port);
    conn.write('POST /noWorkerHalfClose HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc');
    await eventually(async () => (await functionStatus(server.port)).get('noWorkerHalfClose')?.[0] === 1);
    conn.socket.end();
    assert.ok(await conn.closesWithin(2000));
    await eventually(async () => (await functionStatus(server.port)).get('noWorkerHalfClose')?.[0] === 0);
  });

  test('a request cut short by the client\'s end of sending: 400 BODY_INCOMPLETE (BAD_REQUEST for a head), then the close', async () => {
    const conn = await RawConnection.open(port);
    conn.write('POST /reverse HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc');
    conn.socket.end();
    const cut = await conn.read();
    assert.equal(cut.status, 400);
    assert.equal(JSON.parse(cut.body.toString()).error.code, 'BODY_INCOMPLETE');
    assert.ok(await conn.closesWithin(3000));
    const partial = await RawConnection.open(port);
    partial.write('POST /reverse HTTP/1.1\r\nContent-Le');
    partial.socket.end();
    const refused = await partial.read();
    assert.equal(refused.status, 400);
    assert.equal(JSON.parse(refused.body.toString()).error.code, 'BAD_REQUEST');
    assert.ok(await partial.closesWithin(3000));
  });

  test('the job stays while another client shares it through its unique id', async () => {
    const a = await RawConnection.open(port);
    const b = await RawConnection.open(port);
    const req = 'POST /sharedNoWorker HTTP/1.1\r\nX-Gearman-Unique: shared-1\r\nContent-Length: 1\r\n\r\nx';
    a.write(req);
    b.write(req);
    await eventually(async () => {
      const s = await fetch(`http://127.0.0.1:${port}/_gearport/uniques/shared-1`);
      return s.status === 200 && ((await s.json()) as { waitingClients: number }).waitingClients === 2;
    });
    a.close();
    await eventually(async () => {
      const s = await fetch(`http://127.0.0.1:${port}/_gearport/uniques/shared-1`);
      return ((await s.json()) as { waitingClients: number }).waitingClients === 1;
    });
    assert.equal((await functionStatus(server.port)).get('sharedNoWorker')?.[0], 1);
    const w = await RawWorker.start(server.port, { sharedNoWorker: () => [{ complete: 'for b' }] });
    const res = await b.read();
    assert.equal(res.body.toString(), 'for b');
    w.close();
    b.close();
  });

  test('pipelining past --http-max-pipelined: all 40 requests are answered, in order, on the same connection', async () => {
    // The server under test keeps the default of 16 requests in progress per connection.
    const conn = await RawConnection.open(port);
    const words = Array.from({ length: 40 }, (_, i) => `w${String(i).padStart(2, '0')}`);
    conn.write(words.map((w) => `POST /reverse HTTP/1.1\r\nContent-Length: ${w.length}\r\n\r\n${w}`).join(''));
    const bodies = [];
    for (let i = 0; i < words.length; i++) bodies.push((await conn.read()).body.toString());
    assert.deepEqual(bodies, words.map((w) => [...w].reverse().join('')));
    assert.equal(conn.isClosed, false);
    conn.close();
  });

  test('a malformed request behind a good one: the good one is answered first, then 400 and close', async () => {
    const conn = await RawConnection.open(port);
    conn.write('POST /reverse HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc' + 'POST /reverse HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy');
    const first = await conn.read();
    assert.equal(first.body.toString(), 'cba');
    const second = await conn.read();
    assert.equal(second.status, 400);
    assert.equal(second.headers.connection, 'close');
    assert.ok(await conn.closesWithin(5000));
  });

  test('request smuggling shapes are refused: Content-Length with Transfer-Encoding, obs-fold, a space before the colon', async () => {
    for (const request of [
      'POST /reverse HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /reverse HTTP/1.1\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx',
      'POST /reverse HTTP/1.1\r\nTransfer-Encoding : chunked\r\nContent-Length: 1\r\n\r\nx',
    ]) {
      const res = await rawExchange(port, request);
      assert.equal(res.status, 400, request);
      assert.ok(await res.conn.closesWithin(5000), request);
    }
    const coding = await rawExchange(port, 'POST /reverse HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n');
    assert.equal(coding.status, 501);
    assert.equal(JSON.parse(coding.body.toString()).error.code, 'TRANSFER_CODING_UNSUPPORTED');
    const version = await rawExchange(port, 'GET /reverse HTTP/2.0\r\n\r\n');
    assert.equal(version.status, 505);
    const expect = await rawExchange(port, 'POST /reverse HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n');
    assert.equal(expect.status, 417);
    for (const r of [coding, version, expect]) r.conn.close();
  });

  test('a chunked body split across many writes, with extensions and trailers, is the workload', async () => {
    const conn = await RawConnection.open(port);
    const bytes = 'POST /reverse HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Trailer: t\r\n\r\n';
    for (const c of bytes) {
      conn.write(c);
      await new Promise((r) => setImmediate(r));
    }
    const res = await conn.read();
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'gfedcba');
    conn.close();
  });

  test('HTTP/1.0 with Connection: keep-alive keeps the connection', async () => {
    const conn = await RawConnection.open(port);
    for (const word of ['ab', 'cd']) {
      conn.write(`POST /reverse HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n${word}`);
      const res = await conn.read();
      assert.equal(res.headers.connection, 'keep-alive');
      assert.equal(res.body.toString(), [...word].reverse().join(''));
    }
    assert.equal(conn.isClosed, false);
    conn.close();
  });

  test('Connection: close from the client: the response says close and the connection ends; later bytes are not read', async () => {
    const conn = await RawConnection.open(port);
    const before = worker.jobs.length;
    conn.write('POST /reverse HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab' + 'POST /reverse HTTP/1.1\r\nContent-Length: 2\r\n\r\ncd');
    const res = await conn.read();
    assert.equal(res.headers.connection, 'close');
    assert.equal(res.body.toString(), 'ba');
    assert.ok(await conn.closesWithin(5000));
    assert.equal(worker.jobs.length, before + 1, 'the request after the last one made no job');
  });
});
