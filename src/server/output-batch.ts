/**
 * Output of every connection is written once per event-loop turn: replies produced while
 * handling all the input of one poll phase go out together (one write per connection),
 * which under load turns many small writes into a few larger ones.
 */
export interface Flushable {
  flush(): void;
}

let pending: Flushable[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const batch = pending;
  pending = [];
  for (let i = 0; i < batch.length; i++) batch[i]!.flush();
}

/** Ask for `target.flush()` at the end of this turn; the caller ensures once per turn. */
export function scheduleFlush(target: Flushable): void {
  pending.push(target);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}
