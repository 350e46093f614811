/**
 * Busy polling (`--busy-poll <µs>`, off by default): after input arrives on the Gearman port
 * or the HTTP front, the event loop keeps polling its sockets without blocking for that long,
 * so that a reply which follows soon (a worker's WORK_COMPLETE after its JOB_ASSIGN, a
 * client's next SUBMIT_JOB) is read as it lands instead of after the idle CPU has been put
 * to sleep and woken again.
 *
 * Why: on a job's path every hop waits for the peer's answer, and on virtual machines (and
 * CPUs in deep sleep states) waking an idle CPU takes tens of microseconds, more than the
 * server's own work per packet. Measured in the benchmark (README, Benchmarks: Busy polling),
 * it pays where one worker or one client sets the pace. The cost is CPU: while input keeps
 * coming at least once per window the server uses a whole core; and where its peers answer
 * slower than the window, it costs CPU for nothing. It is the same trade as Linux's
 * SO_BUSY_POLL and Seastar's idle polling, and so it is the operator's choice.
 *
 * How: a pending setImmediate makes libuv poll with a zero timeout; each turn re-arms it
 * until a whole window has passed without input. Input only sets a flag (no clock read per
 * read); the clock is read once per turn while polling.
 */
export class BusyPoll {
  private readonly windowMs: number;
  private readonly now: () => number;
  private deadline = 0;
  private sawInput = false;
  private polling = false;
  /** When the current polling began, and how long all earlier pollings lasted (ms). */
  private startedMs = 0;
  private pastMs = 0;

  /** `now` in milliseconds, replaceable for tests. */
  constructor(windowMicros: number, now: () => number = () => performance.now()) {
    this.windowMs = windowMicros / 1000;
    this.now = now;
  }

  /** Input arrived: poll for a window from now (re-armed by input while polling). */
  input(): void {
    this.sawInput = true;
    if (this.polling) return;
    this.polling = true;
    this.startedMs = this.now(); // once per polling, not per read
    setImmediate(this.turn);
  }

  /** True while the loop is kept polling. */
  get active(): boolean {
    return this.polling;
  }

  /** Seconds the loop was kept polling instead of sleeping: CPU time the option spent (metrics). */
  get seconds(): number {
    return (this.pastMs + (this.polling ? this.now() - this.startedMs : 0)) / 1000;
  }

  private readonly turn = (): void => {
    const now = this.now();
    if (this.sawInput) {
      this.sawInput = false;
      this.deadline = now + this.windowMs;
    }
    if (now < this.deadline) {
      setImmediate(this.turn);
      return;
    }
    this.polling = false;
    this.pastMs += now - this.startedMs;
  };
}

/**
 * `receive` as it is without a poller, else a function that tells the poller of the input
 * first: the listeners wrap their read callbacks with it, so that with --busy-poll off the
 * read path has no extra call or check.
 */
export function tellingOfInput<A extends unknown[]>(busyPoll: BusyPoll | undefined, receive: (...args: A) => void): (...args: A) => void {
  if (busyPoll === undefined) return receive;
  return (...args: A) => {
    busyPoll.input();
    receive(...args);
  };
}
