/**
 * Every transition of a job's life, each one function that does the whole
 * step in a fixed order: the folder move (the commit point), QM's lines in
 * process.log, the record, the Redis write (one script), the BullMQ
 * acknowledgement (Completed for a success, Failed with the outcome as its
 * reason for every other end: queue-acks.ts), the mail.
 *   queue → claim → start → finish          (a run)
 *   queue → cancelQueued | notRun           (ended before it ran)
 *   running → lose | putBack                (its worker vanished, or shutdown = requeue)
 *   queued | done → delete                  (the monitor's delete)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomHex } from './random-hex.js';
import type { Job } from 'bullmq';
import type { JobStore } from './jobstore.js';
import { newJobId } from './jobstore.js';
import { backInQueue, exists, moveStamped, moveToLostFound, removeFolder, type Layout } from './folders.js';
import { acknowledge, failAsLost } from './queue-acks.js';
import { cancelTask, claimTask, taskNotRun, type TaskEnds } from './arrays.js';
import { queueJob, queueJobs } from './queue-job.js';
import type { Logger } from './log.js';
import type { JobMailer } from './mail.js';
import { appendFooter, appendLine, cancelledLine, logPathOf, lostLine, notRunLine, unwritableLogReason, type RunEnd } from './process-log.js';
import { reportedTimeIn } from './progress.js';
import { doneRecord, runOutcome } from './records.js';
import type { DoneRecord, QueuedJob, RunningInfo } from './status.js';

/** A job the queue handed to this process: active in BullMQ under `token`. */
export interface Held {
  job: Job<QueuedJob>;
  token: string;
}

/** A run that has ended, as the worker saw it. */
export interface EndedRun {
  held: Held;
  info: RunningInfo;
  end: RunEnd;
  cpu: number | undefined;
  /** its footer is in process.log (the launcher wrote it), with the last `time: N` the job reported */
  logged?: { reportedTime?: number } | undefined;
  /** true when another process took the job from this worker meanwhile (it must not touch the folder) */
  abandoned: boolean;
}

export type ClaimResult = 'claimed' | 'busy' | 'gone' | { refused: string };

/** How long a lock taken to end a queued job unrun lasts. */
const END_LOCK_MS = 30_000;

export class Lifecycle {
  constructor(
    readonly store: JobStore,
    readonly layout: Layout,
    private readonly log: Logger,
    private readonly mailer?: JobMailer,
  ) {}

  // --- a run -------------------------------------------------------------------

  /** Queue (ingest, `qm submit`): see queue-job.ts. */
  async queue(job: QueuedJob): Promise<string | undefined> {
    return queueJob(this.store, this.layout, job);
  }

  /** Queue the entries that settled together, in this order: see queue-job.ts. Each one's id. */
  async queueAll(jobs: QueuedJob[]): Promise<Array<string | undefined>> {
    return queueJobs(this.store, this.layout, jobs);
  }

  /**
   * Claim: the rename QM_qJobs/NAME → QM_Jobs/NAME (an array's task: its
   * folder made from the template). `busy`: a job of that name runs; `gone`:
   * not queued any more.
   */
  async claim(name: string, task?: { job: QueuedJob; id: string }): Promise<ClaimResult> {
    if (task?.job.array) return claimTask(this.store, this.layout, task.job, task.id).catch((err: Error) => ({ refused: err.message }));
    try {
      await fs.rename(path.join(this.layout.queued, name), path.join(this.layout.running, name));
      return 'claimed';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'busy';
      if (code === 'ENOENT') return 'gone';
      return { refused: (err as Error).message };
    }
  }

  /** Start: the claimed job is running (its entry in Redis), and the jobs waiting for it to start (`after`) woken: one round trip. */
  async start(info: RunningInfo): Promise<void> {
    await this.store.markRunning(info);
  }

  /**
   * A started job whose process.log its launcher could not open for writing
   * (`code`: EISDIR, EACCES...): to QM_lost+found at once, with why. The
   * launcher's open is the check: no extra open before each start.
   */
  async unwritableLog(held: Held, info: RunningInfo, code: string): Promise<DoneRecord> {
    return this.lose(held, info, path.join(this.layout.running, info.name), unwritableLogReason(code));
  }

