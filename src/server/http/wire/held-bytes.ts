/**
 * Bytes of a connection received but not parsed yet: a head still arriving, or requests
 * read beyond the pipelining limit. Appends copy into one buffer that grows by doubling, so
 * a head that trickles in byte by byte costs linear time, not a new concatenation per read.
 * The buffer is let go once empty.
 */
export class HeldBytes {
  private store: Buffer | undefined;
  length = 0;

  append(src: Buffer, start: number, end: number): void {
    const need = this.length + (end - start);
    if (this.store === undefined || need > this.store.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * (this.store?.length ?? 512)));
      this.store?.copy(grown, 0, 0, this.length);
      this.store = grown;
    }
    src.copy(this.store, this.length, start, end);
    this.length = need;
  }

  /** The held bytes; valid until the next append or consume. */
  view(): Buffer {
    return this.store === undefined ? EMPTY : this.store.subarray(0, this.length);
  }

  /** Drop the first `count` bytes. */
  consume(count: number): void {
    if (count >= this.length) return this.clear();
    this.store!.copyWithin(0, count, this.length);
    this.length -= count;
  }

  clear(): void {
    this.store = undefined;
    this.length = 0;
  }
}

const EMPTY = Buffer.alloc(0);
