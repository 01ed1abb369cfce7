/**
 * Puts a job that was running back in the queue, once its folder is back in
 * QM_qJobs (SPEC §4: `shutdown = requeue`, `on_worker_loss = requeue`).
 * 1. The same BullMQ job goes back to waiting while its lock token still
 *    holds, counting the requeue in its data (`on_worker_loss` requeues once).
 * 2. Otherwise (lock lapsed, Redis wiped) its name is forgotten, so that
 *    ingest queues the folder again as a new job; if the old job still comes
 *    back, whichever claims the folder first runs it, the other finds nothing.
 */
import type { JobStore } from '../core/jobstore.js';
import type { QueuedJob } from '../core/status.js';

export interface RequeueTarget {
  id: string;
  name: string;
  /** the lock token the job is held with, when known */
  token?: string;
}

/**
 * Returns true when the same job went back to waiting, false when ingest will
 * queue it anew. `afterLoss`: counts against `on_worker_loss = requeue`'s one
 * requeue (a clean shutdown does not).
 */
export async function requeueInRedis(store: JobStore, target: RequeueTarget, afterLoss: boolean): Promise<boolean> {
  await store.forgetRunning(target.id);
  const job = await store.job(target.id).catch(() => undefined);
  if (job && target.token) {
    try {
      if (afterLoss) await job.updateData({ ...job.data, requeues: (job.data.requeues ?? 0) + 1 } satisfies QueuedJob);
      await job.moveToWait(target.token);
      await store.markQueued(target.name, target.id);
      return true;
    } catch {
      // the lock lapsed meanwhile: fall back to a new job
    }
  }
  await store.forgetName(target.name, target.id);
  return false;
}

/** How many times the job was requeued already (0 when Redis does not know it any more). */
export async function requeueCount(store: JobStore, id: string): Promise<number> {
  const job = await store.job(id).catch(() => undefined);
  return job?.data.requeues ?? 0;
}
