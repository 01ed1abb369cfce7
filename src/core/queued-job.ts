/**
 * A job folder's descriptor turned into what the queue holds (`QueuedJob`),
 * the same way for a folder dropped in QM_qJobs (ingest) and for one placed
 * there by `qm submit`. A folder holding HOLD_MARK is held (`qm hold` wrote
 * it: the hold outlives a wiped Redis, as the folder does).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readDescriptor, type ReadOptions } from './descriptor.js';
import { ownerOf, ownerOfStat, type OwnerStat } from './users.js';
import { parseBeginTime } from './begin-time.js';
import type { QueuedJob } from './status.js';

/** The file `qm hold` leaves in a held job's folder (removed by `qm release`). */
export const HOLD_MARK = '.qm-held';
/** In an array's folder, the hold of its task i (`qm hold NAME_i`, a task with no folder yet): `.qm-held-i`. */
export const TASK_HOLD_MARK_PREFIX = `${HOLD_MARK}-`;

/** Is this file in a job's (or an array's) folder one of those holds? */
export function isHoldMark(name: string): boolean {
  return name === HOLD_MARK || name.startsWith(TASK_HOLD_MARK_PREFIX);
}

export interface ReadJob {
  job: QueuedJob;
  /** non-fatal remarks on the descriptor (unknown #SBATCH options...) */
  warnings: string[];
  /** `#SBATCH -J` of a script (a name `qm submit` may give the job) */
  jobName: string | undefined;
}

/** Reads `dir`'s descriptor; throws a DescriptorError when it cannot be used. `folderStat`: the folder's, when the caller has it. */
export async function readQueuedJob(dir: string, name: string, jobFile: string, now = Date.now(), opts: ReadOptions & { folderStat?: OwnerStat } = {}): Promise<ReadJob> {
  const d = await readDescriptor(dir, jobFile, opts);
  const descriptorMtime = d.fileMtimeMs;
  const [owner, marked] = await Promise.all([
    opts.folderStat ? ownerOfStat(opts.folderStat) : ownerOf(dir),
    fs.access(path.join(dir, HOLD_MARK)).then(() => true, () => false),
  ]);
  const job: QueuedJob = {
    name,
    script: d.script,
    format: d.format,
    nbProc: d.nbProc,
    ...(d.ntasks !== undefined && { ntasks: d.ntasks }),
    ...(d.nbGpu > 0 && { nbGpu: d.nbGpu }),
    ...(d.memoryMb !== undefined && { memoryMb: d.memoryMb }),
    priority: d.priority,
    email: d.email,
    info: d.info,
    size: d.size,
    timeLimit: d.timeLimit,
    after: d.after,
    mailType: d.mailType,
    keys: d.keys,
    enqueuedAt: now,
    descriptorMtime,
    owner,
  };
  if (d.notices.length > 0) job.notices = d.notices;
  // where `qm submit` ran (SLURM_SUBMIT_DIR), written into the folder so that a rebuilt queue keeps it
  if (d.keys.submit_dir) job.submitDir = d.keys.submit_dir;
  if (d.keys.submit_host) job.submitHost = d.keys.submit_host;
  const task = d.keys.array ? await (await import('./arrays.js')).taskMarkOf(dir) : undefined;
  if (task) job.array = task;
  if (d.hold || marked) job.held = true;
  const beginAt = d.begin === undefined ? undefined : parseBeginTime(d.begin, now);
  if (beginAt !== undefined && beginAt > now) job.beginAt = beginAt;
  return { job, warnings: d.warnings, jobName: d.jobName };
}
