/**
 * The pure HTTP/1.x wire modules: the request-head parser (RFC 9112 sections 2-7) and the
 * chunked body decoder (RFC 9112 7.1). Byte fixtures, exact refusals, incremental arrival,
 * and fast-check properties. No sockets.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeldBytes } from '../../src/server/http/wire/held-bytes.js';
import { parseRequestHead, type HeadLimits, type HeadParse, type RequestHead } from '../../src/server/http/wire/request-head.js';
import { readGearmanHeaders } from '../../src/server/http/gearman-headers.js';
import { Priority } from '../../src/engine/types.js';
import { ChunkedDecoder } from '../../src/server/http/wire/chunked.js';
import { HttpErrors, type HttpErrorSpec } from '../../src/server/http/errors.js';

const LIMITS: HeadLimits = { maxHeaderBytes: 8192, maxUrlBytes: 2048 };
const SMALL: HeadLimits = { maxHeaderBytes: 128, maxUrlBytes: 64 };
/** Every status parseRequestHead may refuse with. */
const HEAD_STATUSES = [400, 414, 417, 431, 501, 505];

const bytes = (text: string) => Buffer.from(text, 'latin1');

/** Parse a whole latin1 string as one buffer. */
function parse(text: string | Buffer, limits: HeadLimits = LIMITS): HeadParse {
  const buf = typeof text === 'string' ? bytes(text) : text;
  return parseRequestHead(buf, 0, buf.length, limits);
}

/** Parse and insist on a complete head. */
function head(text: string, limits: HeadLimits = LIMITS): { head: RequestHead; end: number } {
  const r = parse(text, limits);
  assert.ok(r !== undefined, `incomplete: ${JSON.stringify(text)}`);
  assert.ok(!('error' in r), `refused (${r !== undefined && 'error' in r ? r.error.code : ''}): ${JSON.stringify(text)}`);
  return r;
}

/** Parse and insist on a refusal; returns it. */
function refusal(text: string | Buffer, limits: HeadLimits = LIMITS): HttpErrorSpec {
  const r = parse(text, limits);
  const shown = JSON.stringify(typeof text === 'string' ? text.slice(0, 100) : text.toString('latin1', 0, 100));
  assert.ok(r !== undefined, `incomplete, expected a refusal: ${shown}`);
  assert.ok('error' in r, `accepted, expected a refusal: ${shown}`);
  return r.error;
}

