/** WORK_DATA, WORK_STATUS and WORK_WARNING over HTTP: streamed body or server-sent events. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { RawWorker } from './raw-worker.js';
import { RawConnection, rawExchange } from './raw-http.js';

describe('HTTP progress', () => {
  let server: RunningServer;
  let worker: RawWorker;
  let port: number;

  before(async () => {
    server = await startGearport({ http: true, args: ['--queue-type', 'none'] });
    port = server.httpPort!;
    worker = await RawWorker.start(server.port, {
      chunks: () => [{ data: 'part1,' }, { status: [1, 2] }, { warning: 'careful' }, { data: 'part2,' }, { complete: 'end' }],
      failsLate: () => [{ data: 'partial' }, { fail: true }],
      throws: () => [{ status: [1, 3] }, { exception: 'bad input' }],
      hold: () => 'hold',
    });
  });
  after(async () => {
    worker?.close();
    await server?.stop();
  });

  test('without event-stream: WORK_DATA chunks then the result form a chunked body, with a trailer', async () => {
    const res = await rawExchange(port, 'POST /chunks HTTP/1.1\r\nTE: trailers\r\nContent-Length: 1\r\n\r\nx');
    res.conn.close();
    assert.equal(res.status, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.headers['x-gearman-command'], 'WORK_DATA');
    assert.equal(res.body.toString(), 'part1,part2,end');
    assert.equal(res.trailers['x-gearman-command'], 'WORK_COMPLETE');
  });

  test('the body streams: the first chunk arrives before the job is done', async () => {
    const conn = await RawConnection.open(port);
    const before = worker.jobs.length;
    conn.write('POST /hold HTTP/1.1\r\nContent-Length: 1\r\n\r\ny');
    const job = await worker.grabbed(before + 1);
    worker.send(job.handle, [{ data: 'early' }]);
    while (!conn.pending().toString().includes('early')) await new Promise((r) => setTimeout(r, 10));
    worker.send(job.handle, [{ complete: '!' }]);
    const res = await conn.read();
    assert.equal(res.body.toString(), 'early!');
    conn.close();
  });

  test('fetch reads the streamed body whole', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/chunks`, { method: 'POST', body: 'z' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'part1,part2,end');
  });

  test('a failure after data started cuts the body short instead of ending it as a success', async () => {
    const res = fetch(`http://127.0.0.1:${port}/failsLate`, { method: 'POST', body: 'f' }).then((r) => r.text());
    await assert.rejects(res);
  });

  test('Accept: text/event-stream: data, status, warning and the result as the last event', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/chunks`, { method: 'POST', body: 'e', headers: { Accept: 'text/event-stream' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.match(res.headers.get('x-gearman-job-handle')!, /^H:/);
    const text = await res.text();
    assert.equal(
      text,
      'event: data\ndata: part1,\n\n' +
        'event: status\ndata: {"numerator":"1","denominator":"2"}\n\n' +
        'event: warning\ndata: careful\n\n' +
        'event: data\ndata: part2,\n\n' +
        'event: complete\ndata: end\n\n',
    );
  });

  test('event stream: an exception is the last event', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/throws`, { method: 'POST', body: 'e', headers: { Accept: 'text/event-stream' } });
    const text = await res.text();
    assert.equal(text, 'event: status\ndata: {"numerator":"1","denominator":"3"}\n\nevent: exception\ndata: bad input\n\n');
  });

  test('event stream: a timeout is an error event', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/nobodyServes`, { method: 'POST', body: 'e', headers: { Accept: 'text/event-stream', 'X-Gearman-Timeout': '200' } });
    const text = await res.text();
    assert.match(text, /^event: error\ndata: \{"error":\{"code":"WAIT_TIMEOUT"/);
  });

  test('multi-line payloads become several data: lines', async () => {
    const conn = await RawConnection.open(port);
    const before = worker.jobs.length;
    conn.write('POST /hold HTTP/1.1\r\nAccept: text/event-stream\r\nContent-Length: 1\r\n\r\nm');
    const job = await worker.grabbed(before + 1);
    worker.send(job.handle, [{ data: 'a\nb' }, { complete: 'c\r\nd' }]);
    const res = await conn.read();
    assert.equal(res.body.toString(), 'event: data\ndata: a\ndata: b\n\nevent: complete\ndata: c\ndata: d\n\n');
    conn.close();
  });
});

describe('HTTP progress to a caller that does not read', { timeout: 60_000 }, () => {
  let server: RunningServer;
  let worker: RawWorker;
  before(async () => {
    // A long wait, so only the output limit can end the stream within the test.
    server = await startGearport({ http: true, args: ['--queue-type', 'none', '--max-packet-size', '64k', '--max-output-buffer', '1m', '--http-wait-timeout', '120000'] });
    worker = await RawWorker.start(server.port, { hold: () => 'hold' });
  });
  after(async () => {
    worker?.close();
    await server?.stop();
  });

  test('past --max-output-buffer of unsent WORK_DATA the stream is cut, not buffered without bound', async () => {
    const socket = connect({ host: '127.0.0.1', port: server.httpPort! });
    await once(socket, 'connect');
    socket.write('POST /hold HTTP/1.1\r\nContent-Length: 1\r\n\r\nx');
    socket.pause(); // not read: the kernel buffers fill, then the server's
    const job = await worker.grabbed(1);
    // 16 MiB in 32 KiB chunks: far more than the socket buffers plus the 1 MiB limit; no result.
    const chunk = Buffer.alloc(32 * 1024, 'a');
    for (let i = 0; i < 512; i++) worker.send(job.handle, [{ data: chunk }]);
    await new Promise<void>((r) => worker.socket.write(Buffer.alloc(0), () => r()));
    await new Promise((r) => setTimeout(r, 1000)); // the server has taken the data in
    // Now read: a cut stream ends once the buffered bytes are read; an uncut one would go on.
    let got = 0;
    let tail = '';
    socket.on('data', (d: Buffer) => {
      got += d.length;
      tail = (tail + d.toString('latin1')).slice(-16);
    });
    const closed = once(socket, 'close');
    socket.resume();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise<string>((r) => (timer = setTimeout(r, 30_000, 'still open')))]);
    clearTimeout(timer); // else the pending timer keeps the test process alive for 30 s
    socket.destroy();
    assert.equal(outcome, 'closed', 'the server cut the caller off');
    assert.ok(got < 512 * chunk.length, `only part of the data was delivered (${got} bytes)`);
    assert.ok(!tail.endsWith('0\r\n\r\n'), 'the cut body has no final chunk, so it cannot read as a success');
    const health = await fetch(`http://127.0.0.1:${server.httpPort}/_gearport/health`);
    assert.equal(health.status, 200);
  });
});
