/**
 * The operations of SPEC §10, for the CLI, the monitor and Bull Board alike,
 * each refused in one line for someone else's job (ownership.ts):
 * 1. pause / resume: BullMQ's queue pause (the pick starts nothing meanwhile);
 * 2. hold / release: the folder first (HOLD_MARK written or removed: a hold
 *    outlives a wiped Redis), then Redis: a held job waits in BullMQ's
 *    delayed set, far ahead, taking no processor nor queue place; released,
 *    it goes back to the queue (or waits for its begin time); a worker that
 *    picks a job still held or not begun puts it back (worker/dependencies.ts);
 * 3. requeue: a finished or lost job queued again as a new run, from a copy
 *    of its folder without QM's files (process.log, QM_REASON.txt); the old
 *    folder stays. Same order as every transition: the folder first, then
 *    Redis (Lifecycle.queue);
 * 4. cancel, with the ownership check, through core/actions.ts;
 * 5. forget: a finished job's record and BullMQ job (Bull Board's Clean); its folder stays.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomHex } from './random-hex.js';
import type { Lifecycle } from './lifecycle.js';
import type { Logger } from './log.js';
import type { JobView, ReadModel } from './read-model.js';
import { HELD_DELAY_MS } from './bullmq-internals.js';
import { cancelJob, type CancelResult } from './actions.js';
import { chownTree, exists, stampedEntries } from './folders.js';
import { HOLD_MARK, readQueuedJob } from './queued-job.js';
import { LOG_NAME } from './process-log.js';
import { refusalFor, type Actor } from './ownership.js';
import type { JobOwner, QueuedJob } from './status.js';

/** What QM itself writes in a job folder: left out of a requeued copy. */
const QM_FILES = new Set([LOG_NAME, 'QM_REASON.txt', HOLD_MARK]);

export type OpResult = { ok: true; message: string; id?: string } | { ok: false; message: string };

const fail = (message: string): OpResult => ({ ok: false, message });

export class Operations {
  constructor(
    readonly lifecycle: Lifecycle,
    readonly model: ReadModel,
    private readonly jobFile: string,
    private readonly log: Logger,
  ) {}

  async pause(actor: Actor): Promise<OpResult> {
    await this.lifecycle.store.pause();
    this.log.info(`queue paused by ${actor.user}: no job starts until qm resume`);
    return { ok: true, message: 'paused: no job starts until qm resume; running jobs go on' };
  }

  async resume(actor: Actor): Promise<OpResult> {
    await this.lifecycle.store.resume();
    this.log.info(`queue resumed by ${actor.user}`);
    return { ok: true, message: 'resumed' };
  }

  /** Holds a queued job (`scontrol hold`). */
  async hold(name: string, actor: Actor): Promise<OpResult> {
    const found = await this.queuedJob(name, actor, 'hold');
    if ('message' in found) return found;
    const { id, data } = found;
    if (data.held) return { ok: true, message: 'already held' };
    const mark = path.join(this.lifecycle.layout.queued, name, HOLD_MARK);
    try {
      await fs.writeFile(mark, `held by ${actor.user} at ${new Date().toISOString()}\n`);
    } catch (err) {
      return fail(`${name}: cannot hold it: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it has left QM_qJobs' : (err as Error).message}`);
    }
    if (!(await this.lifecycle.store.holdQueued(id, { ...data, held: true }, Date.now() + HELD_DELAY_MS))) {
      await fs.rm(mark, { force: true });
      return fail(`${name} is no longer queued (it has started or ended)`);
    }
    this.log.info({ job: name }, `held by ${actor.user}`);
    return { ok: true, message: 'held until qm release' };
  }

  /**
   * Releases a held job (`scontrol release`); it still waits for its begin
   * time. `now` (Bull Board's Promote): it may start at once, begin time or not.
   */
  async release(name: string, actor: Actor, opts: { now?: boolean } = {}): Promise<OpResult> {
    const found = await this.queuedJob(name, actor, 'release');
    if ('message' in found) return found;
    const { job, data } = found;
    const beginAt = opts.now ? undefined : data.beginAt;
    if (!data.held && beginAt === data.beginAt) return fail(`${name} is not held`);
    await fs.rm(path.join(this.lifecycle.layout.queued, name, HOLD_MARK), { force: true });
    const { held: _held, beginAt: _begin, ...rest } = data;
    const released: QueuedJob = beginAt === undefined ? rest : { ...rest, beginAt };
    await job.updateData(released);
    const waitMs = beginAt === undefined ? 0 : beginAt - Date.now();
    const moved = waitMs > 0 ? job.changeDelay(waitMs) : job.promote();
    // no longer delayed: a worker took it meanwhile (its gate saw the new data)
    await moved.catch(() => undefined);
    this.log.info({ job: name }, `released by ${actor.user}${waitMs > 0 ? `; begins at ${new Date(beginAt!).toISOString()}` : ''}`);
    return { ok: true, message: waitMs > 0 ? `released; it begins at ${new Date(beginAt!).toISOString()}` : 'released' };
  }

