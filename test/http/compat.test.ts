/** The gearmand-compatible mapping (gearman-spec 3.2-3.5) with Gearport's honest status codes. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { RawWorker, reverse } from './raw-worker.js';
import { functionStatus, getStatus, eventually } from './gear-probe.js';
import { rawExchange } from './raw-http.js';

describe('HTTP job mapping', () => {
  let server: RunningServer;
  let worker: RawWorker;
  let base: string;

  before(async () => {
    server = await startGearport({ http: true, args: ['--queue-type', 'none'] });
    base = `http://127.0.0.1:${server.httpPort}`;
    worker = await RawWorker.start(server.port, {
      reverse,
      fails: () => [{ fail: true }],
      throws: () => [{ exception: 'it broke' }],
      echoUnique: (job) => [{ complete: job.unique }],
      echoWorkload: (job) => [{ complete: job.workload }],
      hold: () => 'hold',
    });
  });
  after(async () => {
    worker?.close();
    await server?.stop();
  });

  test('POST /reverse answers 200 with the result and the gearmand headers', async () => {
    const res = await fetch(`${base}/reverse`, { method: 'POST', body: 'hello' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'olleh');
    assert.match(res.headers.get('x-gearman-job-handle')!, /^H:.+:\d+$/);
    assert.equal(res.headers.get('x-gearman-command'), 'WORK_COMPLETE');
    assert.match(res.headers.get('server')!, /^Gearman\/\S+/);
  });

  test('PUT behaves like POST; leading slashes are stripped, nothing is decoded', async () => {
    const res = await fetch(`${base}/reverse`, { method: 'PUT', body: 'abc' });
    assert.equal(await res.text(), 'cba');
    const raw = await rawExchange(server.httpPort!, 'POST ///reverse HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy');
    raw.conn.close();
    assert.equal(raw.status, 200);
    assert.equal(raw.body.toString(), 'yx');
    // %41 stays %41: the function name is taken verbatim (gearmand).
    const encoded = await fetch(`${base}/echoWorkload%41`, { method: 'POST', body: 'x', headers: { 'X-Gearman-Background': 'true' } });
    assert.equal(encoded.status, 200);
    const fns = await functionStatus(server.port);
    assert.ok(fns.has('echoWorkload%41'));
  });

  test('GET /fn?query: the query string is the workload', async () => {
    const res = await fetch(`${base}/echoWorkload?a=1&b=%20`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'a=1&b=%20');
  });

  test('X-Gearman-Unique is passed on; the default unique is "-"', async () => {
    const given = await fetch(`${base}/echoUnique`, { method: 'POST', body: 'x', headers: { 'X-Gearman-Unique': 'my-id' } });
    assert.equal(await given.text(), 'my-id');
    const dflt = await fetch(`${base}/echoUnique`, { method: 'POST', body: 'y' });
    assert.equal(await dflt.text(), '-');
  });

  test('identical bodies coalesce into one job while it is pending (default unique "-")', async () => {
    const before = worker.jobs.length;
    const a = fetch(`${base}/hold`, { method: 'POST', body: 'same' });
    const job = await worker.grabbed(before + 1);
    const b = fetch(`${base}/hold`, { method: 'POST', body: 'same' });
    // b joins the running job: GET_STATUS shows two waiting clients through the status API.
    await eventually(async () => {
      const s = await fetch(`${base}/_gearport/jobs/${encodeURIComponent(job.handle)}`);
      return ((await s.json()) as { waitingClients: number }).waitingClients === 2;
    });
    worker.send(job.handle, [{ complete: 'done' }]);
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(await ra.text(), 'done');
    assert.equal(await rb.text(), 'done');
    assert.equal(ra.headers.get('x-gearman-job-handle'), rb.headers.get('x-gearman-job-handle'));
    assert.equal(worker.jobs.length, before + 1);
  });

  test('background: 200 at once, JOB_CREATED, the handle, an empty body; seen by status and GET_STATUS', async () => {
    const res = await fetch(`${base}/nobodyHere`, { method: 'POST', body: 'bg', headers: { 'X-Gearman-Background': ' TRUE ', 'X-Gearman-Priority': 'Low' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-gearman-command'), 'JOB_CREATED');
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal(await res.text(), '');
    const handle = res.headers.get('x-gearman-job-handle')!;
    assert.deepEqual(await getStatus(server.port, handle), [true, false, '0', '0']);
    assert.deepEqual((await functionStatus(server.port)).get('nobodyHere'), [1, 0, 0]);
  });

  test('priorities: high runs before normal and low', async () => {
    const base2 = base;
    const fn = 'prio' + Date.now();
    for (const [p, body] of [['low', 'L'], ['normal', 'N'], ['high', 'H']] as const) {
      const r = await fetch(`${base2}/${fn}`, { method: 'POST', body, headers: { 'X-Gearman-Background': 'true', 'X-Gearman-Priority': p } });
      assert.equal(r.status, 200);
    }
    const seen: string[] = [];
    const w = await RawWorker.start(server.port, { [fn]: (job) => (seen.push(job.workload.toString()), [{ complete: '' }]) });
    await w.grabbed(3);
    w.close();
    assert.deepEqual(seen, ['H', 'N', 'L']);
  });

  test('WORK_FAIL is 502 with a JSON error and X-Gearman-Command kept', async () => {
    const res = await fetch(`${base}/fails`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('x-gearman-command'), 'WORK_FAIL');
    assert.match(res.headers.get('x-gearman-job-handle')!, /^H:/);
    assert.deepEqual(await res.json(), { error: { code: 'WORK_FAIL', message: 'The worker failed the job' } });
  });

  test('WORK_EXCEPTION is 502 with the exception text as the body', async () => {
    const res = await fetch(`${base}/throws`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('x-gearman-command'), 'WORK_EXCEPTION');
    assert.equal(await res.text(), 'it broke');
  });

  test('a unique over 64 bytes is 400; 64 bytes is fine', async () => {
    const long = await fetch(`${base}/echoUnique`, { method: 'POST', body: 'x', headers: { 'X-Gearman-Unique': 'u'.repeat(65) } });
    assert.equal(long.status, 400);
    assert.equal(((await long.json()) as { error: { code: string } }).error.code, 'UNIQUE_TOO_LONG');
    const ok = await fetch(`${base}/echoUnique`, { method: 'POST', body: 'x', headers: { 'X-Gearman-Unique': 'u'.repeat(64) } });
    assert.equal(await ok.text(), 'u'.repeat(64));
  });

  test('an invalid X-Gearman-* value is 400 INVALID_HEADER', async () => {
    const cases: Record<string, string>[] = [{ 'X-Gearman-Priority': 'urgent' }, { 'X-Gearman-Background': 'yes' }, { 'X-Gearman-Timeout': 'soon' }];
    for (const headers of cases) {
      const res = await fetch(`${base}/reverse`, { method: 'POST', body: 'x', headers });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'INVALID_HEADER');
    }
  });

  test('/ is 404; HEAD submits nothing; other methods are 405 with Allow', async () => {
    for (const method of ['GET', 'POST', 'PUT']) {
      const res = await fetch(`${base}/`, { method, body: method === 'GET' ? undefined : 'x' });
      assert.equal(res.status, 404, method);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    }
    const grabbed = worker.jobs.length;
    const head = await fetch(`${base}/reverse`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${base}/`, { method: 'HEAD' })).status, 404);
    for (const method of ['DELETE', 'PATCH', 'OPTIONS']) {
      const res = await fetch(`${base}/reverse`, { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'GET, HEAD, POST, PUT');
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED');
    }
    const trace = await rawExchange(server.httpPort!, 'TRACE /reverse HTTP/1.1\r\n\r\n');
    trace.conn.close();
    assert.equal(trace.status, 405);
    assert.equal(worker.jobs.length, grabbed, 'no job was submitted');
    assert.equal((await functionStatus(server.port)).get('reverse')![0], 0);
  });

  test('the binary port works unchanged beside the HTTP front', async () => {
    const res = await fetch(`${base}/reverse`, { method: 'POST', body: 'bin' });
    assert.equal(await res.text(), 'nib');
    const status = await functionStatus(server.port);
    assert.deepEqual(status.get('reverse'), [0, 0, 1]);
  });
});
