import type { Socket } from 'node:net';

/**
 * Open connections per remote address, for the per-address limits of both ports. A socket
 * counted by `admit` is released when it closes.
 */
export class AddressCounts {
  private readonly counts = new Map<string, number>();

  /** Count `socket` unless its address already has `limit` open (0 = no limit); false = refused. */
  admit(socket: Socket, limit: number): boolean {
    const address = socket.remoteAddress ?? '-';
    const count = (this.counts.get(address) ?? 0) + 1;
    if (limit > 0 && count > limit) return false;
    this.counts.set(address, count);
    socket.once('close', () => {
      const left = (this.counts.get(address) ?? 1) - 1;
      if (left <= 0) this.counts.delete(address);
      else this.counts.set(address, left);
    });
    return true;
  }
}