  /** Cancels a queued job or kills a running one, if `actor` may. */
  async cancel(name: string, actor: Actor, by: string): Promise<CancelResult | { kind: 'refused'; message: string }> {
    const view = await this.model.current(name);
    const no = view && (await refusalFor(this.model, actor, view, 'cancel'));
    if (no) return { kind: 'refused', message: no };
    return cancelJob(this.lifecycle, name, by);
  }

  /**
   * Queues a finished (or lost) job again as a new run: its latest folder
   * (or the run `id`'s) copied into QM_qJobs without QM's files, owned as
   * the old one was. The old folder stays.
   */
  async requeue(name: string, actor: Actor, id?: string): Promise<OpResult> {
    const { store, layout } = this.lifecycle;
    const current = await this.model.current(name);
    if (current?.state === 'queued' || current?.state === 'running') return fail(`${name} is ${current.state}: only a finished job can be requeued`);
    const record = id ? (await store.records([id]))[0] : current?.state === 'done' ? current.record : undefined;
    const folder = record ? path.resolve(layout.root, record.folder) : await this.latestFolder(name);
    if (!folder) return fail(`${name}: no such job (no finished run of that name)`);
    const rel = path.relative(layout.root, folder);
    if (rel.startsWith('..') || !(await exists(folder))) return fail(`${name}: its folder ${rel} is gone: nothing to requeue`);
    const view: JobView | undefined = record ? { state: 'done', name, id: record.id, record } : undefined;
    const no = view ? await refusalFor(this.model, actor, view, 'requeue') : undefined;
    if (no) return fail(no);

    const staging = path.join(layout.queued, `.requeue-${randomHex(6)}`);
    try {
      await fs.cp(folder, staging, {
        recursive: true,
        verbatimSymlinks: true,
        filter: (src) => !(path.dirname(src) === folder && QM_FILES.has(path.basename(src))),
      });
      const st = await fs.stat(folder);
      const owner: JobOwner = record?.owner ?? { user: String(st.uid), uid: st.uid, gid: st.gid };
      if (process.getuid?.() === 0) await chownTree(staging, owner.uid, owner.gid);
      const read = await readQueuedJob(staging, name, this.jobFile);
      const now = new Date();
      await fs.rename(staging, path.join(layout.queued, name)).catch((err: NodeJS.ErrnoException) => {
        throw new Error(err.code === 'ENOTEMPTY' || err.code === 'EEXIST' ? `a job named ${name} was queued meanwhile` : err.message);
      });
      const job: QueuedJob = {
        ...read.job,
        enqueuedAt: now.getTime(),
        descriptorMtime: now.getTime(),
        notices: [...(read.job.notices ?? []), `requeued by ${actor.user} from ${rel}`],
      };
      const newId = await this.lifecycle.queue(job);
      this.log.info({ job: name }, `requeued by ${actor.user} from ${rel}`);
      return { ok: true, message: `queued again from ${rel} (the old folder stays)`, id: newId };
    } catch (err) {
      await fs.rm(staging, { recursive: true, force: true });
      return fail(`${name}: cannot requeue: ${(err as Error).message}`);
    }
  }

  /** Forgets the record and the BullMQ job of finished run `id`; its folder stays. */
  async forget(id: string, actor: Actor): Promise<OpResult> {
    const { store } = this.lifecycle;
    const [record] = await store.records([id]);
    if (record) {
      const no = await refusalFor(this.model, actor, { state: 'done', name: record.name, id, record }, 'remove');
      if (no) return fail(no);
      await store.forgetDone(record);
    }
    await store.removeJob(id);
    this.log.info({ job: record?.name ?? id }, `record forgotten by ${actor.user}${record ? ` (its folder ${record.folder} stays)` : ''}`);
    return { ok: true, message: 'record forgotten; the folder stays' };
  }

  /** The queued BullMQ job of `name` that `actor` may hold or release. */
  private async queuedJob(name: string, actor: Actor, action: string) {
    const view = await this.model.current(name);
    if (!view) return fail(`${name}: no such job`);
    if (view.state !== 'queued' || !view.id) return fail(`${name} is ${view.state === 'queued' ? 'not queued yet (still arriving)' : view.state}: only a queued job can be ${action === 'hold' ? 'held' : 'released'}`);
    if (view.phase === 'starting') return fail(`${name} is starting: too late to ${action} it`);
    const no = await refusalFor(this.model, actor, view, action);
    if (no) return fail(no);
    const job = await this.lifecycle.store.job(view.id);
    if (!job) return fail(`${name} is no longer queued`);
    return { id: view.id, job, data: job.data };
  }

  private async latestFolder(name: string): Promise<string | undefined> {
    const { layout } = this.lifecycle;
    const found = [
      ...(await stampedEntries(layout.done, name)).map((e) => ({ e, dir: layout.done })),
      ...(await stampedEntries(layout.lost, name)).map((e) => ({ e, dir: layout.lost })),
    ].sort((a, b) => a.e.localeCompare(b.e));
    const newest = found.at(-1);
    return newest && path.join(newest.dir, newest.e);
  }
}
