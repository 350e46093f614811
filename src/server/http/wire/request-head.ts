/**
 * The head of an HTTP/1.x request (RFC 9112 sections 2-7): request line and header fields,
 * parsed from bytes with no socket in sight. Strict on purpose: whatever two parsers could
 * read differently (obs-fold, bare CR or LF, whitespace before the colon, Content-Length
 * with Transfer-Encoding, a repeated or non-numeric Content-Length, a transfer coding other
 * than chunked) is refused, so a proxy in front cannot be made to see another request.
 */
import { HttpErrors, type HttpErrorSpec } from '../errors.js';

export interface RequestHead {
  /** As sent (methods are case-sensitive). */
  readonly method: string;
  /** The request target as sent, latin1. */
  readonly url: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly versionMinor: number;
  /** Flat [name, value, ...]: names as sent, values without surrounding blanks. */
  readonly rawHeaders: string[];
  /** Content-Length, or -1 when absent. */
  readonly contentLength: number;
  /** Transfer-Encoding: chunked. */
  readonly chunked: boolean;
  /** Whether the client lets the connection stay open after this request. */
  readonly keepAlive: boolean;
  /** Expect: 100-continue (HTTP/1.1 only; RFC 9110 10.1.1). */
  readonly expectContinue: boolean;
}

export interface HeadLimits {
  /** The whole head: empty lines before it, request line, fields and the empty line after, CRLFs included. */
  readonly maxHeaderBytes: number;
  readonly maxUrlBytes: number;
}

/** A whole head and where it ended; a refusal; or undefined while the head is incomplete. */
export type HeadParse = { readonly head: RequestHead; readonly end: number } | { readonly error: HttpErrorSpec } | undefined;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
/** RFC 9110 5.6.2 tchar. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN[c] = 1;
for (let c = 97; c <= 122; c++) TOKEN[c] = 1;
/** Bytes allowed in a request target: visible ASCII, and obs-text as browsers send it. */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
for (let c = 0x80; c <= 0xff; c++) TARGET[c] = 1;
/** Bytes allowed in a field value (RFC 9110 5.5): HTAB, SP, VCHAR, obs-text. */
const VALUE = new Uint8Array(256);
VALUE[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;
const MAX_METHOD_BYTES = 32;
/** Content-Length digits: enough for any body a limit allows, never past Number's safe range. */
const MAX_LENGTH_DIGITS = 15;

/**
 * Parse the head starting at `start` in `buf[start, end)`. Empty lines before the request
 * line are skipped (RFC 9112 2.2). Refusals: 400, 414 (URL over maxUrlBytes), 431 (head over
 * maxHeaderBytes), 417 (an expectation other than 100-continue), 501 (a transfer coding other
 * than chunked), 505 (a major version other than 1).
 */
export function parseRequestHead(buf: Buffer, start: number, end: number, limits: HeadLimits): HeadParse {
  let p = start;
  // Empty lines before the request line count against the head's size, so a stream of them is bounded.
  while (p + 1 < end && buf[p] === CR && buf[p + 1] === LF) p += 2;
  if (p < end && buf[p] === LF) return { error: HttpErrors.badRequest };
  const limit = start + limits.maxHeaderBytes;
  const headEnd = p + 1 === end && buf[p] === CR ? -1 : findHeadEnd(buf, p, Math.min(end, limit));
  if (headEnd === -1) {
    // No end within the limit: refused once the limit is reached, whatever the rest would be.
    if (end < limit) return p + 1 === end && buf[p] === CR ? undefined : partialRequestLine(buf, p, end, limits);
    return { error: requestTargetOverLimit(buf, p, end, limits.maxUrlBytes) ? HttpErrors.urlTooLong : HttpErrors.headersTooLarge };
  }

  // Request line: method SP request-target SP HTTP-version CRLF
  let i = p;
  while (i < headEnd && TOKEN[buf[i]!] === 1) i++;
  if (i === p || i - p > MAX_METHOD_BYTES || buf[i] !== SP) return { error: HttpErrors.badRequest };
  const method = buf.toString('latin1', p, i);
  const urlStart = ++i;
  while (i < headEnd && TARGET[buf[i]!] === 1) i++;
  if (i === urlStart) return { error: HttpErrors.badRequest };
  if (i - urlStart > limits.maxUrlBytes) return { error: HttpErrors.urlTooLong };
  if (buf[i] !== SP) return { error: HttpErrors.badRequest };
  const url = buf.toString('latin1', urlStart, i);
  i++;
  const versionMinor = parseVersion(buf, i);
  if (typeof versionMinor !== 'number') return { error: versionMinor };
  i += 8;
  if (buf[i] !== CR || buf[i + 1] !== LF) return { error: HttpErrors.badRequest };
  i += 2;

  const rawHeaders: string[] = [];
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let connection = '';
  let expect: string | undefined;
  let hosts = 0;
  // Header fields up to the empty line that ends the head (at headEnd).
  while (i < headEnd) {
    const nameStart = i;
    while (TOKEN[buf[i]!] === 1) i++;
    // No name (obs-fold starts with a blank), or anything but a colon right after it.
    if (i === nameStart || buf[i] !== COLON) return { error: HttpErrors.badRequest };
    const nameEnd = i++;
    while (buf[i] === SP || buf[i] === HTAB) i++;
    const valueStart = i;
    while (VALUE[buf[i]!] === 1) i++;
    if (buf[i] !== CR || buf[i + 1] !== LF) return { error: HttpErrors.badRequest };
    let valueEnd = i;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
    i += 2;
    const name = buf.toString('latin1', nameStart, nameEnd);
    const value = buf.toString('latin1', valueStart, valueEnd);
    rawHeaders.push(name, value);
    switch (nameEnd - nameStart) {
      case 4:
        // Host is not required (gearmand's clients send none), but two are ambiguous (RFC 9112 3.2).
        if (name.toLowerCase() === 'host' && hosts++ > 0) return { error: HttpErrors.badRequest };
        break;
      case 6:
        if (name.toLowerCase() === 'expect') {
          if (expect !== undefined) return { error: HttpErrors.badRequest };
          expect = value.toLowerCase();
        }
        break;
      case 10:
        if (name.toLowerCase() === 'connection') connection += ',' + value.toLowerCase();
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          // A second Content-Length, even an equal one, is refused (RFC 9112 6.3 item 5).
          if (contentLength !== -1) return { error: HttpErrors.badRequest };
          contentLength = parseLength(value);
          if (contentLength === -1) return { error: HttpErrors.badRequest };
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          if (transferEncoding !== undefined) return { error: HttpErrors.badRequest };
          transferEncoding = value.toLowerCase();
        }
        break;
    }
  }

  let chunked = false;
  if (transferEncoding !== undefined) {
    // Both framings at once is the classic smuggling vector (RFC 9112 6.1): refused.
    if (contentLength !== -1 || versionMinor === 0) return { error: HttpErrors.badRequest };
    if (transferEncoding !== 'chunked') return { error: HttpErrors.transferCodingUnsupported };
    chunked = true;
  }
  let expectContinue = false;
  if (expect !== undefined && versionMinor === 1) {
    if (expect !== '100-continue') return { error: HttpErrors.expectationFailed };
    expectContinue = true;
  }
  const keepAlive = versionMinor === 1 ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive') && !hasToken(connection, 'close');
  return {
    head: { method, url, versionMinor, rawHeaders, contentLength, chunked, keepAlive, expectContinue },
    end: headEnd + 2,
  };
}

