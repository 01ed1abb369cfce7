/**
 * Kills what a run of a job left running (SPEC §4: a job process outlives
 * nothing). The job's process group is killed with it; a process that left
 * the group (a daemon started with setsid) still carries the run's
 * QM_RUN_ID in its environment, which is how it is found here, in /proc.
 * A run, not a job: a requeued job runs again under the same QM_JOB_ID.
 * Linux only: where /proc is missing nothing is found.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface Leftover {
  pid: number;
  run: string;
  command: string;
}

/**
 * The id of one run of a job (its QM_RUN_ID): the worker that runs it, when
 * it started, and the job (a worker may start two jobs in one millisecond).
 */
export function runIdOf(worker: string, startedAt: number, jobId: string): string {
  return `${worker}@${startedAt}/${jobId}`;
}

/** How long a process's QM_RUN_ID is taken as read: its pid could have been reused after. */
const REREAD_MS = 1_000;

/** The pids of this machine's processes now; empty where /proc is missing. */
function processIds(): number[] {
  try {
    return readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Kills (SIGKILL) every process of this machine whose QM_RUN_ID is one of
 * `runs`. Reads the environment of every process.
 */
export function killLeftovers(runs: Iterable<string>): Leftover[] {
  const wanted = new Set(runs);
  if (wanted.size === 0) return [];
  return kill(
    processIds().filter((pid) => wanted.has(runOf(pid) ?? '')),
    wanted,
    new Set(),
  );
}

/**
 * The QM_RUN_ID of this machine's processes, each read once: a launcher's
 * sweep after a run reads only the processes born since its last sweep. A
 * process gets its QM_RUN_ID from the run that starts it; a pid is read again
 * after REREAD_MS, and before a kill, so that a reused pid is not taken for
 * the process that had it.
 */
export class RunIndex {
  private readonly known = new Map<number, { run: string | undefined; at: number }>();

  /**
   * killLeftovers, reading only what it has not read lately; members of the
   * process groups `exceptGroups` (being killed already) are left alone.
   */
  killLeftovers(runs: Iterable<string>, exceptGroups: ReadonlySet<number> = new Set()): Leftover[] {
    const wanted = new Set(runs);
    const now = Date.now();
    const pids = processIds();
    const alive = new Set(pids);
    for (const pid of this.known.keys()) if (!alive.has(pid)) this.known.delete(pid);
    const suspects: number[] = [];
    for (const pid of pids) {
      let entry = this.known.get(pid);
      if (!entry || now - entry.at > REREAD_MS) {
        entry = { run: runOf(pid), at: now };
        this.known.set(pid, entry);
      }
      if (entry.run !== undefined && wanted.has(entry.run)) suspects.push(pid);
    }
    return kill(suspects, wanted, exceptGroups);
  }
}

/**
 * Sweeps after runs, at most once every `intervalMs`: runs that end close
 * together share one pass over /proc, and a short-lived process of theirs
 * that is gone by then is never read at all.
 */
export class BatchedSweep {
  private readonly batch = new Map<string, { group: number; done: (left: Leftover[]) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;

  constructor(
    private readonly index = new RunIndex(),
    private readonly intervalMs = 50,
  ) {}

  /** What run `run`, whose process group was `group`, left running, once killed. */
  after(run: string, group: number): Promise<Leftover[]> {
    return new Promise((done) => {
      this.batch.set(run, { group, done });
      this.timer ??= setTimeout(() => this.sweep(), Math.max(0, this.lastAt + this.intervalMs - Date.now()));
    });
  }

  private sweep(): void {
    this.timer = undefined;
    this.lastAt = Date.now();
    const batch = [...this.batch];
    this.batch.clear();
    const left = this.index.killLeftovers(
      batch.map(([run]) => run),
      new Set(batch.map(([, b]) => b.group)),
    );
    for (const [run, { done }] of batch) done(left.filter((l) => l.run === run));
  }
}

function kill(pids: number[], wanted: Set<string>, exceptGroups: ReadonlySet<number>): Leftover[] {
  const killed: Leftover[] = [];
  for (const pid of pids) {
    const run = pid === process.pid ? undefined : runOf(pid);
    if (run === undefined || !wanted.has(run)) continue;
    const group = groupOf(pid);
    if (group !== undefined && exceptGroups.has(group)) continue;
    const command = commandOf(pid);
    try {
      process.kill(pid, 'SIGKILL');
      killed.push({ pid, run, command });
    } catch {
      // ended meanwhile
    }
  }
  return killed;
}

// /proc is read synchronously: it is memory, not disk

function runOf(pid: number): string | undefined {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return /(?:^|\0)QM_RUN_ID=([^\0]*)/.exec(env)?.[1];
  } catch {
    return undefined; // gone, or not ours to read
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200);
  } catch {
    return '';
  }
}

function groupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] ? Number(fields[2]) : undefined;
  } catch {
    return undefined;
  }
}
