/**
 * The HTTP front's security: bearer tokens (401 with WWW-Authenticate, 403 per right and
 * function glob), health without a token, SIGHUP reload of the tokens file, per-token rate
 * limits (429 with Retry-After), CORS only for configured origins, HTTPS with real
 * certificates, and the refusal to serve anonymous HTTP beyond loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, gearportCli, skipUnless, startGearport, type RunningServer } from '../helpers/servers.js';
import { makeCerts } from './certs.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string, tls?: { ca: Buffer }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) }, agent: false as const, timeout: 10_000 };
    const req = tls ? httpsRequest({ ...options, ca: tls.ca, servername: 'localhost' }) : httpRequest(options);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Send raw request bytes (node:http merges repeated headers) and collect the whole answer. */
function rawCall(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(request));
    let text = '';
    socket.setEncoding('latin1');
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (d: string) => (text += d));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

const APP = 'app-secret-0123456789abcdef';
const OPS = 'ops-secret-0123456789abcdef';
const FG = 'fg-secret-0123456789abcdef';
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const background = { 'X-Gearman-Background': 'true' };

function tokensFile(dir: string, tokens: unknown[]): string {
  const file = join(dir, 'tokens.json');
  writeFileSync(file, JSON.stringify({ tokens }));
  return file;
}

describe('HTTP bearer tokens', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let dir: string;
  let file: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gearport-tokens-'));
    file = tokensFile(dir, [
      { name: 'app', token: APP, functions: ['billing.*'], rights: ['background', 'status'] },
      { name: 'ops', token: OPS, functions: ['*'], rights: ['admin', 'cancel', 'status', 'background'], rate: { perSecond: 2, burst: 4 } },
      { name: 'fg', token: FG, functions: ['*'], rights: ['submit'] },
    ]);
    server = await startGearport({ http: true, args: ['--http-tokens', file, '--http-cors-origin', 'https://app.example'] });
  });
  after(async () => {
    await server?.stop();
  });

  test('no token: 401 with a Bearer challenge; health answers without one', async () => {
    const r = await call(server.httpPort!, 'POST', '/billing.invoice', background, 'x');
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /^Bearer realm="gearport"/);
    assert.equal(JSON.parse(r.body).error.code, 'UNAUTHORIZED');
    const bad = await call(server.httpPort!, 'POST', '/billing.invoice', { ...background, ...bearer('wrong-token-0123456789') }, 'x');
    assert.equal(bad.status, 401);
    assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/);
    const health = await call(server.httpPort!, 'GET', '/_gearport/health');
    assert.equal(health.status, 200);
  });

  test('a valid token runs what it may; 403 for another function or right', async () => {
    const ok = await call(server.httpPort!, 'POST', '/billing.invoice', { ...background, ...bearer(APP) }, 'x');
    assert.equal(ok.status, 200);
    assert.ok(ok.headers['x-gearman-job-handle']);
    const otherFn = await call(server.httpPort!, 'POST', '/reports.daily', { ...background, ...bearer(APP) }, 'x');
    assert.equal(otherFn.status, 403);
    assert.equal(JSON.parse(otherFn.body).error.code, 'TOKEN_FORBIDDEN');
    const foreground = await call(server.httpPort!, 'POST', '/billing.invoice', bearer(APP), 'x');
    assert.equal(foreground.status, 403, 'the app token lacks the submit right');
    const admin = await call(server.httpPort!, 'GET', '/_gearport/workers', bearer(APP));
    assert.equal(admin.status, 403);
    const status = await call(server.httpPort!, 'GET', `/_gearport/jobs/${encodeURIComponent(String(ok.headers['x-gearman-job-handle']))}`, bearer(APP));
    assert.equal(status.status, 200);
    const cancel = await call(server.httpPort!, 'DELETE', `/_gearport/jobs/${encodeURIComponent(String(ok.headers['x-gearman-job-handle']))}`, bearer(APP));
    assert.equal(cancel.status, 403);
  });

  test('the right is checked on the background flag the job runs with (any case, repeated headers)', async () => {
    // The job mapping reads X-Gearman-Background case-insensitively, the last value winning;
    // the guard must read it the same way, or a submit-only token could queue background jobs.
    const upper = await call(server.httpPort!, 'POST', '/billing.invoice', { 'X-Gearman-Background': 'TRUE', ...bearer(FG) }, 'x');
    assert.equal(upper.status, 403, 'TRUE asks for a background job: the submit-only token is refused');
    assert.equal(JSON.parse(upper.body).error.code, 'TOKEN_FORBIDDEN');
    const repeated = await rawCall(server.httpPort!, ['POST /billing.invoice HTTP/1.1', `Authorization: Bearer ${FG}`, 'X-Gearman-Background: false', 'X-Gearman-Background: true', 'Content-Length: 1', 'Connection: close', '', 'x'].join('\r\n'));
    assert.match(repeated, /^HTTP\/1\.1 403 /, repeated);
    const allowed = await call(server.httpPort!, 'POST', '/billing.invoice', { 'X-Gearman-Background': 'True', ...bearer(APP) }, 'x');
    assert.equal(allowed.status, 200, 'the background-only token may send True');
    assert.equal(allowed.headers['x-gearman-command'], 'JOB_CREATED');
  });

  test('per-token rate limit: 429 with Retry-After', async () => {
    const codes: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await call(server.httpPort!, 'GET', '/_gearport/functions', bearer(OPS));
      codes.push(r.status);
      if (r.status === 429) retryAfter = String(r.headers['retry-after']);
    }
    assert.ok(codes.slice(0, 4).every((c) => c === 200), codes.join(','));
    assert.ok(codes.includes(429), codes.join(','));
    assert.match(retryAfter ?? '', /^[1-9]\d*$/);
  });

  test('CORS headers only for configured origins; preflight answered', async () => {
    const known = await call(server.httpPort!, 'GET', '/_gearport/health', { Origin: 'https://app.example' });
    assert.equal(known.headers['access-control-allow-origin'], 'https://app.example');
    const unknown = await call(server.httpPort!, 'GET', '/_gearport/health', { Origin: 'https://evil.example' });
    assert.equal(unknown.headers['access-control-allow-origin'], undefined);
    const pre = await call(server.httpPort!, 'OPTIONS', '/billing.invoice', { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' });
    assert.equal(pre.status, 204);
    assert.match(String(pre.headers['access-control-allow-headers']), /Authorization/);
  });

  test('error bodies carry codes, not internals', async () => {
    const r = await call(server.httpPort!, 'POST', '/billing.invoice', bearer('nope-nope-nope-nope-nope'), 'x');
    assert.doesNotMatch(r.body, /at |\/work\/|node:|Error:/);
  });

  test('SIGHUP reloads the tokens file; a broken file keeps the tokens in force', async () => {
    const NEW = 'new-secret-0123456789abcdef';
    tokensFile(dir, [{ name: 'new', token: NEW, functions: ['*'], rights: ['background'] }]);
    server.process.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await call(server.httpPort!, 'POST', '/any', { ...background, ...bearer(NEW) }, 'x');
      if (r.status === 200) break;
      assert.ok(Date.now() < deadline, 'the new token was not accepted after SIGHUP');
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal((await call(server.httpPort!, 'POST', '/billing.invoice', { ...background, ...bearer(APP) }, 'x')).status, 401, 'the removed token is refused');
    writeFileSync(file, '{ "tokens": [ broken');
    server.process.kill('SIGHUP');
    await new Promise((res) => setTimeout(res, 500));
    assert.equal((await call(server.httpPort!, 'POST', '/any', { ...background, ...bearer(NEW) }, 'x')).status, 200, 'a broken file keeps the old tokens');
  });
});

