/**
 * A worker's hold on a job the picker made active, and the claim (SPEC §3).
 * 1. hold: the BullMQ job with its lock kept alive.
 * 2. claim: the rename QM_qJobs/NAME → QM_Jobs/NAME, the commit point; when
 *    it fails the job is delayed (same name running), or dropped (cancelled,
 *    deleted, not ours to move, or handed back by BullMQ while its worker or
 *    the lost-worker check still owns it).
 * 3. release: back to the queue, now or in 2 s.
 */
import type { Job, Worker } from 'bullmq';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { JobStore } from '../core/jobstore.js';
import type { Layout } from '../core/folders.js';
import type { Logger } from '../core/log.js';
import type { QueuedJob } from '../core/status.js';
import { jobFromHash, type JobHash } from './pick.js';

export const LOCK_MS = 20_000;

export interface Held {
  job: Job<QueuedJob>;
  token: string;
  lockTimer: NodeJS.Timeout;
}

export class Claims {
  constructor(
    private readonly bull: Worker,
    private readonly store: JobStore,
    private readonly layout: Layout,
    private readonly log: Logger,
  ) {}

  /**
   * The job the picker made active under `token` (its hash as the picker read
   * it), with its lock kept alive; undefined if it vanished.
   */
  hold(id: string, token: string, hash: JobHash): Held | undefined {
    const job = jobFromHash<QueuedJob>(this.bull, hash, id);
    if (!job) {
      this.log.debug(`job ${id} vanished before it started`);
      return undefined;
    }
    const lockTimer = setInterval(() => void job.extendLock(token, LOCK_MS).catch(() => undefined), LOCK_MS / 4);
    return { job, token, lockTimer };
  }

  /** A job recorded as running that BullMQ handed back (its worker was lost): left to its worker or the lost-worker check. */
  async recover(id: string, token: string, hash: JobHash): Promise<void> {
    const held = this.hold(id, token, hash);
    if (held) await this.settleUnclaimed(held);
  }

  /** The rename into QM_Jobs; false when the job is not to run here. */
  async claim(held: Held): Promise<boolean> {
    const name = held.job.data.name;
    try {
      await fs.rename(path.join(this.layout.queued, name), path.join(this.layout.running, name));
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        // a job of the same name is running: this one waits for it
        this.log.info({ job: name }, 'a job of this name is running; retrying in 2 s');
        await this.release(held, 'delay');
        return false;
      }
      if (code !== 'ENOENT') {
        // not ours to move (permissions...): out of the queue; ingest says why once
        this.log.error({ job: name }, `cannot claim: ${(err as Error).message}`);
        await this.drop(held, { refused: code });
        return false;
      }
    }
    await this.settleUnclaimed(held);
    return false;
  }

  /** The folder was not in QM_qJobs: the job runs elsewhere, has ended, or was cancelled meanwhile. */
  async settleUnclaimed(held: Held): Promise<void> {
    const { job } = held;
    const name = job.data.name;
    if (await this.store.runningInfo(job.id!)) {
      // BullMQ handed back a running job (its lock lapsed): its worker, or the lost-worker check, ends it
      this.log.debug({ job: name }, 'handed back while running: left to its worker');
    } else if (await this.store.isDone(job.id!)) {
      this.log.debug({ job: name }, 'handed back after it ended: nothing to do');
    } else {
      this.log.info({ job: name }, 'folder no longer queued (cancelled or deleted): dropped');
    }
    await this.drop(held, { dropped: true });
  }

  /** Takes a fetched job out of the queue without running it. */
  private async drop(held: Held, result: object): Promise<void> {
    clearInterval(held.lockTimer);
    await this.store.forgetName(held.job.data.name, held.job.id!);
    await held.job.moveToCompleted(result, held.token, false).catch(() => undefined);
  }

  async release(held: Held, how: 'wait' | 'delay'): Promise<void> {
    clearInterval(held.lockTimer);
    if (how === 'wait') await held.job.moveToWait(held.token).catch(() => undefined);
    else await held.job.moveToDelayed(Date.now() + 2000, held.token).catch(() => undefined);
  }
}
