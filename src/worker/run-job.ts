/**
 * Runs one claimed job, from its folder in QM_Jobs to its folder in QM_dJobs.
 * 1. The process.log header (`Nb of processors limited to N`, `Job started by QM at:`),
 *    written by the launcher just before the script starts.
 * 2. The environment of SPEC §3, the time limit, kill on request; the
 *    worker's launcher (launch.ts) runs the script and kills what it left.
 * 3. Writes the footer (`Job finished at:
 *    ... with code N`, the reason when killed), moves the folder to QM_dJobs
 *    and returns the done record.
 * 4. Stopped for `shutdown = requeue`: the folder goes back to QM_qJobs instead
 *    (no done record), unless a queued job of the same name is in the way.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Layout } from '../core/folders.js';
import { moveStamped } from '../core/folders.js';
import { readTail, reportedTimeIn } from '../core/progress.js';
import type { DoneRecord, Outcome, QueuedJob } from '../core/status.js';
import type { Launcher, LaunchedJob } from './launch.js';
import { runIdOf } from './sweep.js';

export interface JobRun {
  id: string;
  job: QueuedJob;
  /** processors granted (after clamping) */
  nbProc: number;
  cpus: number[];
  worker: string;
  host: string;
  startedAt: Date;
}

const THREAD_VARIABLES = [
  'NB_PROC',
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'NUMEXPR_NUM_THREADS',
  'SLURM_CPUS_PER_TASK',
];

/** What a job's environment adds to its worker's (SPEC §3). */
export function jobVariables(run: JobRun, dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of THREAD_VARIABLES) env[name] = String(run.nbProc);
  // a thread count the descriptor sets itself wins (e.g. omp_num_threads = 1 for an MPI job);
  // NB_PROC is always the processors granted (the descriptor's nb_proc may have been clamped)
  for (const name of THREAD_VARIABLES) {
    const own = run.job.keys[name.toLowerCase()]?.trim();
    if (own && name !== 'NB_PROC') env[name] = own;
  }
  env.QM_JOB_NAME = run.job.name;
  env.QM_JOB_ID = run.id;
  env.QM_JOB_DIR = dir;
  env.QM_RUN_ID = runIdOf(run.worker, run.startedAt.getTime(), run.id);
  return env;
}

export interface ActiveJob {
  run: JobRun;
  process: LaunchedJob;
  /** Asks the job to stop; the outcome says why. */
  stop(reason: StopReason): void;
  /** The done record; undefined when the folder went back to QM_qJobs (stopped with `requeue`). */
  finished: Promise<DoneRecord | undefined>;
}

export type StopReason =
  | { kind: 'killed'; by: string }
  | { kind: 'timedOut'; limit: number }
  | { kind: 'requeue' }
  /** declared lost while its worker could not be reached: its folder is no longer this run's */
  | { kind: 'abandoned' };

/**
 * `abandoned` is asked once the job has ended, before its folder is moved:
 * true when another process has taken the job from this worker meanwhile.
 */
