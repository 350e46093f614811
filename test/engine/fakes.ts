import type { Clock, JobView, PeerListener } from '../../src/engine/types.js';

/** A listener that records what the engine told it, as readable strings. */
export class RecordingListener implements PeerListener {
  readonly events: string[] = [];
  wake(): void {
    this.events.push('NOOP');
  }
  workData(job: JobView, data: Buffer): void {
    this.events.push(`DATA ${job.handle} ${data}`);
  }
  workWarning(job: JobView, data: Buffer): void {
    this.events.push(`WARNING ${job.handle} ${data}`);
  }
  workStatus(job: JobView, n: Buffer, d: Buffer): void {
    this.events.push(`STATUS ${job.handle} ${n}/${d}`);
  }
  workComplete(job: JobView, data: Buffer): void {
    this.events.push(`COMPLETE ${job.handle} ${data}`);
  }
  workFail(job: JobView): void {
    this.events.push(`FAIL ${job.handle}`);
  }
  workException(job: JobView, data: Buffer): void {
    this.events.push(`EXCEPTION ${job.handle} ${data}`);
  }
  take(): string[] {
    return this.events.splice(0);
  }
}

/** A clock the test moves by hand; timers fire in time order. */
export class ManualClock implements Clock {
  private time = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now(): number {
    return this.time;
  }
  setTimer(ms: number, fn: () => void): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.time + ms, fn, id });
    return id;
  }
  clearTimer(timer: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== timer);
  }
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > target) break;
      this.timers.shift();
      this.time = next.at;
      next.fn();
    }
    this.time = target;
  }
  get pending(): number {
    return this.timers.length;
  }
}
