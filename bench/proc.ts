/**
 * What Linux says about a process (/proc): CPU time used so far and memory
 * resident now. Elsewhere the numbers are undefined and the bench says so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

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

/**
 * CPU seconds the process itself has used: the scheduler's nanosecond count
 * summed over its threads (/proc/PID/task/TID/schedstat), else utime + stime
 * of /proc/PID/stat, which counts in clock ticks (10 ms) and so only roughly.
 */
export function cpuSeconds(pid: number): number | undefined {
  return scheduledSeconds(pid) ?? tickSeconds(pid);
}

function scheduledSeconds(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    return Number.isFinite(ns) ? ns / 1e9 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Seconds from two clock-tick fields of /proc/PID/stat, counted after the
 * command name (which may hold spaces): 11, 12 are utime, stime; 13, 14
 * cutime, cstime.
 */
function statSeconds(pid: number, first: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[first]) + Number(fields[first + 1])) / clockTicks();
  } catch {
    return undefined;
  }
}

const tickSeconds = (pid: number) => statSeconds(pid, 11);

/** The pids of `parent`'s children whose command line holds `match`. */
export function childrenOf(parent: number, match: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(match)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** CPU seconds of the children `pid` has waited for (cutime + cstime: clock ticks, so roughly). */
export function reapedChildrenSeconds(pid: number): number | undefined {
  return statSeconds(pid, 13);
}

export interface Memory {
  /** resident now, MB */
  rssMb: number;
  /** peak resident, MB */
  peakMb: number;
}

export function memory(pid: number): Memory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: round1(kb('VmRSS') / 1024), peakMb: round1(kb('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Share of one core (%) used by each of `pids` in each of `windows`
 * consecutive windows of `seconds`, measured now: [window][pid].
 */
export async function cpuWindows(pids: number[], windows: number, seconds: number): Promise<number[][] | undefined> {
  const shares: number[][] = [];
  let before = pids.map(cpuSeconds);
  let start = performance.now();
  for (let w = 0; w < windows; w++) {
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = pids.map(cpuSeconds);
    const now = performance.now();
    if ([...before, ...after].some((x) => x === undefined)) return undefined;
    shares.push(pids.map((_, i) => (100 * (after[i]! - before[i]!)) / ((now - start) / 1000)));
    [before, start] = [after, now];
  }
  return shares;
}

/** Starts counting the CPU of `pids`; the returned function gives the seconds each used since. */
export function cpuMeter(pids: number[], read = cpuSeconds): () => Array<number | undefined> {
  const before = pids.map(read);
  return () =>
    pids.map((pid, i) => {
      const now = read(pid);
      return now === undefined || before[i] === undefined ? undefined : now - before[i]!;
    });
}

/** Milliseconds of CPU per job, summed over processes (undefined when unknown). */
export function msPerJob(seconds: Array<number | undefined>, jobs: number): number | undefined {
  if (seconds.some((s) => s === undefined)) return undefined;
  return Math.round((1000 * seconds.reduce<number>((a, s) => a + s!, 0)) / jobs * 100) / 100;
}
