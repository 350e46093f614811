/** The HTTP front as curl sees it: keep-alive reuse, 100-continue, chunked uploads, HEAD, 413. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startGearport, skipUnless, type RunningServer } from '../helpers/servers.js';
import { RawWorker, reverse } from './raw-worker.js';

const run = promisify(execFile);
const skip = skipUnless('curl');

async function curl(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const child = run('curl', ['-sS', '--max-time', '20', ...args], { maxBuffer: 16 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin!.end(input);
  }
  return child;
}

describe('HTTP front with curl', { skip }, () => {
  let server: RunningServer;
  let worker: RawWorker;
  let base: string;

  before(async () => {
    server = await startGearport({ http: true, args: ['--queue-type', 'none', '--http-max-body', '100000'] });
    base = `http://127.0.0.1:${server.httpPort}`;
    worker = await RawWorker.start(server.port, { reverse });
  });
  after(async () => {
    worker?.close();
    await server?.stop();
  });

  test('POST and read the result', async () => {
    const { stdout } = await curl(['-d', 'hello', `${base}/reverse`]);
    assert.equal(stdout, 'olleh');
  });

  test('two requests in one curl run reuse the connection', async () => {
    const { stdout, stderr } = await curl(['-v', '-d', 'ab', `${base}/reverse`, '--next', '-d', 'cd', `${base}/reverse`]);
    assert.equal(stdout, 'badc');
    assert.match(stderr, /Re-using existing connection/);
  });

  test('Expect: 100-continue gets 100 at once (gearmand sends none: curl waits 1 s)', async () => {
    const body = 'x'.repeat(5000) + 'y';
    const started = Date.now();
    const { stdout, stderr } = await curl(['-v', '-H', 'Expect: 100-continue', '--data-binary', '@-', `${base}/reverse`], body);
    assert.match(stderr, /Expect: 100-continue/);
    assert.match(stderr, /HTTP\/1.1 100 Continue/);
    assert.equal(stdout, 'y' + 'x'.repeat(5000));
    assert.ok(Date.now() - started < 900, 'no one-second Expect stall');
  });

  test('a chunked upload', async () => {
    const { stdout, stderr } = await curl(['-v', '-H', 'Transfer-Encoding: chunked', '--data-binary', '@-', `${base}/reverse`], 'chunky');
    assert.match(stderr, /Transfer-Encoding: chunked/);
    assert.equal(stdout, 'yknuhc');
  });

  test('curl -I sends HEAD: 200, no job submitted', async () => {
    const before = worker.jobs.length;
    const { stdout } = await curl(['-I', `${base}/reverse`]);
    assert.match(stdout, /^HTTP\/1.1 200 OK/);
    assert.equal(worker.jobs.length, before);
  });

  test('a body over the limit: 413 before curl sends it', async () => {
    const { stdout, stderr } = await curl(['-v', '-H', 'Expect: 100-continue', '--data-binary', '@-', '-w', '\\n%{http_code}', `${base}/reverse`], 'z'.repeat(200_000));
    assert.match(stdout, /"BODY_TOO_LARGE"[\s\S]*\n413$/);
    assert.doesNotMatch(stderr, /100 Continue/);
  });

  test('errors are JSON with a stable code', async () => {
    const { stdout } = await curl(['-X', 'DELETE', '-w', '\\n%{http_code}', `${base}/reverse`]);
    assert.equal(stdout, '{"error":{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed on this path"}}\n\n405');
  });
});
