/**
 * `workers` shows an IPv4 peer as gearmand does (a.b.c.d), also when Gearport listens on a
 * dual-stack socket, where Node reports the peer as ::ffff:a.b.c.d (the default, every
 * address). The test listens on ::ffff:127.0.0.1, a dual-stack socket bound to loopback only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketType as T } from '../../src/protocol/index.js';
import { peerAddress } from '../../src/server/peer-address.js';
import { AdminPeer, ScriptedPeer } from '../helpers/scripted-peer.js';
import { startGearport } from '../helpers/servers.js';

test('an IPv4 peer of a dual-stack socket is listed by workers as a.b.c.d', async () => {
  const server = await startGearport({ listen: '::ffff:127.0.0.1', args: ['-q', 'none'] });
  const worker = await ScriptedPeer.connect(server.port, 'worker');
  const admin = await AdminPeer.connect(server.port);
  try {
    worker.send(T.SET_CLIENT_ID, ['dual-stack']);
    worker.send(T.CAN_DO, ['peer-address-fn']);
    worker.send(T.ECHO_REQ, ['sync']);
    await worker.expect(T.ECHO_RES);
    const listing = await admin.command('workers\n', 'listing');
    const line = listing.split('\n').find((l) => l.includes('dual-stack'));
    assert.match(line ?? listing, /^\d+ 127\.0\.0\.1 dual-stack : peer-address-fn$/);
  } finally {
    await admin.close();
    await worker.close();
    await server.stop();
  }
});

test('peerAddress unmaps only IPv4-mapped IPv6 addresses', () => {
  assert.equal(peerAddress('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(peerAddress('127.0.0.1'), '127.0.0.1');
  assert.equal(peerAddress('::1'), '::1');
  assert.equal(peerAddress('::ffff:abcd'), '::ffff:abcd');
  assert.equal(peerAddress('fe80::ffff:10.1.2.3'), 'fe80::ffff:10.1.2.3');
  assert.equal(peerAddress(undefined), '-');
});
