/**
 * Output is written once per handled input event: everything that one read produced, for
 * every connection it touched, goes out in one write per connection right after it. Waiting
 * for the whole poll phase (setImmediate) batched more but added a turn of latency to every
 * hop of a worker's grab loop, which cost throughput in the benchmark's one-worker cells.
 *
 * Workers' output goes first: a worker's next job (JOB_ASSIGN, NOOP) is on the critical path
 * of every job behind it, a client's notice only ends one wait. Writing it before the clients'
 * got the one-worker cells 13-15% more jobs/s and a lower p99.
 */
export interface Flushable {
  flush(): void;
  /** Written before the others (a worker connection). */
  readonly urgent: boolean;
}

/**
 * Connections to flush, in `pending[0, count)`. Slots are overwritten, never cut off:
 * `length = 0` went through V8's runtime and shrank the array, which then grew again at
 * the next push, once per read callback. Entries past `count` are cleared as they flush.
 */
const pending: Array<Flushable | undefined> = [];
let count = 0;
let scheduled = false;
/** Inside a socket read (runInReadBatch): flushed when it returns, not on a tick. */
let inRead = false;

function flushAll(): void {
  scheduled = false;
  const n = count;
  for (let i = 0; i < n; i++) if (pending[i]!.urgent) pending[i]!.flush();
  for (let i = 0; i < n; i++) {
    const target = pending[i]!;
    pending[i] = undefined;
    if (!target.urgent) target.flush();
  }
  // A flush makes no output, so nothing should have been scheduled meanwhile; if something
  // was, it moves to the front for the turn that scheduleFlush has already asked for.
  let kept = 0;
  for (let i = n; i < count; i++) {
    pending[kept++] = pending[i];
    pending[i] = undefined;
  }
  count = kept;
}

/** Ask for `target.flush()` at the end of this read or turn; the caller ensures once per turn. */
export function scheduleFlush(target: Flushable): void {
  if (count < pending.length) pending[count] = target;
  else pending.push(target);
  count++;
  if (!scheduled && !inRead) {
    scheduled = true;
    process.nextTick(flushAll);
  }
}

/**
 * Handle one socket read, then write what it produced before returning. Same order as the
 * tick, one call fewer: a scheduled tick makes Node enter JavaScript a second time after
 * every read callback (processTicksAndRejections), about a tenth of the server's user-space
 * CPU per job in the foreground benchmark.
 */
export function runInReadBatch(handle: (buffer: Buffer, length: number) => void, buffer: Buffer, length: number): void {
  inRead = true;
  try {
    handle(buffer, length);
  } finally {
    inRead = false;
    if (count > 0) flushAll();
  }
}
