/**
 * What a worker does around a job besides running it (issue 5):
 * 1. before the claim, checks its `after` jobs (dependencies.ts): a job that
 *    must not run now is put aside or ended, and its lock is let go;
 * 2. records its end and mails it (mail.ts), when it wants a mail;
 * 3. on close, waits for the mails still being sent.
 */
import type { Job } from 'bullmq';
import type { JobStore } from '../core/jobstore.js';
import type { Layout } from '../core/folders.js';
import type { Logger } from '../core/log.js';
import type { Settings } from '../core/settings-types.js';
import type { DoneRecord, QueuedJob } from '../core/status.js';
import { DependencyGate } from './dependencies.js';
import { JobMailer } from './mail.js';

/** A picked job as the worker holds it: made active under `token`, its lock kept alive by `lockTimer`. */
export interface HeldJob {
  job: Job<QueuedJob>;
  token: string;
  lockTimer: NodeJS.Timeout;
}

export class JobHooks {
  private readonly mailer: JobMailer | undefined;
  private readonly gate: DependencyGate;

  constructor(settings: Settings, private readonly store: JobStore, layout: Layout, log: Logger) {
    this.mailer = JobMailer.create(settings, log);
    this.gate = new DependencyGate(store, layout, log, (record, job) => this.mailer?.notify(record, job.mailType));
  }

  /** True when the job must not run now (put aside, or ended as `dependency failed`). */
  async holdsBack(held: HeldJob): Promise<boolean> {
    const holds = await this.gate.holds(held.job, held.token);
    if (holds) clearInterval(held.lockTimer);
    return holds;
  }

  /** Records a job's end, then mails it. */
  async recordEnd(record: DoneRecord, job: QueuedJob): Promise<void> {
    await this.store.recordDone(record);
    this.mailer?.notify(record, job.mailType);
  }

  async close(): Promise<void> {
    await this.mailer?.close();
  }
}
