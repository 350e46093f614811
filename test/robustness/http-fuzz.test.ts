/**
 * Fuzzing the HTTP front with fast-check: the pure X-Gearman-* header reader on arbitrary
 * header lists, and the running server on arbitrary (mostly almost-valid) request bytes.
 * Every answer must be a well-formed HTTP status line or a close; the server must live on
 * and keep serving a legitimate request. Bounded: a fixed number of runs, each with a deadline.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import { readGearmanHeaders } from '../../src/server/http/gearman-headers.js';
import { Priority } from '../../src/engine/types.js';
import { startGearport, type RunningServer } from '../helpers/servers.js';

test('readGearmanHeaders never throws and yields a valid request description', () => {
  const name = fc.constantFrom('X-Gearman-Unique', 'x-gearman-background', 'X-GEARMAN-PRIORITY', 'X-Gearman-Timeout', 'Content-Length', 'Transfer-Encoding', 'Accept', 'Other');
  fc.assert(
    fc.property(fc.array(fc.tuple(name, fc.string({ maxLength: 80 })), { maxLength: 12 }), (pairs) => {
      const h = readGearmanHeaders(pairs.flat());
      assert.ok([Priority.HIGH, Priority.NORMAL, Priority.LOW].includes(h.priority));
      assert.equal(typeof h.background, 'boolean');
      assert.ok(h.contentLength === -1 || (Number.isSafeInteger(h.contentLength) && h.contentLength >= 0));
      assert.ok(h.timeoutMs === undefined || (Number.isFinite(h.timeoutMs) && h.timeoutMs >= 0));
    }),
    { numRuns: 2000 },
  );
});

/** Send raw bytes, collect what comes back until the server closes or the deadline passes. */
function exchange(port: number, bytes: Buffer, deadlineMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let got = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, deadlineMs);
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => {
      socket.write(bytes);
      socket.end(); // EOF: an incomplete request must end, not hang
    });
  });
}

describe('HTTP front under fuzzed requests', () => {
  let server: RunningServer;
  before(async () => {
    server = await startGearport({ http: true, args: ['--queue-type', 'none', '--http-wait-timeout', '300', '--http-max-body', '4k'] });
  });
  after(async () => {
    await server?.stop();
  });

  test('arbitrary request bytes get a well-formed status line or a close; the server keeps serving', async () => {
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'TRACE', 'OPTIONS', 'get', 'P\u00d8ST', '');
    const path = fc.oneof(fc.constantFrom('/', '/reverse', '//x', '/_gearport/health', '/_gearport/jobs/%zz', '/f?q=1'), fc.string({ maxLength: 40 }).map((s) => '/' + s));
    const version = fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/x', '');
    const header = fc.oneof(
      fc.tuple(fc.constantFrom('X-Gearman-Unique', 'X-Gearman-Background', 'X-Gearman-Priority', 'X-Gearman-Timeout', 'Content-Length', 'Transfer-Encoding', 'Expect'), fc.string({ maxLength: 70 })).map(([n, v]) => `${n}: ${v}`),
      fc.string({ maxLength: 60 }),
    );
    const body = fc.oneof(fc.string({ maxLength: 200 }), fc.constant('5\r\nhello\r\n0\r\n\r\n'), fc.constant('zz\r\nxx\r\n'));
    const request = fc.record({ method, path, version, headers: fc.array(header, { maxLength: 6 }), body, lineEnd: fc.constantFrom('\r\n', '\n') });
    const statusLine = /^HTTP\/1\.[01] [1-5]\d\d /;
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const text = [`${r.method} ${r.path} ${r.version}`, ...r.headers, '', r.body].join(r.lineEnd);
        const reply = await exchange(server.httpPort!, Buffer.from(text, 'latin1'));
        if (reply.length > 0) {
          answered++;
          assert.match(reply, statusLine, `reply to ${JSON.stringify(text.slice(0, 120))}: ${JSON.stringify(reply.slice(0, 80))}`);
          assert.doesNotMatch(reply, /at [\w.]+ \(|node:internal|\/work\//, 'no stack traces or paths in answers');
        }
      }),
      { numRuns: 150 },
    );
    console.log(`fuzz: ${answered}/150 answered`);
    assert.ok(answered > 100, `most fuzzed requests got an answer (${answered}/150)`);
    assert.equal(server.process.exitCode, null, 'the server is still running');
    const health = await fetch(`http://127.0.0.1:${server.httpPort}/_gearport/health`);
    assert.equal(health.status, 200);
  });
});
