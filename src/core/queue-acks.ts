/**
 * What BullMQ is told when a job ends, the lifecycle's step after the record:
 * Completed for a success; Failed, with the outcome as its reason, for every
 * other end, so that Bull Board's tabs say how each job ended.
 */
import type { Job } from 'bullmq';
import type { Logger } from './log.js';
import { describeOutcome, succeeded, type DoneRecord, type QueuedJob } from './status.js';

/** The job held under `token` ended as `record` says. */
export async function acknowledge(job: Job<QueuedJob>, token: string, record: DoneRecord, log: Logger): Promise<void> {
  const acked = succeeded(record.outcome)
    ? job.moveToCompleted(record, token, false)
    : job.moveToFailed(failure(describeOutcome(record.outcome)), token, false);
  await acked.catch((err: Error) => log.debug({ job: record.name }, `bullmq acknowledgement: ${err.message}`));
}

/** A job whose worker vanished after moving its folder on, before recording it: Failed, `lost: why`. */
export async function failAsLost(job: Job<QueuedJob>, token: string, why: string): Promise<void> {
  await job.moveToFailed(failure(`lost: ${why}`), token, false).catch(() => undefined);
}

/** The error BullMQ keeps as a failed job's reason; no JS stack (it would be QM's, not the job's). */
function failure(reason: string): Error {
  const err = new Error(reason);
  err.stack = '';
  return err;
}
