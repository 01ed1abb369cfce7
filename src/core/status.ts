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
}

export type Outcome =
  | { kind: 'success'; code: 0 }
  | { kind: 'failed'; code: number }
  /** killed on request (qm cancel, monitor kill, shutdown) */
  | { kind: 'killed'; code: number; by: string }
  | { kind: 'timedOut'; code: number; limit: number }
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
