import { isIPv4 } from 'node:net';

/** Whether an address is this machine (admin commands that change state need it). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * A peer's address as `workers` shows it: an IPv4 peer of a dual-stack socket (the default,
 * every address) is `::ffff:a.b.c.d` to Node, but gearmand's IPv6 sockets are v6-only and
 * show it as `a.b.c.d` (spec 2.2).
 */
export function peerAddress(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '-';
  if (remoteAddress.startsWith('::ffff:')) {
    const v4 = remoteAddress.slice(7);
    if (isIPv4(v4)) return v4;
  }
  return remoteAddress;
}
