/**
 * What a worker says of a job it starts: its running entry in Redis (the
 * read model, the lost-worker check and `qm status` read it) and the
 * `started` line of its log.
 */
import type { Job } from 'bullmq';
import { pidSpace } from '../core/liveness.js';
import { describeRequest } from '../core/resources.js';
import type { QueuedJob, RunningInfo } from '../core/status.js';
import type { Grant } from './budget.js';

/** Who runs it: this worker's process. */
export interface Runner {
  worker: string;
  instance: string;
  host: string;
}

export function runningEntry(job: Job<QueuedJob>, token: string, grant: Grant, runner: Runner, startedAt: Date): RunningInfo {
  const data = job.data;
  return {
    id: job.id!,
    name: data.name,
    ...runner,
    pid: process.pid,
    pidSpace,
    token,
    nbProc: grant.nbProc,
    cpus: grant.cpus,
    startedAt: startedAt.getTime(),
    enqueuedAt: data.enqueuedAt,
    info: data.info,
    email: data.email,
    ...(grant.gpus.length > 0 && { gpus: grant.gpus }),
    ...(grant.memoryMb > 0 && { memoryMb: grant.memoryMb }),
    ...(data.owner && { owner: data.owner }),
    ...(data.array && { array: data.array }),
  };
}

/** `started (2 processors, cpus 0,1, 1 GPU, 4 GB: GPUs 3) as ann`. */
export function startedLine(data: QueuedJob, grant: Grant, userName: string | undefined): string {
  const { nbProc, cpus, gpus } = grant;
  const extra = describeRequest(gpus.length, data.memoryMb === undefined ? undefined : grant.memoryMb);
  return (
    `started (${nbProc} processor${nbProc > 1 ? 's' : ''}${cpus.length ? `, cpus ${cpus.join(',')}` : ''}` +
    `${extra ? `, ${extra}` : ''}${gpus.length ? `: GPUs ${gpus.join(',')}` : ''})${userName ? ` as ${userName}` : ''}`
  );
}
