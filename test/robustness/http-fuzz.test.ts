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
import { RawConnection } from '../http/raw-http.js';
import { reverse } from '../http/raw-worker.js';
import { httpFixture } from '../http/http-fixture.js';

test('readGearmanHeaders reads X-Gearman-* values as an independent oracle does', () => {
  const name = fc.constantFrom('X-Gearman-Unique', 'x-gearman-background', 'X-GEARMAN-PRIORITY', 'X-Gearman-Timeout', 'Content-Length', 'Transfer-Encoding', 'Accept', 'Other');
  // Values that hit each rule (valid, invalid, blanks, case) mixed with random ones.
  const value = fc.oneof(fc.constantFrom('true', ' FALSE ', 'high', 'normal', 'low', '', '12', '-1', 'x'), fc.string({ maxLength: 80 }));
  // Values as the head parser hands them over: without surrounding blanks (SP, HTAB).
  const stripBlanks = (v: string) => v.replace(/^[ \t]+|[ \t]+$/g, '');
  fc.assert(
    fc.property(fc.array(fc.tuple(name, value.map(stripBlanks)), { maxLength: 12 }), fc.integer({ min: -1, max: 5000 }), fc.boolean(), (pairs, contentLength, chunked) => {
      const h = readGearmanHeaders({ rawHeaders: pairs.flat(), contentLength, chunked });
      // The oracle: each header's last valid value counts; an invalid one names itself (the last such wins).
      let invalid: string | undefined;
      let background = false;
      let priority: Priority = Priority.NORMAL;
      let timeoutMs: number | undefined;
      let unique = '-';
      let eventStream = false;
      for (const [n, v] of pairs) {
        const lower = n.toLowerCase();
        if (lower === 'x-gearman-background') {
          if (/^true$/i.test(v)) background = true;
          else if (/^false$/i.test(v)) background = false;
          else invalid = n;
        } else if (lower === 'x-gearman-priority') {
          if (/^high$/i.test(v)) priority = Priority.HIGH;
          else if (/^normal$/i.test(v)) priority = Priority.NORMAL;
          else if (/^low$/i.test(v)) priority = Priority.LOW;
          else invalid = n;
        } else if (lower === 'x-gearman-timeout') {
          if (/^[0-9]{1,10}$/.test(v)) timeoutMs = Number(v);
          else invalid = n;
        } else if (lower === 'x-gearman-unique') {
          if (v !== '') unique = v;
        } else if (lower === 'accept') {
          if (v.includes('text/event-stream')) eventStream = true;
        }
      }
      const got = { invalid: h.invalid, background: h.background, priority: h.priority, timeoutMs: h.timeoutMs, unique: h.unique, eventStream: h.eventStream, contentLength: h.contentLength, chunked: h.chunked };
      assert.deepEqual(got, { invalid, background, priority, timeoutMs, unique, eventStream, contentLength, chunked }, JSON.stringify(pairs));
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

describe('HTTP front: the same bytes get the same answers however they are split', () => {
  const f = httpFixture(['--http-max-body', '4k'], { reverse });

  /**
   * Status, headers (no Date, no handle: they differ between runs) and body of each response,
   * one per request (`heads`: which are HEAD, whose responses have no body), until a close.
   */
  async function answers(bytes: Buffer, pieces: number[], heads: readonly boolean[]): Promise<string[]> {
    const conn = await RawConnection.open(f.port);
    conn.socket.setNoDelay(true);
    let at = 0;
    for (const cut of [...pieces, bytes.length]) {
      if (cut <= at) continue;
      conn.write(bytes.subarray(at, cut));
      at = cut;
      await new Promise((r) => setTimeout(r, 2)); // separate segments
    }
    const out: string[] = [];
    try {
      for (const head of heads) {
        const res = await conn.read({ timeoutMs: 5000, head });
        const headers = Object.entries(res.headers).filter(([name]) => name !== 'date' && name !== 'x-gearman-job-handle');
        out.push(`${res.statusLine}\n${headers.map(([n, v]) => `${n}: ${v}`).join('\n')}\n\n${res.body.toString('latin1')}`);
      }
    } catch (err) {
      // Only a close is an answer; a timeout (a server that answers nothing) must fail the property.
      if (!conn.isClosed) throw err;
      out.push('(closed)');
    } finally {
      conn.close();
    }
    return out;
  }

  test('pipelined requests split at arbitrary points: answers equal those to the unsplit bytes', async () => {
    const word = fc.stringMatching(/^[a-z0-9]{0,24}$/);
    const request = fc.oneof(
      word.map((w) => ({ text: `POST /reverse HTTP/1.1\r\nContent-Length: ${w.length}\r\n\r\n${w}`, head: false })),
      fc.tuple(word, fc.nat(24)).map(([w, n]) => {
        const cut = Math.min(n, w.length);
        const chunk = (s: string) => (s === '' ? '' : `${s.length.toString(16)};x=y\r\n${s}\r\n`);
        return { text: `PUT /reverse HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(w.slice(0, cut))}${chunk(w.slice(cut))}0\r\nT: v\r\n\r\n`, head: false };
      }),
      word.map((w) => ({ text: `GET /reverse?${w} HTTP/1.1\r\nX-Gearman-Unique: ${w}x\r\n\r\n`, head: false })),
      fc.constant({ text: 'GET /_gearport/health HTTP/1.1\r\n\r\n', head: false }),
      fc.constant({ text: 'HEAD /reverse HTTP/1.1\r\n\r\n', head: true }),
      // A repeated Content-Length, even an equal one: 400 and close (RFC 9112 6.3).
      fc.constant({ text: 'POST /reverse HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab', head: false, closes: true }),
    );
    /** The statuses the unsplit bytes must get, worked out without the server: 200 each, up to the first 400 and close. */
    const expectedStatuses = (requests: ReadonlyArray<{ text: string; closes?: boolean }>): string[] => {
      const out: string[] = [];
      for (const [i, r] of requests.entries()) {
        out.push(r.closes === true ? '400' : '200');
        if (r.closes === true) {
          if (i < requests.length - 1) out.push('(closed)');
          break;
        }
      }
      return out;
    };
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(400), { maxLength: 6 }), async (requests, cuts) => {
        const bytes = Buffer.from(requests.map((r) => r.text).join(''), 'latin1');
        const heads = requests.map((r) => r.head);
        const whole = await answers(bytes, [], heads);
        assert.deepEqual(whole.map((a) => (a === '(closed)' ? a : a.split(' ')[1])), expectedStatuses(requests));
        const split = await answers(bytes, cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), heads);
        assert.deepEqual(split, whole);
      }),
      { numRuns: 25 },
    );
  });
});
