/** The reserved /_gearport/ API: health, job status, cancel, admin listings, OpenAPI. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGearport, type RunningServer } from '../helpers/servers.js';
import { apiRoutes } from '../../src/server/http/api.js';
import { HttpErrors } from '../../src/server/http/errors.js';
import { RawWorker } from './raw-worker.js';

type OpenApi = { openapi: string; paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> };
const METHODS = ['get', 'head', 'post', 'put', 'delete', 'patch', 'options'];

describe('HTTP API under /_gearport/', () => {
  let server: RunningServer;
  let worker: RawWorker;
  let base: string;

  before(async () => {
    server = await startGearport({ http: true, args: ['--queue-type', 'none'] });
    base = `http://127.0.0.1:${server.httpPort}`;
    worker = await RawWorker.start(server.port, { held: () => 'hold' });
  });
  after(async () => {
    worker?.close();
    await server?.stop();
  });

  test('health answers without credentials', async () => {
    const res = await fetch(`${base}/_gearport/health`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
    assert.equal((await fetch(`${base}/_gearport/health`, { method: 'HEAD' })).status, 200);
  });

  test('job status by handle and by unique id, as JSON', async () => {
    const bg = await fetch(`${base}/queuedOnly`, { method: 'POST', body: 'x', headers: { 'X-Gearman-Background': 'true', 'X-Gearman-Unique': 'u/1 \u00e9' } });
    const handle = bg.headers.get('x-gearman-job-handle')!;
    const byHandle = await fetch(`${base}/_gearport/jobs/${encodeURIComponent(handle)}`);
    assert.equal(byHandle.status, 200);
    assert.deepEqual(await byHandle.json(), { handle, known: true, running: false, numerator: 0, denominator: 0, waitingClients: 0 });
    // The unique is bytes: fetch sent é as the one byte E9, so the path names byte %E9.
    const byUnique = await fetch(`${base}/_gearport/uniques/u%2F1%20%E9`);
    assert.equal(byUnique.status, 200);
    assert.equal(((await byUnique.json()) as { known: boolean }).known, true);
    const missing = await fetch(`${base}/_gearport/jobs/H%3Anope%3A1`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'JOB_NOT_FOUND');
  });

  test('a running job shows running and its progress', async () => {
    const waiting = fetch(`${base}/held`, { method: 'POST', body: 'p' });
    const job = await worker.grabbed(1);
    worker.send(job.handle, [{ status: [3, 7] }]);
    let status: { running: boolean; numerator: number } | undefined;
    for (let i = 0; i < 200 && status?.numerator !== 3; i++) {
      status = (await (await fetch(`${base}/_gearport/jobs/${encodeURIComponent(job.handle)}`)).json()) as typeof status;
      if (status?.numerator !== 3) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(status!.running, true);
    assert.equal(status!.numerator, 3);
    const listing = (await (await fetch(`${base}/_gearport/functions`)).json()) as { functions: { name: string; queued: number; running: number; workers: number }[] };
    assert.deepEqual(listing.functions.find((f) => f.name === 'held'), { name: 'held', queued: 0, running: 1, workers: 1 });
    const workers = (await (await fetch(`${base}/_gearport/workers`)).json()) as { workers: { functions: string[]; running: number }[] };
    assert.deepEqual(workers.workers.map((w) => [w.functions, w.running]), [[['held'], 1]]);
    worker.send(job.handle, [{ complete: 'ok' }]);
    assert.equal(await (await waiting).text(), 'ok');
  });

  test('Prometheus metrics show jobs, queues and workers of both fronts', async () => {
    const waiting = fetch(`${base}/held`, { method: 'POST', body: 'm' });
    const job = await worker.grabbed(2); // the second job this worker took (the test above had the first)
    await fetch(`${base}/metricsQueued`, { method: 'POST', body: 'q', headers: { 'X-Gearman-Background': 'true' } });
    const res = await fetch(`${base}/_gearport/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^gearport_function_jobs_running\{function="held"\} 1$/m);
    assert.match(text, /^gearport_function_workers\{function="held"\} 1$/m);
    assert.match(text, /^gearport_function_jobs_queued\{function="metricsQueued"\} 1$/m);
    const submitted = Number(/^gearport_jobs_submitted_total (\d+)$/m.exec(text)?.[1]);
    assert.ok(submitted >= 2, `submitted ${submitted}`);
    assert.match(text, /^gearport_process_resident_memory_bytes \d+/m);
    worker.send(job.handle, [{ complete: 'done' }]);
    assert.equal(await (await waiting).text(), 'done');
    const after = await (await fetch(`${base}/_gearport/metrics`)).text();
    assert.ok(Number(/^gearport_jobs_completed_total (\d+)$/m.exec(after)?.[1]) >= 1);
  });

  test('cancel a queued job by handle (loopback); its waiting caller hears the failure', async () => {
    const waiting = fetch(`${base}/neverServed`, { method: 'POST', body: 'c' });
    for (let i = 0; i < 200; i++) {
      const fns = ((await (await fetch(`${base}/_gearport/functions`)).json()) as { functions: { name: string; queued: number }[] }).functions;
      if (fns.find((f) => f.name === 'neverServed')?.queued === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const bg = await fetch(`${base}/neverServed`, { method: 'POST', body: 'c2', headers: { 'X-Gearman-Background': 'true' } });
    const bgHandle = bg.headers.get('x-gearman-job-handle')!;
    const del = await fetch(`${base}/_gearport/jobs/${encodeURIComponent(bgHandle)}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), { handle: bgHandle, cancelled: true });
    assert.equal((await fetch(`${base}/_gearport/jobs/${encodeURIComponent(bgHandle)}`)).status, 404);
    assert.equal((await fetch(`${base}/_gearport/jobs/${encodeURIComponent(bgHandle)}`, { method: 'DELETE' })).status, 404);
    // The foreground one: its handle is the background one's minus one (handles count up).
    const fgHandle = bgHandle.replace(/\d+$/, (n) => String(Number(n) - 1));
    assert.equal((await fetch(`${base}/_gearport/jobs/${encodeURIComponent(fgHandle)}`, { method: 'DELETE' })).status, 200);
    const res = await waiting;
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('x-gearman-command'), 'WORK_FAIL');
  });

  test('unknown routes under the prefix are 404; wrong methods are 405 with Allow', async () => {
    assert.equal((await fetch(`${base}/_gearport/nothing`)).status, 404);
    assert.equal((await fetch(`${base}/_gearport`)).status, 404);
    const post = await fetch(`${base}/_gearport/health`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('the OpenAPI document describes exactly the routes the server has', async () => {
    const res = await fetch(`${base}/_gearport/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as OpenApi;
    assert.equal(doc.openapi, '3.1.0');
    const documented = Object.keys(doc.paths).filter((p) => p.startsWith('/_gearport/')).sort();
    assert.deepEqual(documented, Object.keys(apiRoutes).sort());
    for (const [path, methods] of Object.entries(apiRoutes)) {
      const docMethods = Object.keys(doc.paths[path]!).filter((m) => METHODS.includes(m)).sort();
      assert.deepEqual(docMethods, methods.map((m) => m.toLowerCase()).sort(), path);
    }
    // Every documented operation answers with a documented status; every other method is 405.
    const bg = await fetch(`${base}/docCheck`, { method: 'POST', body: 'd', headers: { 'X-Gearman-Background': 'true', 'X-Gearman-Unique': 'doc-u' } });
    const handle = bg.headers.get('x-gearman-job-handle')!;
    const concrete = (p: string) => p.replace('{handle}', encodeURIComponent(handle)).replace('{unique}', 'doc-u').replace('{function}', 'docCheck');
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method];
        const r = await fetch(`${base}${concrete(path)}`, {
          method: method.toUpperCase(),
          body: method === 'post' || method === 'put' ? 'b' : undefined,
          headers: path === '/{function}' ? { 'X-Gearman-Background': 'true' } : {},
        });
        await r.arrayBuffer();
        if (op === undefined) assert.equal(r.status, 405, `${method} ${path}`);
        else assert.ok(Object.keys(op.responses ?? {}).includes(String(r.status)), `${method} ${path} answered ${r.status}`);
      }
    }
    // The catalogue's codes are all listed in the error schema.
    const text = JSON.stringify(doc);
    for (const spec of Object.values(HttpErrors)) assert.ok(text.includes(`"${spec.code}"`), spec.code);
  });
});