  /**
   * Finish: the footer (unless the launcher wrote it), the folder to
   * QM_dJobs (back to QM_qJobs when it was stopped to be requeued), the
   * record, the acknowledgement, the mail. Returns the record; undefined
   * when the job went back to the queue.
   */
  async finish(run: EndedRun): Promise<DoneRecord | undefined> {
    const { info, end } = run;
    const dir = path.join(this.layout.running, info.name);
    const reportedTime = run.logged ? run.logged.reportedTime : reportedTimeIn(appendFooter(logPathOf(dir), end, run.held.job.data.owner));
    if (end.stop?.kind === 'abandoned' || run.abandoned) {
      throw new Error('declared lost while this worker could not reach Redis: its folder was moved on by another process, nothing recorded here');
    }
    if (end.stop?.kind === 'requeue' && (await backInQueue(this.layout, dir, info.name))) {
      const same = await this.requeueInRedis(run.held, info, false);
      this.log.info({ job: info.name }, `stopped and put back in QM_qJobs${same ? '' : ' (to be queued again)'}`);
      return undefined;
    }
    const target = await moveStamped(dir, this.layout.done, info.name, end.endedAt).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      throw new Error('its folder left QM_Jobs while it ran (declared lost while this worker was unreachable, or moved by hand): not recorded');
    });
    const data = run.held.job.data;
    const record = doneRecord({
      id: info.id,
      name: info.name,
      job: data,
      run: { startedAt: info.startedAt, worker: info.worker, host: info.host, nbProc: info.nbProc, gpus: info.gpus, memoryMb: info.memoryMb },
      endedAt: end.endedAt.getTime(),
      cpu: run.cpu,
      reportedTime,
      folder: this.relative(target),
      outcome: runOutcome(end.code, end.stop, end.outOfMemoryMb),
    });
    await this.ended(record, run.held, data.mailType);
    return record;
  }

  // --- ended before it ran ---------------------------------------------------------

  /**
   * Cancel before start: QM_qJobs → QM_dJobs with `Job cancelled by`. Undefined
   * when the folder was not in QM_qJobs (a worker claimed it a moment ago).
   */
  async cancelQueued(name: string, by: string): Promise<DoneRecord | undefined> {
    const id = await this.store.queuedId(name);
    // taken first (active under a lock of its own): neither a worker's pick nor ingest's unqueue can touch it now
    const token = `cancel:${randomHex(6)}`;
    const taken = id ? await this.store.takeQueued(id, token, END_LOCK_MS) : undefined;
    const held = taken && { job: taken, token };
    const job = taken ?? (id ? await this.store.job(id) : undefined);
    const now = new Date();
    const folder = path.join(this.layout.queued, name);
    // the line goes in before the move, so the folder is never seen in QM_dJobs without it;
    // when it is taken here, as then no worker can claim the folder meanwhile
    const lineFirst = held !== undefined;
    let target: string;
    try {
      if (lineFirst) await appendLine(folder, cancelledLine(by, now));
      target = await moveStamped(folder, this.layout.done, name, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // claimed by a worker a moment before (then not taken here), or deleted
      if (held) await this.drop(held);
      return undefined;
    }
    if (!lineFirst) await appendLine(target, cancelledLine(by, now));
    const record = doneRecord({
      id: id ?? `cancelled-${newJobId()}`,
      name,
      job: job?.data,
      endedAt: now.getTime(),
      folder: this.relative(target),
      outcome: { kind: 'cancelled', by },
    });
    await this.ended(record, held, job?.data.mailType ?? []);
    return record;
  }

  /**
   * Cancel a queued task of an array (it has no folder of its own yet).
   * Undefined when a worker took it meanwhile.
   */
  async cancelQueuedTask(name: string, by: string): Promise<DoneRecord | undefined> {
    return cancelTask(this.taskEnds(), name, by, END_LOCK_MS);
  }

  /** Not run: a dependency failed. The line is written before the move, so the folder is never seen without it. */
  async notRun(held: Held, dependency: string, why: string): Promise<DoneRecord | undefined> {
    const data = held.job.data;
    const now = new Date();
    const folder = path.join(this.layout.queued, data.name);
    if (data.array && !(await exists(folder))) {
      this.log.info({ job: data.name }, `not run: dependency ${dependency} ${why}`);
      return taskNotRun(this.taskEnds(), held, dependency, why, now);
    }
    let target: string;
    try {
      await appendLine(folder, notRunLine(dependency, why, now));
      target = await moveStamped(folder, this.layout.done, data.name, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.drop(held);
      return undefined;
    }
    const record = doneRecord({
      id: held.job.id!,
      name: data.name,
      job: data,
      endedAt: now.getTime(),
      folder: this.relative(target),
      outcome: { kind: 'dependencyFailed', dependency },
    });
    await this.ended(record, held, data.mailType);
    this.log.info({ job: data.name }, `not run: dependency ${dependency} ${why} → ${record.folder}`);
    return record;
  }

  /**
   * A held job whose folder left QM_qJobs before its claim (cancelled, deleted,
   * or handed back by BullMQ after it ended): acknowledged as its record says,
   * or removed when it has none. `stillRunning`: BullMQ handed back a job
   * that runs elsewhere; its lock is let go and its run acknowledges nothing more.
   */
  async drop(held: Held, stillRunning = false): Promise<void> {
    const { job, token } = held;
    await this.store.forgetName(job.data.name, job.id!);
    const [record] = await this.store.records([job.id!]);
    if (record) return acknowledge(held.job, held.token, record, this.log);
    await job.moveToCompleted({ dropped: true }, token, false).catch(() => undefined);
    if (!stillRunning) await this.store.removeJob(job.id!);
  }

  // --- its worker vanished, or it is put back --------------------------------------

  /** Lose: `Job lost at:`, QM_REASON.txt, QM_lost+found, the record, Failed in BullMQ. */
  async lose(held: Held | undefined, info: RunningInfo, folder: string, reason: string): Promise<DoneRecord> {
    await appendLine(folder, lostLine(reason, new Date())).catch(() => undefined);
    const target = await moveToLostFound(this.layout, folder, info.name, reason);
    const job = held?.job ?? (await this.store.job(info.id).catch(() => undefined));
    const record = doneRecord({
      id: info.id,
      name: info.name,
      job: job?.data ?? info,
      run: { startedAt: info.startedAt, worker: info.worker, host: info.host, nbProc: info.nbProc },
      endedAt: Date.now(),
      folder: this.relative(target),
      outcome: { kind: 'lost', reason },
    });
    const token = held?.token ?? info.token;
    await this.ended(record, job && token ? { job, token } : undefined, job?.data.mailType ?? []);
    this.log.warn({ job: info.name }, `${reason}; moved to ${record.folder}`);
    return record;
  }

  /** A folder in QM_Jobs that no running entry names any more (Redis lost it): to QM_lost+found, with a record. */
  async loseUnowned(name: string, reason: string): Promise<void> {
    const target = await moveToLostFound(this.layout, path.join(this.layout.running, name), name, reason);
    const record = doneRecord({ id: `lost-${newJobId()}`, name, endedAt: Date.now(), folder: this.relative(target), outcome: { kind: 'lost', reason } });
    await this.store.recordEnd(record);
    this.log.warn({ job: name }, `${reason}; moved to ${record.folder}`);
  }

  /**
   * Put back: a running job's folder to QM_qJobs (its worker was lost, with
   * on_worker_loss = requeue); false when a queued job of that name is in the way.
   */
  async putBack(info: RunningInfo, reason: string): Promise<boolean> {
    if (!(await backInQueue(this.layout, path.join(this.layout.running, info.name), info.name))) return false;
    await appendLine(path.join(this.layout.queued, info.name), lostLine(reason, new Date())).catch(() => undefined);
    const job = await this.store.job(info.id).catch(() => undefined);
    await this.requeueInRedis(job && info.token ? { job, token: info.token } : undefined, info, true);
    this.log.warn({ job: info.name }, `${reason}; requeued (once)`);
    return true;
  }

  /** The worker died after moving the folder on, before recording it: its entry and BullMQ job are let go. */
  async forgetVanished(info: RunningInfo, why: string): Promise<void> {
    await this.store.forgetRunning(info.id);
    const job = await this.store.job(info.id).catch(() => undefined);
    if (job && info.token) await failAsLost(job, info.token, why);
  }

  // --- the monitor's delete --------------------------------------------------------

  /** A queued job and its folder (renamed hidden first: that wins or loses against a claim). False when it had left. */
  async deleteQueued(name: string): Promise<boolean> {
    if (!(await removeFolder(path.join(this.layout.queued, name)))) return false;
    await this.store.dropQueued(name);
    return true;
  }

  /** A done job: its folder (in QM_dJobs or QM_lost+found), its record and its BullMQ job. */
  async deleteDone(record: DoneRecord, folder: string): Promise<void> {
    await removeFolder(folder);
    await this.store.forgetDone(record);
    await this.store.removeJob(record.id);
  }

  // --- shared steps ----------------------------------------------------------------

  /** What the ends of an array's tasks without a folder (arrays.ts) need of this lifecycle. */
  private taskEnds(): TaskEnds {
    return { store: this.store, layout: this.layout, ended: (record, held, mailType) => this.ended(record, held, mailType) };
  }

  /** The record written, BullMQ told, the mail sent: the end of every transition that ends a job. */
  private async ended(record: DoneRecord, held: Held | undefined, mailType: string[]): Promise<void> {
    // (with the jobs waiting for it, and for a task those waiting for its array: `after ARRAY` waits for every task)
    await this.store.recordEnd(record);
    if (held) await acknowledge(held.job, held.token, record, this.log);
    this.mailer?.notify(record, mailType);
  }

  /**
   * Its folder back in QM_qJobs: the same BullMQ job goes back to waiting while
   * its lock holds (counting the requeue when its worker was lost:
   * on_worker_loss requeues once); otherwise its name is forgotten and ingest
   * queues the folder anew. True when the same job waits again.
   */
  private async requeueInRedis(held: Held | undefined, info: RunningInfo, afterLoss: boolean): Promise<boolean> {
    await this.store.forgetRunning(info.id);
    if (held) {
      try {
        const { job } = held;
        if (afterLoss) await job.updateData({ ...job.data, requeues: (job.data.requeues ?? 0) + 1 } satisfies QueuedJob);
        await job.moveToWait(held.token);
        await this.store.markQueued(info.name, info.id);
        return true;
      } catch {
        // the lock lapsed meanwhile: a new job
      }
    }
    await this.store.forgetName(info.name, info.id);
    return false;
  }

  private relative(target: string): string {
    return path.relative(this.layout.root, target);
  }
}