/** Where the empty line that ends the head starts (the index of its CR), or -1 if not before `end`. */
function findHeadEnd(buf: Buffer, p: number, end: number): number {
  const at = buf.subarray(0, end).indexOf('\r\n\r\n', p, 'latin1');
  return at === -1 ? -1 : at + 2;
}

/** An incomplete head that is already certain to be refused (a bad request line, or too long a URL). */
function partialRequestLine(buf: Buffer, p: number, end: number, limits: HeadLimits): HeadParse {
  let i = p;
  while (i < end && TOKEN[buf[i]!] === 1) i++;
  if (i === end) return i - p > MAX_METHOD_BYTES ? { error: HttpErrors.badRequest } : undefined;
  if (i === p || i - p > MAX_METHOD_BYTES || buf[i] !== SP) return { error: HttpErrors.badRequest };
  const urlStart = ++i;
  while (i < end && TARGET[buf[i]!] === 1) i++;
  if (i - urlStart > limits.maxUrlBytes) return { error: HttpErrors.urlTooLong };
  return undefined;
}

/** Whether a head over the limit is over it because of its request target (414, else 431). */
function requestTargetOverLimit(buf: Buffer, p: number, end: number, maxUrlBytes: number): boolean {
  let i = p;
  while (i < end && TOKEN[buf[i]!] === 1) i++;
  if (i === end || buf[i] !== SP) return false;
  const urlStart = ++i;
  while (i < end && TARGET[buf[i]!] === 1) i++;
  return i - urlStart > maxUrlBytes;
}

/** `HTTP/1.1` or `HTTP/1.0` at i: the minor version; 505 for another well-formed version; 400 otherwise. */
function parseVersion(buf: Buffer, i: number): number | HttpErrorSpec {
  if (buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47) return HttpErrors.badRequest;
  const major = buf[i + 5]! - 48;
  const minor = buf[i + 7]! - 48;
  if (buf[i + 6] !== 46 || major < 0 || major > 9 || minor < 0 || minor > 9) return HttpErrors.badRequest;
  // A later 1.x is read as 1.1, the highest we conform to (RFC 9110 2.5).
  if (major === 1) return minor === 0 ? 0 : 1;
  return HttpErrors.versionNotSupported;
}

function parseLength(value: string): number {
  if (value.length === 0 || value.length > MAX_LENGTH_DIGITS) return -1;
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (c < 48 || c > 57) return -1;
  }
  return Number(value);
}

/** Whether a comma-separated, lower-cased list holds `token`. */
function hasToken(list: string, token: string): boolean {
  if (list === '') return false;
  for (const item of list.split(',')) if (item.trim() === token) return true;
  return false;
}
