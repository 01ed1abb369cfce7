/**
 * Job states and results (SPEC §1, §3). A job is queued → running → done,
 * or lost (moved to QM_lost+found). Each state carries its own data; the
 * outcome of a finished job is its own type.
 */

/** What ingest puts in the queue: the descriptor, as read when the folder settled. */
export interface QueuedJob {
  /** Folder name in QM_qJobs, the job's name everywhere. */
  name: string;
  script: string;
  format: 'cfg' | 'xml' | 'sh';
  nbProc: number;
  priority: number;
  email?: string;
  info?: string;
  size?: string;
  timeLimit?: number;
  after: string[];
  mailType: string[];
  keys: Record<string, string>;
  /** ms since epoch */
  enqueuedAt: number;
  /** mtime of the descriptor, ms: the FIFO order key */
  descriptorMtime: number;
  /** times it was put back in the queue after its worker was lost */
  requeues?: number;

  // --- the job model of SPEC §8–§10 (all optional: a QM 1.0 record still reads) ---
  /** GPUs asked (nb_gpu, --gres/--gpus...); 0 or absent = none. Never clamped. */
  nbGpu?: number;
  /** memory reserved, MB; absent = none reserved; 0 = all of the worker's (Slurm's --mem=0). Never clamped. */
  memoryMb?: number;
  /** Slurm tasks (-n); nbProc = ntasks × cpus per task. Absent = 1. */
  ntasks?: number;
  /** the Unix owner of the job's folder: who may cancel, hold, requeue it, and who it runs as under a root worker */
  owner?: JobOwner;
  /** set on each task of an array: task `array.index` of the array named `array.name` */
  array?: ArrayTask;
  /** held (`-H`, `qm hold`): not picked until `qm release` */
  held?: boolean;
  /** ms since epoch: not picked before (`--begin`) */
  beginAt?: number;
  /** one `QM:` line each, written at the top of process.log when it starts (options not honoured, clamps, limits not enforced) */
  notices?: string[];
  /** where `qm submit` ran and on which host (SLURM_SUBMIT_DIR / _HOST); absent for a dropped folder */
  submitDir?: string;
  submitHost?: string;
}

/** Who a job belongs to: the owner of its folder when it was queued. */
export interface JobOwner {
  user: string;
  uid: number;
  gid: number;
}

/**
 * A task of a job array (SPEC §9). Each task is a job of its own, named
 * `NAME_i`, with its own folder: QM_qJobs/NAME holds the array's folder until
 * its last task has started; task i's folder QM_Jobs/NAME_i is made from it
 * when the task is claimed, then moves to QM_dJobs like any job's.
 */
export interface ArrayTask {
  /** the array's name (SLURM_JOB_NAME, SLURM_ARRAY_JOB_ID's job) */
  name: string;
  /** the array's id (SLURM_ARRAY_JOB_ID) */
  id: string;
  /** this task's index (SLURM_ARRAY_TASK_ID) */
  index: number;
  count: number;
  min: number;
  max: number;
  step: number;
  /** at most this many tasks of the array run at once, over all workers (`%K`) */
  limit?: number;
}

/** Where a running job runs; kept in Redis while it runs. */
export interface RunningInfo {
  id: string;
  name: string;
  worker: string;
  /** the worker process's random id: tells a restarted worker of the same name from the old one */
  instance: string;
  host: string;
  pid: number;
  /** where `pid` is meaningful (boot id and pid namespace; see worker/liveness.ts) */
  pidSpace?: string;
  /** the BullMQ lock token it holds: lets another process settle the job when this worker is lost */
  token?: string;
  nbProc: number;
  cpus: number[];
  startedAt: number;
  enqueuedAt: number;
  info?: string;
  email?: string;
  /** GPU ids handed to it (CUDA_VISIBLE_DEVICES) */
  gpus?: string[];
  /** memory reserved for it, MB (0 = none) */
  memoryMb?: number;
  owner?: JobOwner;
  array?: ArrayTask;
}

