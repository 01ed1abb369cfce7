/**
 * A worker's hold on a job the picker made active, and its claim (SPEC §3).
 * 1. hold: the BullMQ job with its lock kept alive.
 * 2. claim: the rename QM_qJobs/NAME → QM_Jobs/NAME (lifecycle.claim), the
 *    commit point; when it fails the job is delayed (same name running), or
 *    dropped (cancelled, deleted, not ours to move, or handed back by BullMQ
 *    while its worker or the lost-worker check still owns it).
 * 3. release: back to the queue, now or in 2 s.
 */
import type { Job } from 'bullmq';
import type { Lifecycle } from '../core/lifecycle.js';
import type { Logger } from '../core/log.js';
import type { QueuedJob } from '../core/status.js';

export const LOCK_MS = 20_000;

export interface Held {
  job: Job<QueuedJob>;
  token: string;
  lockTimer: NodeJS.Timeout;
}

export class Claims {
  constructor(
    private readonly lifecycle: Lifecycle,
    private readonly log: Logger,
  ) {}

  /** The job the picker made active under `token`, with its lock kept alive. */
  hold(job: Job<QueuedJob>, token: string): Held {
    const lockTimer = setInterval(() => void job.extendLock(token, LOCK_MS).catch(() => undefined), LOCK_MS / 4);
    return { job, token, lockTimer };
  }

  /** A job recorded as running that BullMQ handed back (its worker was lost): left to its worker or the lost-worker check. */
  async recover(job: Job<QueuedJob>, token: string): Promise<void> {
    await this.settleUnclaimed(this.hold(job, token));
  }

  /** The rename into QM_Jobs; false when the job is not to run here. */
  async claim(held: Held): Promise<boolean> {
    const name = held.job.data.name;
    const result = await this.lifecycle.claim(name, { job: held.job.data, id: held.job.id! });
    if (result === 'claimed') return true;
    if (result === 'busy') {
      this.log.info({ job: name }, 'a job of this name is running; retrying in 2 s');
      await this.release(held, 'delay');
    } else if (result === 'gone') {
      await this.settleUnclaimed(held);
    } else {
      // not ours to move (permissions...): out of the queue; ingest says why once
      this.log.error({ job: name }, `cannot claim: ${result.refused}`);
      clearInterval(held.lockTimer);
      await this.lifecycle.drop(held);
    }
    return false;
  }

  /** The folder was not in QM_qJobs: the job runs elsewhere, has ended, or was cancelled meanwhile. */
  private async settleUnclaimed(held: Held): Promise<void> {
    const { job } = held;
    const name = job.data.name;
    const store = this.lifecycle.store;
    const running = (await store.runningInfo(job.id!)) !== undefined;
    if (running) {
      // BullMQ handed back a running job (its lock lapsed): its worker, or the lost-worker check, ends it
      this.log.debug({ job: name }, 'handed back while running: left to its worker');
    } else if (await store.isDone(job.id!)) {
      this.log.debug({ job: name }, 'handed back after it ended: nothing to do');
    } else {
      this.log.info({ job: name }, 'folder no longer queued (cancelled or deleted): dropped');
    }
    clearInterval(held.lockTimer);
    await this.lifecycle.drop(held, running);
  }

  async release(held: Held, how: 'wait' | 'delay'): Promise<void> {
    clearInterval(held.lockTimer);
    if (how === 'wait') await held.job.moveToWait(held.token).catch(() => undefined);
    else await held.job.moveToDelayed(Date.now() + 2000, held.token).catch(() => undefined);
  }
}
