/**
 * Runs one claimed job in its folder in QM_Jobs, until its processes end.
 * 1. The process.log header (process-log.ts), written by the launcher just
 *    before the script starts.
 * 2. The environment of SPEC §3, the time limit, kill on request; the
 *    worker's launcher (launch.ts) runs the script and kills what it left.
 * 3. Resolves with how the run ended; the launcher has written the footer
 *    (else Lifecycle.finish does), the lifecycle moves the folder and records it.
 */
import path from 'node:path';
import type { Layout } from '../core/folders.js';
import { headerLines, logPathOf, type RunEnd } from '../core/process-log.js';
import { stopReasonAfter, type QueuedJob, type StopReason } from '../core/status.js';
import type { Launcher, LaunchedJob } from './launch.js';
import { runIdOf } from '../core/leftovers.js';
import { resourceVariables } from './resource-env.js';
import type { RunAs } from './runner.js';
import { slurmVariables, withSrunFunction } from './slurm-env.js';
import type { TmpDirs } from './tmp-dirs.js';
import { withOutputFiles } from './slurm-output.js';

export interface JobRun {
  id: string;
  job: QueuedJob;
  /** processors granted (after clamping) */
  nbProc: number;
  cpus: number[];
  /** GPU ids granted */
  gpus: string[];
  /** MB reserved (0: none) */
  memoryMb: number;
  /** does this worker hand out GPUs? */
  hasGpus: boolean;
  /** the job's user and its environment, when a root worker runs it as the folder's owner */
  runAs?: RunAs & { env: Record<string, string> };
  worker: string;
  host: string;
  startedAt: Date;
}

/** What a job's environment adds to its worker's (SPEC §3, §8, §9); `tmpDir`: its TMPDIR. */
export function jobVariables(run: JobRun, dir: string, tmpDir: string): Record<string, string> {
  const env: Record<string, string> = {
    ...run.runAs?.env,
    ...slurmVariables({ id: run.id, job: run.job, dir, host: run.host, tmpDir }),
    ...resourceVariables(run),
  };
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
  /**
   * How it ended, once its processes have; `logged`: its footer is written;
   * `unwritableLog`: it never ran, its process.log could not be opened (the error's code).
   */
  ended: Promise<{ end: RunEnd; cpu: number | undefined; logged?: { reportedTime?: number }; unwritableLog?: string }>;
}

export type { StopReason };

/** What a worker starts its jobs with. */
export interface JobStarter {
  launcher: Launcher;
  tmpDirs: TmpDirs;
  killGrace: number;
}

export function startJob(run: JobRun, layout: Layout, { launcher, tmpDirs, killGrace }: JobStarter): ActiveJob {
  const dir = path.join(layout.running, run.job.name);
  const runId = runIdOf(run.worker, run.startedAt.getTime(), run.id);
  const tmpDir = tmpDirs.take(run.id, run.runAs);
  const proc = launcher.run({
    run: runId,
    script: withOutputFiles(run.job.format === 'sh' ? withSrunFunction(run.job.script) : run.job.script, { id: run.id, job: run.job, host: run.host, dir }),
    cwd: dir,
    vars: jobVariables(run, dir, tmpDir),
    logPath: logPathOf(dir),
    header: headerLines({ notices: run.job.notices ?? [], clampedTo: run.nbProc < run.job.nbProc ? run.nbProc : undefined, startedAt: run.startedAt }),
    cpus: run.cpus,
    ...(run.job.memoryMb !== undefined && { memoryLimitMb: run.memoryMb }),
    ...(run.runAs && { runAs: { uid: run.runAs.uid, gid: run.runAs.gid, groups: run.runAs.groups } }),
    ...(run.job.owner && { owner: run.job.owner }),
    killGrace,
  });
  let stopReason: StopReason | undefined;
  const stop = (reason: StopReason) => {
    stopReason = stopReasonAfter(stopReason, reason);
    proc.kill(reason);
  };
  const limit = run.job.timeLimit;
  const timer = limit ? longTimeout(() => stop({ kind: 'timedOut', limit }), limit * 1000) : undefined;
  const ended = proc.done.then(({ code, cpu, leftovers, note, outOfMemory, unwritableLog, endedAt, stop, logged }) => {
    timer?.clear();
    tmpDirs.give(tmpDir);
    const outOfMemoryMb = outOfMemory ? run.memoryMb : undefined;
    // as the footer says when the launcher wrote it (a kill that came after the end is not why it ended);
    // being abandoned is the worker's to know, whenever it came
    const why = stopReason?.kind === 'abandoned' ? stopReason : logged ? stop : stopReason;
    const end: RunEnd = { code, endedAt: endedAt === undefined ? new Date() : new Date(endedAt), stop: why, note, leftovers, ...(outOfMemoryMb && { outOfMemoryMb }) };
    return { end, cpu, ...(logged && { logged }), ...(unwritableLog && { unwritableLog }) };
  });
  return { run, process: proc, stop, ended };
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
