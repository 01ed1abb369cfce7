/**
 * The operations of SPEC §10, for the CLI, the monitor and Bull Board alike,
 * each refused in one line for someone else's job (ownership.ts):
 * 1. pause / resume: BullMQ's queue pause (the pick starts nothing meanwhile);
 * 2. hold / release: the folder first (HOLD_MARK written or removed: a hold
 *    outlives a wiped Redis), then Redis: a held job waits in BullMQ's
 *    delayed set, far ahead, taking no processor nor queue place; released,
 *    it goes back to the queue (or waits for its begin time); a worker that
 *    picks a job still held or not begun puts it back (worker/dependencies.ts);
 *    an array's name: every queued task, its mark in the array's folder (as
 *    is a queued task's own, `.qm-held-i`: it has no folder yet);
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
import { ARRAY_MARK } from './arrays.js';
import { chownTree, exists, stampedEntries } from './folders.js';
import { HOLD_MARK, TASK_HOLD_MARK_PREFIX, isHoldMark, readQueuedJob } from './queued-job.js';
import { LOG_NAME } from './process-log.js';
import { refusal, refusalFor, type Actor } from './ownership.js';
import { ownerOf } from './users.js';
import { taskName } from './job-array.js';
import type { Job } from 'bullmq';
import type { JobOwner, QueuedJob } from './status.js';

/** What QM itself writes in a job folder: left out of a requeued copy. */
const QM_FILES = new Set([LOG_NAME, 'QM_REASON.txt', ARRAY_MARK]);
/** (an array's requeued folder is a new array: without its id, nor its holds) */
const isQmFile = (name: string) => QM_FILES.has(name) || isHoldMark(name);

export type OpResult = { ok: true; message: string; id?: string } | { ok: false; message: string };

const fail = (message: string): OpResult => ({ ok: false, message });

/** BullMQ's states of a job waiting in the queue, not yet taken by a worker. */
const QUEUED_NOT_TAKEN = new Set(['waiting', 'prioritized', 'delayed']);

/** An array whose folder is still in QM_qJobs, and its tasks not taken by a worker yet. */
interface QueuedArray {
  name: string;
  template: string;
  tasks: Array<{ id: string; job: Job<QueuedJob>; data: QueuedJob }>;
}

const heldLine = (actor: Actor) => `held by ${actor.user} at ${new Date().toISOString()}\n`;

/** Back in the queue without its hold; still waiting for `beginAt` if that is ahead. How long it waits (ms). */
async function releaseJob(job: Job<QueuedJob>, beginAt: number | undefined): Promise<number> {
  const { held: _held, beginAt: _begin, ...rest } = job.data;
  await job.updateData(beginAt === undefined ? rest : { ...rest, beginAt });
  const waitMs = beginAt === undefined ? 0 : beginAt - Date.now();
  // no longer delayed: a worker took it meanwhile (its gate saw the new data)
  await (waitMs > 0 ? job.changeDelay(waitMs) : job.promote()).catch(() => undefined);
  return waitMs;
}