// ---------------------------------------------------------------------------------------
describe('parseRequestHead: byte fixtures', () => {
  test('a plain GET with no headers', () => {
    const text = 'GET / HTTP/1.1\r\n\r\n';
    const r = head(text);
    assert.equal(r.end, text.length);
    assert.deepEqual(r.head, {
      method: 'GET',
      url: '/',
      versionMinor: 1,
      rawHeaders: [],
      contentLength: -1,
      chunked: false,
      keepAlive: true,
      expectContinue: false,
    });
  });

  test('POST with Content-Length: end points at the body that follows', () => {
    const headText = 'POST /reverse?x=1 HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\n\r\n';
    const r = head(headText + 'hello');
    assert.equal(r.end, headText.length);
    assert.equal((headText + 'hello').slice(r.end), 'hello');
    assert.equal(r.head.method, 'POST');
    assert.equal(r.head.url, '/reverse?x=1');
    assert.equal(r.head.contentLength, 5);
    assert.equal(r.head.chunked, false);
    assert.deepEqual(r.head.rawHeaders, ['Host', 'example', 'Content-Length', '5']);
  });

  test('header names keep their case; values are trimmed of surrounding SP and HTAB only', () => {
    const r = head('GET / HTTP/1.1\r\nX-MiXeD-Case:  \t a  b\tc \t \r\nx-empty:\r\nX-Blank: \t \r\nX-Tight:v\r\nX-Latin: caf\xe9\r\n\r\n');
    assert.deepEqual(r.head.rawHeaders, ['X-MiXeD-Case', 'a  b\tc', 'x-empty', '', 'X-Blank', '', 'X-Tight', 'v', 'X-Latin', 'caf\xe9']);
  });

  test('methods are kept as sent (case-sensitive), extension methods included', () => {
    assert.equal(head('get / HTTP/1.1\r\n\r\n').head.method, 'get');
    assert.equal(head('M-SEARCH * HTTP/1.1\r\n\r\n').head.method, 'M-SEARCH');
    assert.equal(head('M-SEARCH * HTTP/1.1\r\n\r\n').head.url, '*');
    const m32 = 'M'.repeat(32);
    assert.equal(head(`${m32} / HTTP/1.1\r\n\r\n`).head.method, m32, 'a 32-byte method is accepted');
  });

  test('leading empty lines (CRLF) before the request line are skipped', () => {
    const text = '\r\n\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n';
    const r = head(text);
    assert.equal(r.end, text.length);
    assert.equal(r.head.url, '/x');
    assert.deepEqual(r.head.rawHeaders, ['Host', 'h']);
  });

  test('parses from `start`, and pipelined heads one after another', () => {
    const first = 'GET /a HTTP/1.1\r\n\r\n';
    const second = 'POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n';
    const buf = bytes('JUNK' + first + second + 'hi');
    const r1 = parseRequestHead(buf, 4, buf.length, LIMITS);
    assert.ok(r1 !== undefined && 'head' in r1);
    assert.equal(r1.head.url, '/a');
    assert.equal(r1.end, 4 + first.length);
    const r2 = parseRequestHead(buf, r1.end, buf.length, LIMITS);
    assert.ok(r2 !== undefined && 'head' in r2);
    assert.equal(r2.head.url, '/b');
    assert.equal(r2.end, 4 + first.length + second.length);
    assert.equal(buf.toString('latin1', r2.end), 'hi');
    // `end` bounds the parse: the second head cut short is incomplete, not refused.
    assert.equal(parseRequestHead(buf, r1.end, r1.end + 10, LIMITS), undefined);
  });

  test('HTTP/1.0 closes by default; Connection: keep-alive keeps it open', () => {
    assert.equal(head('GET / HTTP/1.0\r\n\r\n').head.versionMinor, 0);
    assert.equal(head('GET / HTTP/1.0\r\n\r\n').head.keepAlive, false);
    assert.equal(head('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').head.keepAlive, true);
    assert.equal(head('GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n').head.keepAlive, true);
    assert.equal(head('GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n').head.keepAlive, true);
    assert.equal(head('GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n').head.keepAlive, false);
    assert.equal(head('GET / HTTP/1.0\r\nConnection: keep-alive-ish\r\n\r\n').head.keepAlive, false);
  });

  test('HTTP/1.1 stays open unless Connection lists close', () => {
    assert.equal(head('GET / HTTP/1.1\r\n\r\n').head.keepAlive, true);
    assert.equal(head('GET / HTTP/1.1\r\nConnection: close\r\n\r\n').head.keepAlive, false);
    assert.equal(head('GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n').head.keepAlive, false);
    assert.equal(head('GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n').head.keepAlive, false);
    assert.equal(head('GET / HTTP/1.1\r\nConnection: foo,close ,bar\r\n\r\n').head.keepAlive, false);
    assert.equal(head('GET / HTTP/1.1\r\nConnection: foo\r\nConnection: close\r\n\r\n').head.keepAlive, false, 'a second Connection field counts');
    assert.equal(head('GET / HTTP/1.1\r\nConnection: closed\r\n\r\n').head.keepAlive, true, 'tokens, not substrings');
    assert.equal(head('GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n').head.keepAlive, true);
  });

  test('Expect: 100-continue (any case) sets expectContinue on HTTP/1.1, is ignored on HTTP/1.0', () => {
    assert.equal(head('POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n').head.expectContinue, true);
    assert.equal(head('POST / HTTP/1.1\r\nexpect: 100-Continue\r\nContent-Length: 3\r\n\r\n').head.expectContinue, true);
    assert.equal(head('POST / HTTP/1.1\r\nEXPECT: 100-CONTINUE\r\n\r\n').head.expectContinue, true);
    assert.equal(head('POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n').head.expectContinue, false);
    // RFC 9110 10.1.1: an HTTP/1.0 request's expectation is ignored, an unknown one included.
    assert.equal(head('POST / HTTP/1.0\r\nExpect: foo\r\n\r\n').head.expectContinue, false);
    assert.equal(head('POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n').head.expectContinue, false);
  });

  test('Transfer-Encoding: chunked (any case) sets chunked', () => {
    const r = head('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.equal(r.head.chunked, true);
    assert.equal(r.head.contentLength, -1);
    assert.equal(head('POST / HTTP/1.1\r\ntransfer-encoding:  Chunked \r\n\r\n').head.chunked, true);
  });

  test('Content-Length: leading zeros and 15 digits are accepted', () => {
    assert.equal(head('POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n').head.contentLength, 0);
    assert.equal(head('POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n').head.contentLength, 7);
    assert.equal(head('POST / HTTP/1.1\r\ncontent-length: 999999999999999\r\n\r\n').head.contentLength, 999999999999999);
  });

  test('the guard gets the first Authorization and Origin, read in the same pass as X-Gearman-*', () => {
    const h = readGearmanHeaders(
      head('POST /f HTTP/1.1\r\nauthorization: Bearer one\r\nOrigin: https://a.example\r\nAuthorization: Bearer two\r\norigin: https://b.example\r\nX-Gearman-Priority:  HIGH \r\n\r\n').head,
    );
    assert.equal(h.authorization, 'Bearer one');
    assert.equal(h.origin, 'https://a.example');
    assert.equal(h.priority, Priority.HIGH, 'the head parser trims the blanks around a value');
    const none = readGearmanHeaders(head('GET / HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n').head);
    assert.deepEqual([none.authorization, none.origin, none.eventStream], [undefined, undefined, true]);
  });
});

// ---------------------------------------------------------------------------------------
describe('parseRequestHead: refusals', () => {
  test('obs-fold (a field line starting with SP or HTAB) is refused', () => {
    assert.equal(refusal('GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.1\r\nX-A: b\r\n\tc\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.1\r\n Host: x\r\n\r\n'), HttpErrors.badRequest);
  });

  test('whitespace between the field name and the colon is refused', () => {
    assert.equal(refusal('GET / HTTP/1.1\r\nHost : x\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.1\r\nHost\t: x\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello'), HttpErrors.badRequest);
  });

  test('malformed field lines are refused (no name, no colon, non-token name)', () => {
    assert.equal(refusal('GET / HTTP/1.1\r\n: x\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.1\r\nHost\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.1\r\nX Y: z\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.1\r\nX(Y): z\r\n\r\n'), HttpErrors.badRequest);
  });

  test('a bare LF anywhere in the head is refused', () => {
    assert.equal(refusal('GET / HTTP/1.1\nHost: x\r\n\r\n'), HttpErrors.badRequest, 'ending the request line');
    assert.equal(refusal('GET / HTTP/1.1\r\nHost: x\nX-B: y\r\n\r\n'), HttpErrors.badRequest, 'ending a field line');
    assert.equal(refusal('GET / HTTP/1.1\r\nX-A: a\nb\r\n\r\n'), HttpErrors.badRequest, 'inside a value');
    assert.equal(refusal('GET /a\nb HTTP/1.1\r\n\r\n'), HttpErrors.badRequest, 'inside the target');
    assert.equal(refusal('\nGET / HTTP/1.1\r\n\r\n'), HttpErrors.badRequest, 'as a leading empty line');
    assert.equal(refusal('\r\n\nGET / HTTP/1.1\r\n\r\n'), HttpErrors.badRequest, 'after a leading CRLF');
    // A bare LF is refused even before the head is complete.
    assert.equal(refusal('\n'), HttpErrors.badRequest);
  });

  test('a bare CR anywhere in the head is refused', () => {
    assert.equal(refusal('GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n'), HttpErrors.badRequest, 'inside a value');
    assert.equal(refusal('GET / HTTP/1.1\rHost: x\r\n\r\n'), HttpErrors.badRequest, 'ending the request line');
    assert.equal(refusal('GET /a\rb HTTP/1.1\r\n\r\n'), HttpErrors.badRequest, 'inside the target');
    assert.equal(refusal('\rGET / HTTP/1.1\r\n\r\n'), HttpErrors.badRequest, 'before the request line');
  });

  test('control bytes in a value or the target are refused (NUL, DEL)', () => {
    assert.equal(refusal('GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.1\r\nX-A: \x00\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET /a\x00b HTTP/1.1\r\n\r\n'), HttpErrors.badRequest);
  });

  test('malformed request lines are refused', () => {
    assert.equal(refusal('GET  / HTTP/1.1\r\n\r\n'), HttpErrors.badRequest, 'two spaces (empty target)');
    assert.equal(refusal('GET / HTTP/1.1 \r\n\r\n'), HttpErrors.badRequest, 'trailing space');
    assert.equal(refusal('GET /\r\n\r\n'), HttpErrors.badRequest, 'no version (HTTP/0.9)');
    assert.equal(refusal(' GET / HTTP/1.1\r\n\r\n'), HttpErrors.badRequest, 'leading space');
    assert.equal(refusal('G\xc9T / HTTP/1.1\r\n\r\n'), HttpErrors.badRequest, 'non-token method');
    assert.equal(refusal('GET / http/1.1\r\n\r\n'), HttpErrors.badRequest, 'lower-case HTTP');
    assert.equal(refusal('GET / HTTP/1.1x\r\n\r\n'), HttpErrors.badRequest, 'junk after the version');
    assert.equal(refusal('GET / HTTP/1.10\r\n\r\n'), HttpErrors.badRequest, 'two-digit minor');
  });

  test('a second Content-Length is refused, even an equal one', () => {
    assert.equal(refusal('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'), HttpErrors.badRequest);
    assert.equal(refusal('POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\nhello!'), HttpErrors.badRequest);
    assert.equal(refusal('POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello'), HttpErrors.badRequest, 'a list of lengths');
  });

  test('a non-numeric, signed, empty or 16-digit Content-Length is refused', () => {
    for (const v of ['abc', '-1', '+5', '5x', '0x10', '1 2', '', '1.0', '1234567890123456', '9007199254740993']) {
      assert.equal(refusal(`POST / HTTP/1.1\r\nContent-Length: ${v}\r\n\r\n`), HttpErrors.badRequest, JSON.stringify(v));
    }
  });

  test('Content-Length together with Transfer-Encoding is refused (either order)', () => {
    assert.equal(refusal('POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n'), HttpErrors.badRequest);
  });

  test('Transfer-Encoding on HTTP/1.0 is refused', () => {
    assert.equal(refusal('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'), HttpErrors.badRequest);
  });

  test('a second Transfer-Encoding or Expect field is refused', () => {
    assert.equal(refusal('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('POST / HTTP/1.1\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n\r\n'), HttpErrors.badRequest);
  });

  test('Host is optional (gearmand clients send none), but a second Host is refused', () => {
    assert.equal(head('GET / HTTP/1.1\r\n\r\n').head.rawHeaders.length, 0);
    assert.equal(head('GET / HTTP/1.1\r\nHost: a\r\n\r\n').head.rawHeaders[1], 'a');
    assert.equal(refusal('GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n'), HttpErrors.badRequest);
  });

  test('a transfer coding other than chunked is 501', () => {
    assert.equal(refusal('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'), HttpErrors.transferCodingUnsupported);
    assert.equal(refusal('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'), HttpErrors.transferCodingUnsupported);
    assert.equal(refusal('POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n'), HttpErrors.transferCodingUnsupported);
    assert.equal(HttpErrors.transferCodingUnsupported.status, 501);
  });

  test('an expectation other than 100-continue is 417', () => {
    assert.equal(refusal('POST / HTTP/1.1\r\nExpect: foo\r\n\r\n'), HttpErrors.expectationFailed);
    assert.equal(refusal('POST / HTTP/1.1\r\nExpect: 100-continue, foo\r\n\r\n'), HttpErrors.expectationFailed);
    assert.equal(refusal('POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n'), HttpErrors.expectationFailed);
  });

  test('a well-formed version other than 1.0 and 1.1 is 505; a malformed one is 400', () => {
    assert.equal(refusal('GET / HTTP/2.0\r\n\r\n'), HttpErrors.versionNotSupported);
    assert.equal(refusal('GET / HTTP/9.9\r\n\r\n'), HttpErrors.versionNotSupported);
    // A later 1.x minor version is read as 1.1 (RFC 9110 2.5).
    assert.equal(head('GET / HTTP/1.2\r\n\r\n').head.versionMinor, 1);
    assert.equal(refusal('GET / HTTP/0.9\r\n\r\n'), HttpErrors.versionNotSupported);
    assert.equal(refusal('GET / HTTP/x\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / HTTP/1.x\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(refusal('GET / FTP/1.1\r\n\r\n'), HttpErrors.badRequest);
  });

  test('a method longer than 32 bytes is refused, whole or still arriving', () => {
    const m33 = 'M'.repeat(33);
    assert.equal(refusal(`${m33} / HTTP/1.1\r\n\r\n`), HttpErrors.badRequest);
    assert.equal(refusal(m33), HttpErrors.badRequest, 'only the method in hand');
    assert.equal(parse('M'.repeat(32)), undefined, '32 bytes of method so far: still incomplete');
  });

  test('a target longer than maxUrlBytes is 414, whole head or partial request line', () => {
    const limits: HeadLimits = { maxHeaderBytes: 8192, maxUrlBytes: 64 };
    const ok = '/' + 'a'.repeat(63);
    const long = '/' + 'a'.repeat(64);
    assert.equal(head(`GET ${ok} HTTP/1.1\r\n\r\n`, limits).head.url, ok, 'exactly maxUrlBytes is accepted');
    assert.equal(refusal(`GET ${long} HTTP/1.1\r\nHost: x\r\n\r\n`, limits), HttpErrors.urlTooLong);
    assert.equal(refusal(`GET ${long}`, limits), HttpErrors.urlTooLong, 'only part of the request line in hand');
    assert.equal(parse(`GET ${ok}`, limits), undefined, 'a partial line within the limit is incomplete');
  });

  test('a head longer than maxHeaderBytes is 431, complete or not', () => {
    const many = 'GET / HTTP/1.1\r\n' + 'X-Pad: 0123456789\r\n'.repeat(10);
    assert.equal(refusal(many + '\r\n', SMALL), HttpErrors.headersTooLarge, 'complete head');
    assert.equal(refusal(many, SMALL), HttpErrors.headersTooLarge, 'head still arriving');
    // The same head is fine with a larger limit.
    assert.equal(head(many + '\r\n').head.rawHeaders.length, 20);
  });

  test('a head over the limit whose request line is the long part is 414', () => {
    const url = '/' + 'u'.repeat(200);
    assert.equal(refusal(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`, SMALL), HttpErrors.urlTooLong, 'complete head');
    assert.equal(refusal(`GET ${url}`, SMALL), HttpErrors.urlTooLong, 'request line still arriving');
  });

  test(
    'a head over the limit because of its fields, with a target within maxUrlBytes, is 431 (not 414)',
    () => {
      const url = '/' + 'a'.repeat(59); // 60 bytes, under maxUrlBytes 64
      const text = `GET ${url} HTTP/1.1\r\nX-Pad: ${'b'.repeat(100)}\r\n\r\n`;
      assert.equal(refusal(text, SMALL), HttpErrors.headersTooLarge);
    },
  );
});

// ---------------------------------------------------------------------------------------
describe('parseRequestHead: incremental arrival', () => {
  const requests = [
    'GET / HTTP/1.1\r\n\r\n',
    'POST /reverse HTTP/1.1\r\nHost: localhost:8080\r\nContent-Length: 11\r\nX-Gearman-Unique: abc\r\n\r\n',
    'GET /_gearport/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    '\r\n\r\nPUT /x?y=%20 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nX-Empty:\r\n\r\n',
  ];

  for (const text of requests) {
    test(`every proper prefix is incomplete, the whole parses: ${JSON.stringify(text.slice(0, 40))}`, () => {
      for (let n = 0; n < text.length; n++) {
        assert.equal(parse(text.slice(0, n)), undefined, `prefix of ${n} bytes: ${JSON.stringify(text.slice(0, n))}`);
      }
      const r = head(text);
      assert.equal(r.end, text.length);
      // And with body bytes or the next request behind it, the same head and end.
      const r2 = head(text + 'GET / HTTP/1.1\r\n\r\n');
      assert.deepEqual(r2, r);
    });
  }

  test('a lone CR (perhaps of an empty line) before the request line is incomplete, not an error', () => {
    assert.equal(parse('\r'), undefined);
    assert.equal(parse('\r\n\r'), undefined);
    assert.equal(parse('\r\n\r\n\r'), undefined);
    assert.equal(parse(''), undefined);
    assert.equal(parse('\r\n'), undefined);
  });

  test(
    'a head within the limit is accepted however it is split (no refusal of a prefix of an acceptable head)',
    () => {
      // maxHeaderBytes counts the whole head, the empty line that ends it included.
      const text = 'GET / HTTP/1.1\r\n\r\n'; // 18 bytes
      const fits: HeadLimits = { maxHeaderBytes: 18, maxUrlBytes: 1024 };
      assert.ok('head' in (parse(text, fits) ?? {}), 'accepted whole');
      for (let n = 0; n < text.length; n++) assert.equal(parse(text.slice(0, n), fits), undefined, `prefix of ${n} bytes`);
      // One byte less of limit: refused whole, and refused as soon as 17 bytes are in hand.
      const tight: HeadLimits = { maxHeaderBytes: 17, maxUrlBytes: 1024 };
      assert.equal(refusal(text, tight), HttpErrors.headersTooLarge);
      assert.equal(refusal(text.slice(0, 17), tight), HttpErrors.headersTooLarge);
      assert.equal(parse(text.slice(0, 16), tight), undefined);
    },
  );
});

// ---------------------------------------------------------------------------------------
describe('parseRequestHead: properties', () => {
  /** Bytes after the leading CRLF pairs the parser skips. */
  function afterEmptyLines(buf: Buffer): number {
    let p = 0;
    while (p + 1 < buf.length && buf[p] === 13 && buf[p + 1] === 10) p += 2;
    return buf.length - p;
  }

  /** The invariants every result must satisfy; returns the result for further checks. */
  function checkResult(buf: Buffer, limits: HeadLimits): HeadParse {
    const r = parseRequestHead(buf, 0, buf.length, limits);
    if (r === undefined) {
      // Bounded buffering: an incomplete head is never longer than the limit (past skipped empty lines).
      assert.ok(afterEmptyLines(buf) <= limits.maxHeaderBytes, `undefined for ${afterEmptyLines(buf)} bytes`);
    } else if ('error' in r) {
      assert.ok(HEAD_STATUSES.includes(r.error.status), `status ${r.error.status}`);
      assert.ok(Object.values(HttpErrors).includes(r.error as never), 'a catalogue entry');
    } else {
      assert.ok(r.end > 0 && r.end <= buf.length, `end ${r.end} of ${buf.length}`);
      assert.equal(buf.toString('latin1', r.end - 4, r.end), '\r\n\r\n');
      // An accepted head is bounded too (within the 4-byte slack of the terminator search).
      assert.ok(r.end - (buf.length - afterEmptyLines(buf)) <= limits.maxHeaderBytes + 4);
      assert.ok(r.head.url.length <= limits.maxUrlBytes);
      assert.equal(r.head.rawHeaders.length % 2, 0);
    }
    return r;
  }

  test('arbitrary bytes: never throws; undefined only within the limit, a known refusal, or a head inside the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (arr, small) => {
        checkResult(Buffer.from(arr), small ? SMALL : LIMITS);
      }),
      { numRuns: 500 },
    );
  });

  test('almost-valid bytes (HTTP alphabet behind a request-line prefix): same invariants', () => {
    const piece = fc.constantFrom('\r\n', '\r', '\n', ' ', '\t', ':', 'a', 'Z', '/', '0', '5', '\x00', '\xff', 'Content-Length: ', 'Transfer-Encoding: chunked', 'Expect: ', 'Connection: close', 'HTTP/1.1', 'HTTP/1.0', '\r\n\r\n');
    const prefix = fc.constantFrom('', 'GET / HTTP/1.1\r\n', 'POST /x HTTP/1.0\r\n', 'GET ', '\r\n', 'M-SEARCH * ');
    let heads = 0;
    let refusals = 0;
    fc.assert(
      fc.property(prefix, fc.array(piece, { maxLength: 60 }), fc.boolean(), (pre, pieces, small) => {
        const r = checkResult(bytes(pre + pieces.join('')), small ? SMALL : LIMITS);
        if (r !== undefined && 'head' in r) heads++;
        else if (r !== undefined) refusals++;
      }),
      { numRuns: 500 },
    );
    assert.ok(heads > 0 && refusals > 0, `both outcomes reached (heads ${heads}, refusals ${refusals})`);
  });

  test(
    'a stream of empty lines longer than maxHeaderBytes does not stay incomplete (bounded buffering)',
    () => {
      assert.notEqual(parse('\r\n'.repeat(1000), SMALL), undefined);
      assert.notEqual(parse('\r\n'.repeat(1000) + 'GET / HTTP/1.1\r\n', SMALL), undefined);
    },
  );

  const tchar = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('');
  const urlChar = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%".split('');
  const visible: string[] = [];
  for (let c = 0x21; c <= 0x7e; c++) visible.push(String.fromCharCode(c));
  const special = new Set(['content-length', 'transfer-encoding', 'expect', 'connection']);

  const word = (chars: string[], min: number, max: number) => fc.array(fc.constantFrom(...chars), { minLength: min, maxLength: max }).map((a) => a.join(''));
  const fieldName = word(tchar, 1, 20).filter((n) => !special.has(n.toLowerCase()));
  // Visible ASCII, single spaces or tabs inside, none at either end.
  const fieldValue = fc.array(word(visible, 1, 12), { maxLength: 4 }).chain((words) =>
    fc.array(fc.constantFrom(' ', '\t', '  '), { minLength: words.length, maxLength: words.length }).map((gaps) => words.map((w, k) => (k === 0 ? w : gaps[k]! + w)).join('')),
  );
  const request = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'M-SEARCH', 'get'),
    path: word(urlChar, 0, 80).map((s) => '/' + s),
    minor: fc.constantFrom(0, 1),
    headers: fc.array(fc.tuple(fieldName, fieldValue, fc.constantFrom('', ' ', '  ', '\t'), fc.constantFrom('', ' ', '\t')), { maxLength: 6 }),
    contentLength: fc.option(fc.tuple(fc.nat({ max: 1_000_000 }), fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH'), fc.nat({ max: 6 })), { nil: undefined }),
    body: fc.constantFrom('', 'hello', 'GET / HTTP/1.1\r\n\r\n'),
  });

  test('generated valid requests round-trip: method, url, rawHeaders, contentLength; every prefix is incomplete', () => {
    fc.assert(
      fc.property(request, (r) => {
        const expected: string[] = [];
        const lines: string[] = [];
        for (const [name, value, lead, trail] of r.headers) {
          lines.push(`${name}:${lead}${value}${trail}`);
          expected.push(name, value);
        }
        if (r.contentLength !== undefined) {
          const [length, name, at] = r.contentLength;
          const k = Math.min(at, lines.length);
          lines.splice(k, 0, `${name}: ${length}`);
          expected.splice(2 * k, 0, name, String(length));
        }
        const headText = `${r.method} ${r.path} HTTP/1.${r.minor}\r\n${lines.map((l) => l + '\r\n').join('')}\r\n`;
        const result = parse(headText + r.body);
        assert.ok(result !== undefined && 'head' in result, `not accepted: ${JSON.stringify(headText)}`);
        assert.equal(result.end, headText.length);
        assert.equal(result.head.method, r.method);
        assert.equal(result.head.url, r.path);
        assert.equal(result.head.versionMinor, r.minor);
        assert.deepEqual(result.head.rawHeaders, expected);
        assert.equal(result.head.contentLength, r.contentLength === undefined ? -1 : r.contentLength[0]);
        assert.equal(result.head.chunked, false);
        assert.equal(result.head.keepAlive, r.minor === 1);
        assert.equal(result.head.expectContinue, false);
        for (let n = 0; n < headText.length; n++) assert.equal(parse(headText.slice(0, n)), undefined, `prefix of ${n} bytes`);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------
interface Decoded {
  /** The bytes or the refusal the last push returned. */
  readonly result: number | HttpErrorSpec;
  /** Bytes consumed over all pushes (up to a refusal). */
  readonly consumed: number;
  readonly data: Buffer;
  readonly done: boolean;
}

/**
 * Feed `input` to a fresh decoder in slices (cut at `splits`), each slice copied into a
 * reused buffer at a non-zero offset and scribbled over after the push, as a socket would.
 */
function decode(input: string | Buffer, maxTrailerBytes = 1024, splits: number[] = []): Decoded {
  const buf = typeof input === 'string' ? bytes(input) : input;
  const decoder = new ChunkedDecoder(maxTrailerBytes);
  const cuts = [...new Set([0, ...splits.filter((s) => s > 0 && s < buf.length), buf.length])].sort((a, b) => a - b);
  const scratch = Buffer.alloc(buf.length + 8);
  const out: Buffer[] = [];
  let consumed = 0;
  let result: number | HttpErrorSpec = 0;
  for (let k = 0; k + 1 < cuts.length; k++) {
    const from = cuts[k]!;
    const to = cuts[k + 1]!;
    const offset = 3;
    buf.copy(scratch, offset, from, to);
    result = decoder.push(scratch, offset, offset + (to - from), (b, s, e) => {
      assert.ok(b === scratch && s >= offset && e <= offset + (to - from) && s <= e, 'a range within the pushed slice');
      out.push(Buffer.from(b.subarray(s, e)));
    });
    scratch.fill(0xee);
    if (typeof result !== 'number') break;
    assert.ok(result >= 0 && result <= to - from);
    consumed += result;
    if (result < to - from) assert.ok(decoder.done, 'fewer bytes than given only once done');
  }
  return { result, consumed, data: Buffer.concat(out), done: decoder.done };
}

function chunkRefusal(input: string, maxTrailerBytes = 1024): HttpErrorSpec {
  const d = decode(input, maxTrailerBytes);
  assert.ok(typeof d.result !== 'number', `accepted, expected a refusal: ${JSON.stringify(input.slice(0, 80))}`);
  return d.result;
}

describe('ChunkedDecoder: fixtures', () => {
  test('two chunks then the last chunk', () => {
    const text = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
    const d = decode(text);
    assert.equal(d.data.toString(), 'hello world');
    assert.equal(d.consumed, text.length);
    assert.equal(d.done, true);
  });

  test('hex sizes in either case; a 12-digit size is accepted', () => {
    const data = '0123456789abcdefghijklmnopqrstuvwxyz';
    const d = decode(`a\r\n${data.slice(0, 10)}\r\nA\r\n${data.slice(10, 20)}\r\n000000000010\r\n${data.slice(20, 36)}\r\n0\r\n\r\n`);
    assert.equal(d.data.toString(), data);
    assert.equal(d.done, true);
  });

  test('chunk extensions are ignored', () => {
    const text = '3;name=val\r\nabc\r\n2;a;b="q;x"\r\nde\r\n1 ; bws=1\r\nf\r\n0;last\r\n\r\n';
    const d = decode(text);
    assert.equal(d.data.toString(), 'abcdef');
    assert.equal(d.consumed, text.length);
    assert.equal(d.done, true);
  });

  test('an extension of exactly 1024 bytes is accepted', () => {
    const d = decode(`1;${'x'.repeat(1024)}\r\nz\r\n0\r\n\r\n`);
    assert.equal(d.data.toString(), 'z');
    assert.equal(d.done, true);
  });

  test('trailer fields are read and dropped', () => {
    const text = '3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX-Other: y\r\n\r\n';
    const d = decode(text);
    assert.equal(d.data.toString(), 'abc');
    assert.equal(d.consumed, text.length);
    assert.equal(d.done, true);
  });

  test('bytes after the final CRLF are not consumed; done is true', () => {
    const body = '4\r\nwiki\r\n0\r\nX-T: 1\r\n\r\n';
    const next = 'GET / HTTP/1.1\r\n\r\n';
    const buf = bytes(body + next);
    const decoder = new ChunkedDecoder(1024);
    const out: string[] = [];
    const n = decoder.push(buf, 0, buf.length, (b, s, e) => out.push(b.toString('latin1', s, e)));
    assert.equal(n, body.length);
    assert.ok(typeof n === 'number' && n < buf.length);
    assert.equal(decoder.done, true);
    assert.equal(out.join(''), 'wiki');
    // Once done, nothing more belongs to the body.
    assert.equal(decoder.push(buf, body.length, buf.length, () => assert.fail('no data after done')), 0);
  });

  test('not done until the final CRLF', () => {
    for (const text of ['3\r\nabc\r\n', '3\r\nabc\r\n0', '3\r\nabc\r\n0\r\n', '3\r\nabc\r\n0\r\n\r', '3\r\nabc\r\n0\r\nX: y\r\n']) {
      const d = decode(text);
      assert.equal(d.result, text.length, JSON.stringify(text));
      assert.equal(d.done, false, JSON.stringify(text));
    }
  });

  test('data arriving a byte at a time is delivered whole', () => {
    const text = '5\r\nhello\r\n0\r\n\r\n';
    const d = decode(text, 1024, Array.from({ length: text.length }, (_, k) => k));
    assert.equal(d.data.toString(), 'hello');
    assert.equal(d.consumed, text.length);
    assert.equal(d.done, true);
  });
});

describe('ChunkedDecoder: refusals', () => {
  test('a size that is not hex, or missing, is refused', () => {
    assert.equal(chunkRefusal('g\r\nabc\r\n'), HttpErrors.badRequest);
    assert.equal(chunkRefusal('\r\nabc\r\n'), HttpErrors.badRequest);
    assert.equal(chunkRefusal('0x3\r\nabc\r\n'), HttpErrors.badRequest);
    assert.equal(chunkRefusal('-3\r\nabc\r\n'), HttpErrors.badRequest);
    assert.equal(chunkRefusal(';ext\r\nabc\r\n'), HttpErrors.badRequest);
    assert.equal(chunkRefusal('3\r\nabc\r\nz\r\n'), HttpErrors.badRequest, 'the second size');
  });

  test('a size with more than 12 hex digits is refused (leading zeros included)', () => {
    assert.equal(chunkRefusal('1000000000000\r\n'), HttpErrors.badRequest);
    assert.equal(chunkRefusal('0000000000003\r\nabc\r\n0\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(chunkRefusal('fffffffffffffffffff'), HttpErrors.badRequest, 'refused before the line ends');
  });

  test('a missing or malformed CRLF after the size or the data is refused', () => {
    assert.equal(chunkRefusal('3\r\nabcd\r\n0\r\n\r\n'), HttpErrors.badRequest, 'more data than the size');
    assert.equal(chunkRefusal('3\r\nabc0\r\n\r\n'), HttpErrors.badRequest, 'no CRLF after the data');
    assert.equal(chunkRefusal('3\r\nabc\n0\r\n\r\n'), HttpErrors.badRequest, 'bare LF after the data');
    assert.equal(chunkRefusal('3\r\nabc\rX'), HttpErrors.badRequest, 'CR without LF after the data');
    assert.equal(chunkRefusal('3\nabc\r\n'), HttpErrors.badRequest, 'bare LF after the size');
    assert.equal(chunkRefusal('3\rabc\r\n'), HttpErrors.badRequest, 'CR without LF after the size');
  });

  test('a bare LF in a chunk extension is refused', () => {
    assert.equal(chunkRefusal('3;a=b\nabc\r\n0\r\n\r\n'), HttpErrors.badRequest);
    assert.equal(chunkRefusal('3;a\n\r\nabc\r\n0\r\n\r\n'), HttpErrors.badRequest);
  });

  test('an extension over 1024 bytes is refused', () => {
    assert.equal(chunkRefusal(`1;${'x'.repeat(1025)}\r\nz\r\n0\r\n\r\n`), HttpErrors.badRequest);
    assert.equal(chunkRefusal(`1;${'x'.repeat(5000)}`), HttpErrors.badRequest, 'refused before the line ends');
  });

  test('a trailer section over maxTrailerBytes is 431; within it, accepted', () => {
    const trailer = `0\r\nX-Long: ${'y'.repeat(40)}\r\n\r\n`;
    assert.equal(chunkRefusal(trailer, 16), HttpErrors.trailersTooLarge);
    assert.equal(decode(trailer, 64).done, true);
    // Bounded over the whole section, not per line.
    assert.equal(chunkRefusal('0\r\n' + 'A: b\r\n'.repeat(50) + '\r\n', 64), HttpErrors.trailersTooLarge);
    assert.equal(chunkRefusal('0\r\n' + 'A: b\r\n'.repeat(50), 64), HttpErrors.trailersTooLarge, 'refused before the section ends');
  });

  test('malformed trailer line endings are refused', () => {
    assert.equal(chunkRefusal('0\r\nX: y\nZ: w\r\n\r\n'), HttpErrors.badRequest, 'bare LF ending a trailer line');
    assert.equal(chunkRefusal('0\r\nX: y\rZ\r\n\r\n'), HttpErrors.badRequest, 'bare CR in a trailer line');
    assert.equal(chunkRefusal('0\r\n\rX'), HttpErrors.badRequest, 'CR without LF ending the section');
  });

  test(
    'a bare LF at the start of a trailer line is refused',
    () => {
      assert.equal(chunkRefusal('0\r\n\nX: y\r\n\r\n'), HttpErrors.badRequest);
      assert.equal(chunkRefusal('0\r\nA: b\r\n\nX: y\r\n\r\n'), HttpErrors.badRequest);
    },
  );
});

describe('ChunkedDecoder: properties', () => {
  test('any data, any chunking, any slicing: the decoder yields exactly the data and consumes exactly the body', () => {
    const extension = fc.constantFrom('', ';a=b', ';x', ' ;bws', ';q="1;2"');
    const chunking = fc.record({
      data: fc.uint8Array({ maxLength: 2000 }),
      sizes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }),
      upper: fc.boolean(),
      extensions: fc.array(extension, { minLength: 21, maxLength: 21 }),
      trailers: fc.constantFrom('', 'X-Sum: 1\r\n', 'A: b\r\nC: d\r\n'),
      after: fc.constantFrom('', 'GET / HTTP/1.1\r\n\r\n', '\r\n', '0\r\n\r\n'),
    });
    fc.assert(
      fc.property(chunking, fc.array(fc.nat({ max: 5000 }), { maxLength: 12 }), (c, splitSeeds) => {
        const data = Buffer.from(c.data);
        const parts: Buffer[] = [];
        let at = 0;
        let k = 0;
        while (at < data.length) {
          const size = Math.min(c.sizes[k % c.sizes.length]!, data.length - at);
          const hex = size.toString(16);
          parts.push(bytes(`${c.upper ? hex.toUpperCase() : hex}${c.extensions[k % 20]!}\r\n`), data.subarray(at, at + size), bytes('\r\n'));
          at += size;
          k++;
        }
        parts.push(bytes(`0${c.extensions[20]!}\r\n${c.trailers}\r\n`));
        const encoded = Buffer.concat(parts);
        const input = Buffer.concat([encoded, bytes(c.after)]);
        const splits = splitSeeds.map((s) => s % (input.length + 1));
        const d = decode(input, 1024, splits);
        assert.equal(typeof d.result, 'number', 'not refused');
        assert.deepEqual(d.data, data);
        assert.equal(d.done, true);
        assert.equal(d.consumed, encoded.length);
      }),
      { numRuns: 300 },
    );
  });

  test('arbitrary bytes: never throws; a count within the slice or a known refusal', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat({ max: 300 }), { maxLength: 5 }), (arr, splits) => {
        const d = decode(Buffer.from(arr), 64, splits);
        if (typeof d.result === 'number') assert.ok(d.consumed <= arr.length);
        else assert.ok(d.result === HttpErrors.badRequest || d.result === HttpErrors.trailersTooLarge, d.result.code);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------
describe('HeldBytes', () => {
  test('appends and consumes behave as one growing byte string (model check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 1500 }).map((b) => ({ append: Buffer.from(b) })), fc.nat(2000).map((n) => ({ consume: n }))), { maxLength: 40 }),
        (ops) => {
          const held = new HeldBytes();
          let model = Buffer.alloc(0);
          for (const op of ops) {
            if ('append' in op) {
              // Append a slice of a larger buffer, as the connection does with a receive buffer.
              const framed = Buffer.concat([Buffer.from('xx'), op.append, Buffer.from('yy')]);
              held.append(framed, 2, 2 + op.append.length);
              model = Buffer.concat([model, op.append]);
            } else {
              held.consume(op.consume);
              model = model.subarray(Math.min(op.consume, model.length));
            }
            assert.equal(held.length, model.length);
            assert.deepEqual(held.view(), model);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
