/**
 * A byte string built from many small pieces: a connection's bytes not parsed yet (a head
 * still arriving, requests beyond the pipelining limit), or a chunked request body. Appends
 * copy into one buffer that grows by doubling, so many tiny pieces cost linear time and one
 * allocation per doubling, not a concatenation or a Buffer object per piece. The buffer is
 * let go once empty.
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

  /** The held bytes as a Buffer of their own (exactly their size), leaving this empty. */
  take(): Buffer {
    const store = this.store;
    const length = this.length;
    this.clear();
    if (store === undefined) return EMPTY;
    return length === store.length ? store : Buffer.from(store.subarray(0, length));
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
