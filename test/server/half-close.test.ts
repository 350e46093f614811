/**
 * A peer that sends its request and then closes its sending side (`printf 'status\n' | nc -N`,
 * a script's `socket.end(request)`) still gets every reply before Gearport closes: admin
 * listings, direct binary replies, and a background job's JOB_CREATED, which waits for the
 * SQLite commit after the peer's end has arrived. gearmand 1.1.20 answers such a peer only
 * when the request's read happens to come before the end's (seen lost with `-t 0`).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { FrameDecoder, PacketType as T, encodeRequest, type Frame } from '../../src/protocol/index.js';
import { AdminPeer } from '../helpers/scripted-peer.js';
import { startGearport, type RunningServer } from '../helpers/servers.js';

let server: RunningServer;

before(async () => {
  server = await startGearport();
});

after(async () => {
  await server.stop();
});

/** Write `request`, end the sending side at once, and collect every byte until the server closes. */
function halfCloseExchange(request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close within 5 s; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`));
    }, 5000);
    socket.on('connect', () => socket.end(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Each packet of `bytes` as `<type number>:<fields joined by |>`. */
function packetsOf(bytes: Buffer): string[] {
  const packets: string[] = [];
  new FrameDecoder().push(bytes, (frame: Frame) => {
    if (frame.kind !== 'packet') return assert.fail(`a text line among the replies: ${frame.line.toString('latin1')}`);
    packets.push(`${frame.type}:${frame.args.map((a) => a.toString('latin1')).join('|')}`);
  });
  return packets;
}

test('an admin command followed by the end of sending is answered in full (20 times)', async () => {
  for (let i = 0; i < 20; i++) {
    const reply = await halfCloseExchange(Buffer.from('version\nstatus\n'));
    assert.match(reply.toString('latin1'), /^OK \S+\n\.\n$/, `attempt ${i}`);
  }
});

test('binary requests followed by the end of sending: a direct reply, and a background JOB_CREATED held for its commit', async () => {
  for (let i = 0; i < 20; i++) {
    const request = Buffer.concat([
      encodeRequest(T.ECHO_REQ, [`first-${i}`]),
      encodeRequest(T.SUBMIT_JOB_BG, ['half_close_fn', `u-${i}`, 'x']),
      encodeRequest(T.ECHO_REQ, [`behind-${i}`]),
    ]);
    const packets = packetsOf(await halfCloseExchange(request));
    assert.equal(packets.length, 3, `attempt ${i}: ${JSON.stringify(packets)}`);
    assert.equal(packets[0], `${T.ECHO_RES}:first-${i}`);
    assert.match(packets[1]!, new RegExp(`^${T.JOB_CREATED}:H:[^:]+:\\d+$`));
    assert.equal(packets[2], `${T.ECHO_RES}:behind-${i}`);
  }
  // Every acknowledged job is there.
  const admin = await AdminPeer.connect(server.port);
  try {
    assert.equal(await admin.command('status\n', 'listing'), 'half_close_fn\t20\t0\t0\n.\n');
  } finally {
    await admin.close();
  }
});
