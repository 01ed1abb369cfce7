/**
 * Kills what a run of a job left running (SPEC §4: a job process outlives
 * nothing). The job's process group is killed with it; a process that left
 * the group (a daemon started with setsid) still carries the run's
 * QM_RUN_ID in its environment, which is how it is found here, in /proc.
 * A run, not a job: a requeued job runs again under the same QM_JOB_ID.
 * Linux only: where /proc is missing nothing is found.
 */
import { promises as fs } from 'node:fs';

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

/** The pids of this machine's processes now; empty where /proc is missing. */
export async function processesNow(): Promise<Set<number>> {
  const entries = await fs.readdir('/proc').catch(() => [] as string[]);
  return new Set(entries.filter((e) => /^\d+$/.test(e)).map(Number));
}

/**
 * Kills (SIGKILL) every process of this machine whose QM_RUN_ID is one of
 * `runs`, except members of process group `exceptGroup` (being killed already).
 * Reading every process's environment costs milliseconds for each job; with
 * `existedBefore` (the processes there before the run began, see
 * processesNow) only the others are read. A pid of that set reused by the run
 * would be missed: keep it for runs too short for pids to wrap around.
 */
export async function killLeftovers(runs: Iterable<string>, exceptGroup?: number, existedBefore?: Set<number>): Promise<Leftover[]> {
  const wanted = new Set(runs);
  if (wanted.size === 0) return [];
  let entries: string[];
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return [];
  }
  const killed: Leftover[] = [];
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid && !existedBefore?.has(Number(e)))
      .map(async (entry) => {
        const pid = Number(entry);
        const run = await runOf(pid);
        if (run === undefined || !wanted.has(run)) return;
        if (exceptGroup !== undefined && (await groupOf(pid)) === exceptGroup) return;
        const command = await commandOf(pid);
        try {
          process.kill(pid, 'SIGKILL');
          killed.push({ pid, run, command });
        } catch {
          // ended meanwhile
        }
      }),
  );
  return killed;
}

async function runOf(pid: number): Promise<string | undefined> {
  try {
    const env = await fs.readFile(`/proc/${pid}/environ`, 'utf8');
    return /(?:^|\0)QM_RUN_ID=([^\0]*)/.exec(env)?.[1];
  } catch {
    return undefined; // gone, or not ours to read
  }
}

async function commandOf(pid: number): Promise<string> {
  const raw = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return raw.split('\0').filter(Boolean).join(' ').slice(0, 200);
}

async function groupOf(pid: number): Promise<number | undefined> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[2] ? Number(fields[2]) : undefined;
}
