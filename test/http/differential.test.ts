/**
 * Gearport's HTTP front against gearmand's HTTP plugin (-r http) for the compatible subset:
 * the same raw request to both, compared on status, X-Gearman-* headers and body, handles
 * aside. gearmand closes after each response and is fragile (gearman-spec 3.7), so each
 * request is simple and on its own connection. Intended differences: DIFFERENCES.md.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGearmand, startGearport, type RunningServer } from '../helpers/servers.js';
import { RawWorker, reverse } from './raw-worker.js';
import { rawExchange, type RawResponse } from './raw-http.js';

interface Pair {
  readonly name: 'gearport' | 'gearmand';
  readonly server: RunningServer;
  readonly worker: RawWorker;
}

/** What must match: the status, the Gearman headers (handle shape only) and the body. */
function essence(res: RawResponse) {
  return {
    status: res.status,
    command: res.headers['x-gearman-command'],
    handle: res.headers['x-gearman-job-handle'] === undefined ? 'none' : /^H:[^:]+:\d+$/.test(res.headers['x-gearman-job-handle']) ? 'handle' : res.headers['x-gearman-job-handle'],
    server: /^Gearman\/\S+/.test(res.headers.server ?? '') ? 'Gearman/<v>' : res.headers.server,
    body: res.body.toString('latin1'),
  };
}

describe('HTTP front vs gearmand -r http', () => {
  const pairs: Pair[] = [];

  before(async () => {
    for (const start of [startGearport, startGearmand]) {
      const server = await start({ http: true, args: start === startGearport ? ['--queue-type', 'none'] : [] });
      const worker = await RawWorker.start(server.port, {
        reverse,
        echoUnique: (job) => [{ complete: job.unique }],
        fails: () => [{ fail: true }],
      });
      pairs.push({ name: server.kind, server, worker });
    }
  });
  after(async () => {
    for (const p of pairs) {
      p.worker.close();
      await p.server.stop();
    }
  });

  async function both(request: string) {
    const out: Record<string, RawResponse> = {};
    for (const p of pairs) {
      const res = await rawExchange(p.server.httpPort!, request);
      res.conn.close();
      out[p.name] = res;
    }
    return { gearport: out.gearport!, gearmand: out.gearmand! };
  }

  test('POST /reverse: 200, WORK_COMPLETE, the handle, the result', async () => {
    const r = await both('POST /reverse HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello');
    assert.deepEqual(essence(r.gearport), essence(r.gearmand));
    assert.equal(r.gearport.body.toString(), 'olleh');
  });

  test('PUT and several leading slashes', async () => {
    const r = await both('PUT ///reverse HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc');
    assert.deepEqual(essence(r.gearport), essence(r.gearmand));
  });

  test('HTTP/1.0 request', async () => {
    const r = await both('POST /reverse HTTP/1.0\r\nContent-Length: 2\r\n\r\nxy');
    assert.deepEqual(essence(r.gearport), essence(r.gearmand));
  });

  test('X-Gearman-Unique reaches the worker; the default unique is "-"', async () => {
    const given = await both('POST /echoUnique HTTP/1.1\r\nX-Gearman-Unique: abc-123\r\nContent-Length: 1\r\n\r\nx');
    assert.deepEqual(essence(given.gearport), essence(given.gearmand));
    assert.equal(given.gearport.body.toString(), 'abc-123');
    const dflt = await both('POST /echoUnique HTTP/1.1\r\nContent-Length: 1\r\n\r\nx');
    assert.deepEqual(essence(dflt.gearport), essence(dflt.gearmand));
    assert.equal(dflt.gearport.body.toString(), '-');
  });

  test('background: 200, JOB_CREATED, the handle, Content-Length 0', async () => {
    const r = await both('POST /nobodyListens HTTP/1.1\r\nX-Gearman-Background: true\r\nX-Gearman-Priority: low\r\nContent-Length: 5\r\n\r\nhello');
    assert.deepEqual(essence(r.gearport), essence(r.gearmand));
    assert.equal(r.gearport.headers['content-length'], '0');
    assert.equal(r.gearmand.headers['content-length'], '0');
  });

  test('identical background bodies coalesce to the same handle on both', async () => {
    for (const p of pairs) {
      const req = 'POST /coalesceBg HTTP/1.1\r\nX-Gearman-Background: true\r\nContent-Length: 4\r\n\r\nsame';
      const a = await rawExchange(p.server.httpPort!, req);
      const b = await rawExchange(p.server.httpPort!, req);
      a.conn.close();
      b.conn.close();
      assert.equal(a.headers['x-gearman-job-handle'], b.headers['x-gearman-job-handle'], p.name);
    }
  });

  test('POST / is 404 on both (gearmand says "404 NOT_FOUND", we say "404 Not Found")', async () => {
    const r = await both('POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n');
    assert.equal(r.gearport.status, 404);
    assert.equal(r.gearmand.status, 404);
  });

  test('intended difference: WORK_FAIL is 502 here, 200 in gearmand; X-Gearman-Command agrees', async () => {
    const r = await both('POST /fails HTTP/1.1\r\nContent-Length: 1\r\n\r\nx');
    assert.equal(r.gearmand.status, 200);
    assert.equal(r.gearport.status, 502);
    assert.equal(r.gearport.headers['x-gearman-command'], 'WORK_FAIL');
    assert.equal(r.gearmand.headers['x-gearman-command'], 'WORK_FAIL');
  });

  test('intended difference: an unknown method is 405 here; gearmand closes without a word', async () => {
    const ours = await rawExchange(pairs[0]!.server.httpPort!, 'DELETE /reverse HTTP/1.1\r\n\r\n');
    ours.conn.close();
    assert.equal(ours.status, 405);
    await assert.rejects(rawExchange(pairs[1]!.server.httpPort!, 'DELETE /reverse HTTP/1.1\r\n\r\n', { timeoutMs: 5000 }), /connection closed/);
  });

  test('intended difference: keep-alive here; gearmand closes after each response', async () => {
    const [ours, theirs] = [
      await rawExchange(pairs[0]!.server.httpPort!, 'POST /reverse HTTP/1.1\r\nContent-Length: 2\r\n\r\nok'),
      await rawExchange(pairs[1]!.server.httpPort!, 'POST /reverse HTTP/1.1\r\nContent-Length: 2\r\n\r\nok'),
    ];
    assert.equal(await theirs.conn.closesWithin(5000), true);
    assert.equal(await ours.conn.closesWithin(300), false);
    ours.conn.close();
  });
});