export async function startJob(
  run: JobRun,
  layout: Layout,
  launcher: Launcher,
  killGrace: number,
  abandoned: () => Promise<boolean> = async () => false,
): Promise<ActiveJob> {
  const dir = path.join(layout.running, run.job.name);
  const logPath = path.join(dir, 'process.log');
  const header: string[] = [];
  if (run.nbProc < run.job.nbProc) header.push(`Nb of processors limited to ${run.nbProc}`);
  header.push(`Job started by QM at: ${run.startedAt.toISOString()}`);

  const runId = runIdOf(run.worker, run.startedAt.getTime(), run.id);
  const proc = launcher.run({
    run: runId,
    script: run.job.script,
    cwd: dir,
    vars: jobVariables(run, dir),
    logPath,
    header: header.join('\n') + '\n',
    cpus: run.cpus,
    killGrace,
  });
  let stopReason: StopReason | undefined;
  const stop = (reason: StopReason) => {
    // being abandoned overrides any earlier reason: the folder must not be touched
    stopReason = reason.kind === 'abandoned' ? reason : (stopReason ?? reason);
    proc.kill();
  };
  const limit = run.job.timeLimit;
  const timer = limit ? longTimeout(() => stop({ kind: 'timedOut', limit }), limit * 1000) : undefined;

  const finished = proc.done.then(async ({ code, cpu, leftovers, note }) => {
    timer?.clear();
    const endedAt = new Date();
    const outcome = outcomeOf(code, stopReason);
    const footer: string[] = [];
    if (note) footer.push(note);
    if (leftovers.length > 0) {
      footer.push(`QM killed ${leftovers.length} process(es) the job left running: ${leftovers.join('; ')}`);
    }
    footer.push(`Job finished at: ${endedAt.toISOString()} with code ${code}`);
    if (stopReason) footer.push(`Reason: ${reasonLine(stopReason)}`);
    // its tail: the job's `time: N`, and whether its last output ended its line (the footer starts its own)
    const log = await fs.open(logPath, 'a+');
    let reportedTime: number | undefined;
    try {
      const tail = await readTail(log);
      reportedTime = reportedTimeIn(tail);
      const lineOpen = tail !== '' && !tail.endsWith('\n');
      await log.write((lineOpen ? '\n' : '') + footer.join('\n') + '\n');
    } finally {
      await log.close();
    }
    if (stopReason?.kind === 'abandoned' || (await abandoned())) {
      throw new Error('declared lost while this worker could not reach Redis: its folder was moved on by another process, nothing recorded here');
    }
    if (stopReason?.kind === 'requeue' && (await backInQueue(dir, layout, run.job.name))) return undefined;
    const target = await moveStamped(dir, layout.done, run.job.name, endedAt).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      throw new Error('its folder left QM_Jobs while it ran (declared lost while this worker was unreachable, or moved by hand): not recorded');
    });
    const record: DoneRecord = {
      id: run.id,
      name: run.job.name,
      info: run.job.info,
      email: run.job.email,
      nbProc: run.nbProc,
      priority: run.job.priority,
      worker: run.worker,
      host: run.host,
      enqueuedAt: run.job.enqueuedAt,
      startedAt: run.startedAt.getTime(),
      endedAt: endedAt.getTime(),
      elapsed: (endedAt.getTime() - run.startedAt.getTime()) / 1000,
      cpu,
      reportedTime,
      folder: path.relative(layout.root, target),
      outcome,
    };
    return record;
  });
  return { run, process: proc, stop, finished };
}

/** Node's setTimeout fires at once past 2^31-1 ms (24.8 days): longer limits are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function longTimeout(fire: () => void, ms: number): { clear(): void } {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(() => (left > MAX_TIMEOUT_MS ? arm(left - MAX_TIMEOUT_MS) : fire()), Math.min(left, MAX_TIMEOUT_MS));
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}

/** Renames the folder back into QM_qJobs; false when a queued job of that name is there. */
async function backInQueue(dir: string, layout: Layout, name: string): Promise<boolean> {
  try {
    await fs.rename(dir, path.join(layout.queued, name));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw err;
  }
}

function outcomeOf(code: number, stop: StopReason | undefined): Outcome {
  if (stop?.kind === 'timedOut') return { kind: 'timedOut', code, limit: stop.limit };
  if (stop?.kind === 'killed') return { kind: 'killed', code, by: stop.by };
  // stopped to be requeued but could not be: recorded as killed by the shutdown
  if (stop?.kind === 'requeue') return { kind: 'killed', code, by: 'shutdown' };
  return code === 0 ? { kind: 'success', code: 0 } : { kind: 'failed', code };
}

function reasonLine(stop: StopReason): string {
  if (stop.kind === 'timedOut') return `time limit of ${stop.limit} s reached`;
  if (stop.kind === 'requeue') return 'stopped by shutdown (shutdown = requeue)';
  if (stop.kind === 'abandoned') return 'declared lost while its worker could not reach Redis';
  return `killed by ${stop.by}`;
}
