/**
 * Runs one claimed job, from its folder in QM_Jobs to its folder in QM_dJobs.
 * 1. process.log header (`Nb of processors limited to N`, `Job started by QM at:`).
 * 2. The environment of SPEC §3, the time limit, kill on request.
 * 3. The footer (`Job finished at: ... with code N` and the reason when killed),
 *    the move to QM_dJobs, and the done record it returns.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Layout } from '../core/folders.js';
import { moveStamped } from '../core/folders.js';
import type { DoneRecord, Outcome, QueuedJob } from '../core/status.js';
import { runScript, type RunningProcess } from './runner.js';

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

export function jobEnvironment(run: JobRun, dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
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
  return env;
}

export interface ActiveJob {
  run: JobRun;
  process: RunningProcess;
  /** Asks the job to stop; the outcome says why. */
  stop(reason: StopReason): void;
  finished: Promise<DoneRecord>;
}

export type StopReason = { kind: 'killed'; by: string } | { kind: 'timedOut'; limit: number };

export async function startJob(run: JobRun, layout: Layout, killGrace: number): Promise<ActiveJob> {
  const dir = path.join(layout.running, run.job.name);
  const logPath = path.join(dir, 'process.log');
  const log = await fs.open(logPath, 'a');
  const header: string[] = [];
  if (run.nbProc < run.job.nbProc) header.push(`Nb of processors limited to ${run.nbProc}`);
  header.push(`Job started by QM at: ${run.startedAt.toISOString()}`);
  await log.write(header.join('\n') + '\n');

  const proc = runScript({
    script: run.job.script,
    cwd: dir,
    env: jobEnvironment(run, dir),
    logFd: log.fd,
    cpus: run.cpus,
    killGrace,
  });
  let stopReason: StopReason | undefined;
  const stop = (reason: StopReason) => {
    stopReason ??= reason;
    proc.kill();
  };
  const limit = run.job.timeLimit;
  const timer = limit ? longTimeout(() => stop({ kind: 'timedOut', limit }), limit * 1000) : undefined;

  const finished = proc.done.then(async ({ code, cpu }) => {
    timer?.clear();
    const endedAt = new Date();
    const outcome = outcomeOf(code, stopReason);
    const footer = [`Job finished at: ${endedAt.toISOString()} with code ${code}`];
    if (stopReason) footer.push(`Reason: ${reasonLine(stopReason)}`);
    await log.write(footer.join('\n') + '\n');
    await log.close();
    const target = await moveStamped(dir, layout.done, run.job.name, endedAt);
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

function outcomeOf(code: number, stop: StopReason | undefined): Outcome {
  if (stop?.kind === 'timedOut') return { kind: 'timedOut', code, limit: stop.limit };
  if (stop?.kind === 'killed') return { kind: 'killed', code, by: stop.by };
  return code === 0 ? { kind: 'success', code: 0 } : { kind: 'failed', code };
}

function reasonLine(stop: StopReason): string {
  return stop.kind === 'timedOut' ? `time limit of ${stop.limit} s reached` : `killed by ${stop.by}`;
}
