import type { Job } from './job.js';

/** Min-heap of epoch jobs by run time; jobs that left the schedule are skipped lazily. */
export class EpochSchedule {
  private readonly heap: Job[] = [];

  get size(): number {
    return this.heap.length;
  }

  add(job: Job): void {
    const heap = this.heap;
    heap.push(job);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.when <= job.when) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = job;
  }

  peek(): Job | undefined {
    return this.heap[0];
  }

  pop(): Job | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && heap[r]!.when < heap[l]!.when ? r : l;
      if (heap[child]!.when >= last.when) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
