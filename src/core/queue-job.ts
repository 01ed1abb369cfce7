/**
 * The first transition of a job's life (lifecycle.ts): queueing it, for
 * ingest and `qm submit`, which needs nothing else of the lifecycle (nor
 * arrays.ts, unless it queues an array).
 */
import type { JobStore } from './jobstore.js';
import type { Layout } from './folders.js';
import { DEPENDENCY_RECHECK_MS, dependencyOf, dependencyVerdict, hasDependencies } from './dependencies.js';
import { isArrayTemplate } from './job-array.js';
import { resolveSingleton } from './singleton.js';
import { delayBeforePick } from './bullmq-internals.js';
import type { QueuedJob } from './status.js';

/**
 * Queue: its id, or undefined when a job of that name is queued already. One
 * whose `after` jobs are still pending is put aside until the first of them
 * ends; one whose dependency failed is queued as usual: the worker that picks
 * it ends it (notRun). A held job, or one whose begin time is ahead, waits in
 * BullMQ's delayed set (no processor, no queue place) until released or due;
 * its dependencies are checked then.
 */
export async function queueJob(store: JobStore, layout: Layout, job: QueuedJob): Promise<string | undefined> {
  await resolveSingleton(store, job);
  // an array: its tasks, held ones (or not begun) in the delayed set, each put aside for its dependencies when a worker picks it
  if (isArrayTemplate(job)) return (await import('./arrays.js')).queueArray(store, layout, job);
  const waitMs = delayBeforePick(job);
  if (waitMs > 0) return store.enqueue(job, { delayMs: waitMs });
  const dependency = dependencyOf(job);
  const verdict = hasDependencies(job) ? await dependencyVerdict(store, layout, dependency) : { kind: 'run' as const };
  if (verdict.kind !== 'wait') return store.enqueue(job);
  const id = await store.enqueue(job, { until: verdict.name, delayMs: DEPENDENCY_RECHECK_MS });
  for (const name of verdict.names.slice(1)) if (id) await store.addDependent(name, id);
  // it may have ended between the check and the registration, before it could wake this job
  if (id && (await dependencyVerdict(store, layout, dependency)).kind !== 'wait') await (await store.job(id))?.promote().catch(() => undefined);
  return id;
}

/**
 * Queue several (the entries that settled together), in this order, each as
 * queueJob would; a run of jobs with nothing to wait for (no array, hold,
 * begin time or dependency) goes in two round trips.
 */
export async function queueJobs(store: JobStore, layout: Layout, jobs: QueuedJob[]): Promise<Array<string | undefined>> {
  const ids: Array<string | undefined> = [];
  let plain: QueuedJob[] = [];
  const flush = async () => {
    if (plain.length > 0) ids.push(...(await store.enqueueMany(plain)));
    plain = [];
  };
  for (const job of jobs) {
    if (!isArrayTemplate(job) && !job.held && job.beginAt === undefined && !hasDependencies(job)) {
      plain.push(job);
      continue;
    }
    await flush();
    ids.push(await queueJob(store, layout, job));
  }
  await flush();
  return ids;
}
