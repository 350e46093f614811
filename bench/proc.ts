/**
 * What Linux says about a process: CPU time (all threads) and peak resident memory.
 * Read from /proc so it works the same for gearmand (C++, threads) and Gearport (Node).
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds consumed so far by every thread of `pid`, or NaN when gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]); // field 14 of proc(5)
    const stime = Number(fields[12]); // field 15
    return (utime + stime) / clockTicks();
  } catch {
    return NaN;
  }
}

/** BENCH_PIN's layout: the load processes on one core, the server on the other. */
export const PINNED_CPUS = { load: 0, server: 1 } as const;

/**
 * Bind every thread of `pid` to one CPU (BENCH_PIN): threads it starts later inherit it.
 * Throws when taskset is missing or refuses, so a pinned run never silently runs unpinned.
 */
export function pinToCpu(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** Peak resident set size (VmHWM) in bytes, or NaN when unreadable. */
export function peakRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds the whole machine spent busy (all cores, steal included), to show how much
 * of the window went to processes other than the server and the load generator.
 */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / clockTicks();
  } catch {
    return NaN;
  }
}