export type Outcome =
  | { kind: 'success'; code: 0 }
  | { kind: 'failed'; code: number }
  /** killed on request (qm cancel, monitor kill, shutdown) */
  | { kind: 'killed'; code: number; by: string }
  | { kind: 'timedOut'; code: number; limit: number }
  /** killed by the kernel for going over its memory limit (MB) */
  | { kind: 'outOfMemory'; code: number; limitMb: number }
  /** cancelled before it started */
  | { kind: 'cancelled'; by: string }
  | { kind: 'dependencyFailed'; dependency: string }
  | { kind: 'failedToSpawn'; error: string }
  /** moved to QM_lost+found */
  | { kind: 'lost'; reason: string }
  /** found in QM_dJobs without a record nor an end in its process.log (QM 0.4's non-blocking mode wrote none) */
  | { kind: 'unrecorded' };

/** Why QM stopped a running job before it ended by itself. */
export type StopReason =
  | { kind: 'killed'; by: string }
  | { kind: 'timedOut'; limit: number }
  /** shutdown = requeue: its folder goes back to QM_qJobs */
  | { kind: 'requeue' }
  /** declared lost while its worker could not be reached: its folder is no longer this run's */
  | { kind: 'abandoned' };

/** A run asked to stop again: the first reason stands, but being abandoned overrides any (the folder must not be touched). */
export function stopReasonAfter(current: StopReason | undefined, reason: StopReason): StopReason {
  return reason.kind === 'abandoned' ? reason : (current ?? reason);
}

/** Kept in Redis (up to keep_done of them) once a job has ended. */
export interface DoneRecord {
  id: string;
  name: string;
  info?: string;
  email?: string;
  nbProc: number;
  priority: number;
  worker?: string;
  host?: string;
  enqueuedAt?: number;
  startedAt?: number;
  endedAt: number;
  /** seconds */
  elapsed?: number;
  /** seconds of user+system CPU of the whole process tree */
  cpu?: number;
  /** seconds the job reported, its last `time: N` line (QM 0.4's duration) */
  reportedTime?: number;
  /** where the folder is now, relative to QM_FOLDER (e.g. `QM_dJobs/2026-...-NAME`) */
  folder: string;
  outcome: Outcome;
  nbGpu?: number;
  gpus?: string[];
  memoryMb?: number;
  owner?: JobOwner;
  array?: ArrayTask;
}

/** The id of a record read back from folder QM_dJobs/ENTRY (ingest/done-folders.ts). */
export function foundRecordId(entry: string): string {
  return `dir:${entry}`;
}

/** Did the job run to its end and exit 0? (Bull Board's Completed tab; every other end is Failed.) */
export function succeeded(outcome: Outcome): boolean {
  return outcome.kind === 'success';
}

/** Exit code to report (`qm submit --wait`): the job's code, or 1 when it never ran. */
export function exitCodeOf(outcome: Outcome): number {
  switch (outcome.kind) {
    case 'success':
    case 'failed':
    case 'killed':
    case 'timedOut':
    case 'outOfMemory':
      return outcome.code;
    default:
      return 1;
  }
}

/** One short phrase: `code 0`, `timed out after 60 s`, `cancelled by qm cancel`... */
export function describeOutcome(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'success':
    case 'failed':
      return `code ${outcome.code}`;
    case 'killed':
      return `killed by ${outcome.by} (code ${outcome.code})`;
    case 'timedOut':
      return `timed out after ${outcome.limit} s (code ${outcome.code})`;
    case 'outOfMemory':
      return `out of memory (limit ${outcome.limitMb} MB)`;
    case 'cancelled':
      return `cancelled by ${outcome.by}`;
    case 'dependencyFailed':
      return `dependency failed: ${outcome.dependency}`;
    case 'failedToSpawn':
      return `failed to start: ${outcome.error}`;
    case 'lost':
      return `lost: ${outcome.reason}`;
    case 'unrecorded':
      return 'ended, code unknown';
  }
}