/** `each` over `items`, a hundred at a time (their Redis commands go out together). */
async function inChunks<T, R>(items: readonly T[], each: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 100) out.push(...(await Promise.all(items.slice(i, i + 100).map(each))));
  return out;
}

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

  /** Holds a queued job (`scontrol hold`); an array's name: every queued task of it. */
  async hold(name: string, actor: Actor): Promise<OpResult> {
    const array = await this.queuedArray(name, actor, 'hold');
    if (array) return 'message' in array ? array : this.holdArray(array, actor);
    const found = await this.queuedJob(name, actor, 'hold');
    if ('message' in found) return found;
    const { id, data, mark } = found;
    if (data.held) return { ok: true, message: 'already held' };
    try {
      await fs.writeFile(mark, heldLine(actor));
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

  /** The array's mark first (its tasks queued again after a wiped Redis come held), then each queued task. */
  private async holdArray(array: QueuedArray, actor: Actor): Promise<OpResult> {
    try {
      await fs.writeFile(path.join(array.template, HOLD_MARK), heldLine(actor));
    } catch (err) {
      return fail(`${array.name}: cannot hold it: ${(err as Error).message}`);
    }
    const until = Date.now() + HELD_DELAY_MS;
    const held = await inChunks(array.tasks, ({ id, data }) => (data.held ? Promise.resolve(false) : this.lifecycle.store.holdQueued(id, { ...data, held: true }, until)));
    const count = held.filter(Boolean).length;
    this.log.info({ job: array.name }, `held by ${actor.user}: ${count} queued task(s)`);
    return { ok: true, message: `held until qm release: ${count} queued task(s)${count < array.tasks.length ? ` (${array.tasks.length - count} held already or starting)` : ''}` };
  }

  /**
   * Releases a held job (`scontrol release`); it still waits for its begin
   * time. `now` (Bull Board's Promote): it may start at once, begin time or not.
   * An array's name: every held task of it.
   */
  async release(name: string, actor: Actor, opts: { now?: boolean } = {}): Promise<OpResult> {
    const array = await this.queuedArray(name, actor, 'release');
    if (array) return 'message' in array ? array : this.releaseArray(array, actor);
    const found = await this.queuedJob(name, actor, 'release');
    if ('message' in found) return found;
    const { job, data, mark } = found;
    const beginAt = opts.now ? undefined : data.beginAt;
    if (!data.held && beginAt === data.beginAt) return fail(`${name} is not held`);
    await fs.rm(mark, { force: true });
    const waitMs = await releaseJob(job, beginAt);
    this.log.info({ job: name }, `released by ${actor.user}${waitMs > 0 ? `; begins at ${new Date(beginAt!).toISOString()}` : ''}`);
    return { ok: true, message: waitMs > 0 ? `released; it begins at ${new Date(beginAt!).toISOString()}` : 'released' };
  }

  /** The array's marks first (its own and its tasks'), then each held task. */
  private async releaseArray(array: QueuedArray, actor: Actor): Promise<OpResult> {
    const marks = (await fs.readdir(array.template).catch(() => [] as string[])).filter(isHoldMark);
    await Promise.all(marks.map((e) => fs.rm(path.join(array.template, e), { force: true })));
    const held = array.tasks.filter(({ data }) => data.held);
    await inChunks(held, ({ job, data }) => releaseJob(job, data.beginAt));
    if (held.length === 0) return fail(`${array.name}: no task of it is held`);
    this.log.info({ job: array.name }, `released by ${actor.user}: ${held.length} task(s)`);
    return { ok: true, message: `released: ${held.length} task(s)` };
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
        filter: (src) => !(path.dirname(src) === folder && isQmFile(path.basename(src))),
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

  /** The queued BullMQ job of `name` that `actor` may hold or release, and the file that keeps its hold. */
  private async queuedJob(name: string, actor: Actor, action: string) {
    const view = await this.model.current(name);
    if (!view) return fail(`${name}: no such job`);
    if (view.state !== 'queued' || !view.id) return fail(`${name} is ${view.state === 'queued' ? 'not queued yet (still arriving)' : view.state}: only a queued job can be ${action === 'hold' ? 'held' : 'released'}`);
    if (view.phase === 'starting') return fail(`${name} is starting: too late to ${action} it`);
    const no = await refusalFor(this.model, actor, view, action);
    if (no) return fail(no);
    const job = await this.lifecycle.store.job(view.id);
    if (!job) return fail(`${name} is no longer queued`);
    const { layout } = this.lifecycle;
    const array = job.data.array;
    // a task without a folder of its own: its mark is in its array's folder
    const mark = array && !(await exists(path.join(layout.queued, name)))
      ? path.join(layout.queued, array.name, `${TASK_HOLD_MARK_PREFIX}${array.index}`)
      : path.join(layout.queued, name, HOLD_MARK);
    return { id: view.id, job, data: job.data, mark };
  }

  /** `name` as an array with tasks still queued (its folder in QM_qJobs), that `actor` may hold or release; undefined: not such an array. */
  private async queuedArray(name: string, actor: Actor, action: string): Promise<QueuedArray | OpResult | undefined> {
    const { store, layout } = this.lifecycle;
    const info = await store.arrayInfo(name);
    const template = path.join(layout.queued, name);
    if (!info) return undefined;
    if ((await store.queuedId(name)) !== info.id) {
      // every task has started (unless that name is now a job's own)
      if (await this.model.current(name)) return undefined;
      return fail(`${name}: no task of the array is queued any more: only queued tasks can be ${action === 'hold' ? 'held' : 'released'}`);
    }
    const no = refusal(actor, await ownerOf(template).catch(() => undefined), name, action);
    if (no) return fail(no);
    const names = info.indices.map((i) => taskName(name, i));
    const ids = (await store.queuedIds(names)).filter((id): id is string => id !== undefined);
    const jobs = await inChunks(ids, (id) => store.job(id));
    const states = await inChunks(jobs, (job) => job?.getState() ?? Promise.resolve('unknown'));
    const tasks = jobs.flatMap((job, i) => (job?.data.array?.id === info.id && QUEUED_NOT_TAKEN.has(states[i]!) ? [{ id: job.id!, job, data: job.data }] : []));
    return { name, template, tasks };
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