describe('HTTP safe defaults and HTTPS', { timeout: 120_000 }, () => {
  function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [gearportCli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  }

  test('anonymous HTTP beyond loopback is refused unless --http-allow-anonymous', async () => {
    const port = String(await freePort());
    const refused = await runCli(['--port', port, '-L', '0.0.0.0', '--http-port', '0', '--check-args']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refusing to serve HTTP on 0\.0\.0\.0 without authentication/);
    const everywhere = await runCli(['--port', port, '-r', 'http', '--check-args']);
    assert.equal(everywhere.code, 2);
    const allowed = await runCli(['--port', port, '-L', '0.0.0.0', '--http-port', '0', '--http-allow-anonymous', '--check-args']);
    assert.equal(allowed.code, 0, allowed.stderr);
    const loopback = await runCli(['--port', port, '-L', '127.0.0.1', '--http-port', '0', '--check-args']);
    assert.equal(loopback.code, 0, loopback.stderr);
  });

  test('per-address rate limit without tokens: 429 with Retry-After, health exempt', async () => {
    const server = await startGearport({ http: true, args: ['--http-address-rate', '1', '--http-address-burst', '3'] });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) codes.push((await call(server.httpPort!, 'POST', '/rate_fn', background, 'x')).status);
      assert.deepEqual(codes.slice(0, 3), [200, 200, 200]);
      assert.ok(codes.slice(3).includes(429), codes.join(','));
      const limited = await call(server.httpPort!, 'POST', '/rate_fn', background, 'x');
      assert.equal(limited.status, 429);
      assert.match(String(limited.headers['retry-after']), /^[1-9]\d*$/);
      assert.equal((await call(server.httpPort!, 'GET', '/_gearport/health')).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('a missing tokens file stops start-up', async () => {
    const port = String(await freePort());
    const r = await runCli(['--port', port, '-L', '127.0.0.1', '--http-port', String(await freePort()), '-q', 'none', '--http-tokens', '/nonexistent/tokens.json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read the tokens file/);
  });

  test('HTTPS with --http-tls-cert/--http-tls-key; plain HTTP gets no job', { skip: skipUnless('openssl') }, async () => {
    const certs = makeCerts([]);
    const server = await startGearport({ http: true, args: ['--http-tls-cert', certs.serverCert, '--http-tls-key', certs.serverKey] });
    try {
      const r = await call(server.httpPort!, 'POST', '/tls_fn', background, 'x', { ca: readFileSync(certs.caFile) });
      assert.equal(r.status, 200);
      await assert.rejects(call(server.httpPort!, 'POST', '/tls_fn', background, 'x'));
    } finally {
      await server.stop();
    }
  });
});
