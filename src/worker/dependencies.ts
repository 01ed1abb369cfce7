/**
 * Checks a picked job's `after` jobs (SPEC §2, §3) before it is claimed; the
 * processors reserved for it are given back at once when it does not run.
 * (A job whose dependencies were pending when it was queued was put aside
 * then — core/dependencies.ts; this check is for the rest.)
 * 1. all finished with code 0: it runs;
 * 2. one is still queued or running: the job is put aside (BullMQ delayed)
 *    and woken when that one finishes (JobStore.recordDone); a slow re-check
 *    is only a safety net;
 * 3. one failed, was cancelled, timed out, was lost or is unknown: the job is
 *    not run; it goes to QM_dJobs marked `dependency failed`, with a line in
 *    its process.log and a done record.
 */
import type { Job } from 'bullmq';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { JobStore } from '../core/jobstore.js';
import { moveStamped, type Layout } from '../core/folders.js';
import type { Logger } from '../core/log.js';
import { DEPENDENCY_RECHECK_MS, dependencyVerdict } from '../core/dependencies.js';
import type { DoneRecord, QueuedJob } from '../core/status.js';

export class DependencyGate {
  constructor(
    private readonly store: JobStore,
    private readonly layout: Layout,
    private readonly log: Logger,
    /** called with the record of a job that will not run (to mail it) */
    private readonly onNotRun: (record: DoneRecord, job: QueuedJob) => void,
  ) {}

  /** True when the job must not run now: it was put aside, or ended without running. */
  async holds(job: Job<QueuedJob>, token: string): Promise<boolean> {
    if ((job.data.after ?? []).length === 0) return false;
    try {
      return await this.check(job, token);
    } catch (err) {
      // cannot tell now (Redis away?): look again shortly, never run it unchecked
      this.log.warn({ job: job.data.name }, `dependencies not checked: ${(err as Error).message}; retrying`);
      await job.moveToDelayed(Date.now() + 2_000, token).catch(() => undefined);
      return true;
    }
  }

  private async check(job: Job<QueuedJob>, token: string): Promise<boolean> {
    const after = job.data.after;
    const verdict = await dependencyVerdict(this.store, this.layout, after);
    if (verdict.kind === 'run') return false;
    if (verdict.kind === 'fail') {
      await this.notRun(job, token, verdict.name, verdict.why);
      return true;
    }
    await this.store.addDependent(verdict.name, job.id!);
    await job.moveToDelayed(Date.now() + DEPENDENCY_RECHECK_MS, token);
    // it may have finished between the check and the move, before it could wake this job
    if ((await dependencyVerdict(this.store, this.layout, after)).kind !== 'wait') await job.promote().catch(() => undefined);
    this.log.info({ job: job.data.name }, `waiting for ${verdict.name} to finish`);
    return true;
  }

  private async notRun(job: Job<QueuedJob>, token: string, dependency: string, why: string): Promise<void> {
    const data = job.data;
    const now = new Date();
    const folder = path.join(this.layout.queued, data.name);
    let target: string;
    try {
      // written before the move, so the folder is never seen in QM_dJobs without it
      await fs.appendFile(path.join(folder, 'process.log'), `Job not run: dependency failed: ${dependency} (${why}), at: ${now.toISOString()}\n`);
      target = await moveStamped(folder, this.layout.done, data.name, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // cancelled or deleted meanwhile: whoever did it has recorded it
      await this.store.forgetName(data.name, job.id!);
      await job.moveToCompleted({ dropped: true }, token, false).catch(() => undefined);
      return;
    }
    const record: DoneRecord = {
      id: job.id!,
      name: data.name,
      info: data.info,
      email: data.email,
      nbProc: data.nbProc,
      priority: data.priority,
      enqueuedAt: data.enqueuedAt,
      endedAt: now.getTime(),
      folder: path.relative(this.layout.root, target),
      outcome: { kind: 'dependencyFailed', dependency },
    };
    await this.store.recordDone(record);
    await job.moveToCompleted(record, token, false).catch(() => undefined);
    this.log.info({ job: data.name }, `not run: dependency ${dependency} ${why} → ${record.folder}`);
    this.onNotRun(record, data);
  }
}
